#!/usr/bin/env bash
# `make demo`: the churn scenario end to end on a fresh store (its scoring also on Spark), then a tour of the catalog on a
# second store, seed 000's job as written on a third, seed 004's ingest scenario on a fourth, seed
# 003's semantic models (a for_each over a config table) on a fifth, then automation on a sixth (a schedule
# catching up, a file sensor, a failed run mailed to its owners through a local SMTP sink,
# health). The stores are kept so that you can explore them (the paths are printed last).
set -euo pipefail
bin="$(cd "$1" && pwd)"
store="$2"
repo="$(pwd)"
lf() { "$bin/ledgerflow" "$@"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
project=$(dirname "$store")

rm -rf "$store" "$project/data" "$project/catalog-tour"
mkdir -p "$project/data"
step ledgerflow init --store "$store"
lf init --store "$store"
export LEDGERFLOW_STORE="$store"
cd "$project"

# The source system: SQL Server is data/sql_server.sqlite, the lake (ADLS Gen2) data/lake/, the
# warehouse (Azure SQL) data/azure_sql.sqlite, all next to the store.
sqlite3 data/sql_server.sqlite < "$repo/fixtures/demo/churn/customers.sql"
echo "generated data/sql_server.sqlite: 400 customers, 2,000 transactions"

step ledgerflow apply fixtures/demo/churn "   # seed job 101 (with its model), sources, outputs, feature spec, model, monitors, jobs, trigger"
lf apply "$repo/fixtures/demo/churn" --message "churn scenario"

step ledgerflow run churn_training "   # ETL from SQLite to the lake, features fitted on the training rows, model v1"
lf run churn_training
step ledgerflow models
lf models

step ledgerflow run 101 "   # the seed job: ETL SQL Server → lake, inference with churn@production (every prediction an event), storage → Azure SQL; the trigger fires per customer at risk"
lf run 101
step ledgerflow runs
lf runs
step ledgerflow events --type ThresholdCrossed --limit 2
lf events --type ThresholdCrossed --limit 2
followup=$(lf runs --job retention_followup --limit 1 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["run"])')
step ledgerflow status "$followup"
lf status "$followup"
step ledgerflow logs "$followup" offer
lf logs "$followup" offer
step sqlite3 data/azure_sql.sqlite "select … from churn_predictions order by churn_probability desc limit 5"   # what storage_3 loaded
sqlite3 -header -column data/azure_sql.sqlite \
  "select customer_id, client_code, plan, round(churn_probability, 4) as churn_probability, churn_label, model_version from churn_predictions order by churn_probability desc limit 5"

# The model swap: a new definition (stronger regularisation), a new version, then the alias moves.
changed=$(mktemp -d)
trap 'rm -rf "$changed"' EXIT
cp -r "$repo/fixtures/demo/churn/." "$changed/"
sed -i 's/hyperparameters: {C: 1.0, max_iter: 100}/hyperparameters: {C: 0.2, max_iter: 100}/' "$changed/ml.yaml"
step ledgerflow apply CHANGED-COPY --message "churn: stronger regularisation"
lf apply "$changed" --message "churn: stronger regularisation"
step ledgerflow run churn_training "   # model v2; production still points at v1"
lf run churn_training
step ledgerflow models diff churn 1 2
lf models diff churn 1 2
step ledgerflow models promote churn 2 --alias production "   # no job definition changes"
lf models promote churn 2 --alias production --reason "higher holdout accuracy"
step ledgerflow run 101 "   # scores with v2 now"
lf run 101
scoring=$(lf runs --job 101 --limit 1 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["run"])')
step ledgerflow status "$scoring"
lf status "$scoring"
step ledgerflow models show churn
lf models show churn

# The same scoring on Apache Spark: engine spark on a local master, the model's artifact applied by
# the shipped ledgerflow_spark.py, the submission recorded before it starts, every prediction an event.
step ledgerflow apply fixtures/demo/spark "   # churn_scoring's inference with engine: spark (local[2]); its scores partitioned by plan"
lf apply "$repo/fixtures/demo/spark" --message "scoring on Spark"
step ledgerflow run churn_scoring "   # in process, for comparison"
lf run churn_scoring > /dev/null 2>&1
here=$(lf runs --job churn_scoring --limit 1 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["run"])')
step ledgerflow run churn_scoring_spark "   # spark-submit under the attempt's idempotency key; predictions recorded while it runs"
lf run churn_scoring_spark 2>/dev/null
spark=$(lf runs --job churn_scoring_spark --limit 1 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["run"])')
step ledgerflow events --stream "application/run$spark-score-a1" "   # the submission (recorded before spark-submit started) and the application's end"
lf events --stream "application/run$spark-score-a1" | cut -c1-220
step "compare the PredictionRecorded events of runs $here (in process) and $spark (Spark)"
lf events --stream "predictions/$here" --json > "$changed/here.jsonl"
lf events --stream "predictions/$spark" --json > "$changed/spark.jsonl"
python3 "$repo/tools/compare-predictions.py" "$changed/here.jsonl" "$changed/spark.jsonl"
step ls data/lake/churn_scores_spark "   # written by Spark in the lake layout; the storage stage read it in process"
ls data/lake/churn_scores_spark

step ledgerflow stats
lf stats
anchor=$(lf audit head)

# A tour of the instruction book on a second store: the seeds' JSON job and an example of every
# kind, changes as events, the catalog as of any moment, and a generated pipeline history.
tour="$project/catalog-tour/.ledgerflow"
export LEDGERFLOW_STORE="$tour"
mkdir -p "$(dirname "$tour")"
step ledgerflow init --store "$tour" "   # the catalog tour"
lf init --store "$tour"
step ledgerflow apply fixtures/seed/job_101.json fixtures/examples/churn --message "initial import"
lf apply "$repo/fixtures/seed/job_101.json" "$repo/fixtures/examples/churn" --message "initial import"
step ledgerflow apply fixtures/seed/job_101.json fixtures/examples/churn "   # unchanged: appends nothing"
lf apply "$repo/fixtures/seed/job_101.json" "$repo/fixtures/examples/churn"
rm -rf "$changed"/* && cp -r "$repo/fixtures/examples/churn/." "$changed/"
sed -i 's/C: 1.0, max_iter: 200/C: 0.5, max_iter: 200/' "$changed/ml.yaml"
sed -i 's/attempts: 3, backoff: 30s/attempts: 5, backoff: 1m/' "$changed/jobs.yaml"
step ledgerflow apply fixtures/seed/job_101.json CHANGED-COPY --message "stronger regularisation, more retries"
lf apply "$repo/fixtures/seed/job_101.json" "$changed" --message "stronger regularisation, more retries"
step ledgerflow catalog
lf catalog
step ledgerflow catalog job 101
lf catalog job 101
step ledgerflow catalog history model churn
lf catalog history model churn
step ledgerflow catalog model churn --at-seq 24 "   # as it was before the change"
lf catalog model churn --at-seq 24
step ledgerflow-bench generate --store "$tour" --events 30000
"$bin/ledgerflow-bench" generate --store "$tour" --events 30000
step ledgerflow projection rebuild catalog
lf projection rebuild catalog
step ledgerflow projection list
lf projection list

# Back to the churn store: what the log answers for an auditor.
export LEDGERFLOW_STORE="$store"
cd "$project"
step ledgerflow lineage model:churn@production --downstream --depth 2 "   # what the production model scored"
lf lineage model:churn@production --downstream --depth 2
step ledgerflow lineage dataset:churn_predictions --column churn_probability --depth 3 "   # one column, back through the stages"
lf lineage dataset:churn_predictions --column churn_probability --depth 3
step ledgerflow audit export --format openlineage "| wc -l   # a RunEvent per stage transition, for Marquez or any OpenLineage consumer"
lf audit export --format openlineage | wc -l
step ledgerflow why "$followup" "   # why the follow-up ran: rule, prediction, model version, training run, who started it"
lf why "$followup"
step ledgerflow lineage dataset:churn_predictions --upstream "   # where the stored predictions came from"
lf lineage dataset:churn_predictions --upstream
step ledgerflow audit verify --anchor "$anchor" "   # the hash chain is intact, and the log up to the anchor unchanged"
lf audit verify --anchor "$anchor"

# Seed 000's job as written (fixtures/seed/job_101_seed000.json, a reconstruction) on a store of its
# own: its Inference row's script is the scorer, its Storage row writes the Delta Table stand-in.
seeddir="$project/seed000"
rm -rf "$seeddir"
mkdir -p "$seeddir/data"
cp "$project/data/sql_server.sqlite" "$seeddir/data/"
export LEDGERFLOW_STORE="$seeddir/.ledgerflow"
cd "$seeddir"
lf init --store "$LEDGERFLOW_STORE" > /dev/null
step ledgerflow apply fixtures/seed/job_101_seed000.json "   # byte for byte, on a store of its own: \"script\": \"predict_churn.py\", \"destination\": \"Delta Table\", \"table\": \"churn_predictions\""
lf apply "$repo/fixtures/seed/job_101_seed000.json" --message "seed 000 as written"
step ledgerflow run 101 "&& ledgerflow run 101   # predict_churn.py scores every customer (each prediction an event); each run a new version of the Delta table"
lf run 101 > /dev/null
lf run 101 > /dev/null
step ledgerflow status 2
lf status 2
step "ls data/delta/churn_predictions; ledgerflow events --stream dataset/churn_predictions --json | …   # the folder's versions are the log's"
ls data/delta/churn_predictions
lf events --stream dataset/churn_predictions --json | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line); p = e["payload"]
    print("dataset churn_predictions v%d: %d rows at %s" % (e["streamVersion"], p["rows"], p["location"]))'
cd "$project"

# Seed 004 as a scenario (fixtures/scenarios/seed004) on a store of its own: batches land in a
# staging area with a .done marker; a sensor runs 10-ingest-new-files per batch, whose stages run
# the child jobs 11-initialize (files, verified), 12-convert (script), 13-pii (masking) and
# 14-workbook (script).
s4dir="$project/seed004"
rm -rf "$s4dir"
mkdir -p "$s4dir/staging"
cp -r "$repo/fixtures/scenarios/seed004" "$s4dir/seed004"
echo "demo-salt-$$" > "$s4dir/seed004/salt.txt"
export LEDGERFLOW_STORE="$s4dir/.ledgerflow"
cd "$s4dir"
lf init --store "$LEDGERFLOW_STORE" > /dev/null
step ledgerflow apply seed004/pipelines.yaml "   # seed 004's pipelines, on a store of its own"
lf apply seed004/pipelines.yaml --message "seed 004" | tail -n 1
step ledgerflow run 00-generate-ingest-workload "(twice)   # what the hourly schedule does: a batch under a new GUID, then its .done marker"
lf run 00-generate-ingest-workload > /dev/null 2>&1
lf run 00-generate-ingest-workload > /dev/null 2>&1
ls staging
step ledgerflow work --once "   # the sensor finds the markers not handled yet (the engine \`run\` hosts senses too); each batch's parent runs its four children in order"
lf work --once 2>&1 | grep -E "arrived|idle" || true
step ledgerflow runs
lf runs
step "cat processing/*/Workbook/summary.csv; head -n 2 processing/*/Masked/*.csv   # masked before anyone works with it"
for b in processing/*/; do echo "$b"; cat "$b/Workbook/summary.csv"; head -n 2 "$b"/Masked/*.csv; done
cd "$project"

# Seed 003 as a scenario (fixtures/scenarios/seed003) on a store of its own: the config table's
# active modules drive a for_each; each module's data is read from its path (lake folders of CSV
# files, a SQLite database for Azure SQL), mapped by its product's column mapping, and the semantic
# models are published to ai_workstation/ partitioned by module and client; the broken module's
# team and the parent's owner are mailed through a local SMTP sink.
s3dir="$project/seed003"
rm -rf "$s3dir"
mkdir -p "$s3dir"
cp -r "$repo/fixtures/scenarios/seed003" "$s3dir/seed003"
export LEDGERFLOW_STORE="$s3dir/.ledgerflow"
cd "$s3dir"
python3 "$repo/tools/mail-sink.py" --dir "$s3dir/mailbox" --port 0 > "$s3dir/mail-sink.out" 2>&1 &
s3sink=$!
trap 'kill "$s3sink" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^LISTENING' "$s3dir/mail-sink.out" && break; sleep 0.1; done
s3port=$(awk '/^LISTENING/ {print $2}' "$s3dir/mail-sink.out")
if [ -z "$s3port" ]; then cat "$s3dir/mail-sink.out" >&2; echo "the SMTP sink did not start (make test-deps installs aiosmtpd)" >&2; exit 1; fi
printf 'kind: notifier\nname: mail\ntype: smtp\nhost: 127.0.0.1\nport: %s\nfrom: ledgerflow@example.com\n' "$s3port" > notifier.yaml
step python3 seed003/generate_lake.py modules "   # the module data: lake folders (ADLS Gen2) and lending.sqlite (Azure SQL); claims is never delivered"
python3 seed003/generate_lake.py modules
lf init --store "$LEDGERFLOW_STORE" > /dev/null
step ledgerflow apply seed003/pipelines.yaml notifier.yaml "   # the config table, each product's column mapping, the teams, the jobs; a notifier for the local sink"
lf apply seed003/pipelines.yaml notifier.yaml --message "seed 003" | tail -n 1
step ledgerflow run 30-semantic-models "   # a for_each over the active modules, 3 at a time, going on after a failure; then the publish"
lf run 30-semantic-models 2>/dev/null | grep -E "modules|publish|run 1 " || true
step ledgerflow status 1 "   # each item with its run and outcome"
lf status 1 || true
step "find ai_workstation -name '*.csv' | sort; head -n 3 ai_workstation/module_name=cards/client_code=NL01/*.csv"
find ai_workstation -name '*.csv' | sort
head -n 3 ai_workstation/module_name=cards/client_code=NL01/*.csv
step ledgerflow work --once "   # the engine delivers the outbox's messages"
lf work --once 2>&1 | grep -E "notification|idle" | head -n 6 || true
step "the mails: the failed module's product team, and data-platform's summary"
python3 - "$s3dir/mailbox" <<'EOF'
import email, email.policy, glob, json, os, sys
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    record = json.load(open(path))
    message = email.message_from_string(record["data"], policy=email.policy.default)
    print(f"--- to {', '.join(record['rcpt_tos'])}: {message['Subject']}")
    text = message.get_body(preferencelist=("plain",)).get_content()
    print("".join(l for l in text.splitlines(keepends=True) if "item" in l or "publish" in l or l.startswith("You are told")).rstrip())
EOF
kill "$s3sink" 2>/dev/null || true
trap - EXIT
cd "$project"

# Automation on a sixth store: a schedule that catches up on its missed ticks, a file sensor, a
# failed run's summary mailed to its owners through a local SMTP sink, and the service's health.
started=$(date +%s%N)
autodir="$project/automation"
auto="$autodir/.ledgerflow"
rm -rf "$autodir"
mkdir -p "$autodir/incoming"
sink_pid=""
work_pid=""
cleanup() {
  if [ -n "$work_pid" ]; then kill -TERM "$work_pid" 2>/dev/null || true; fi
  if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null || true; fi
  rm -rf "$changed"
}
trap cleanup EXIT
export LEDGERFLOW_STORE="$auto"
cd "$autodir"

step python3 tools/mail-sink.py --dir automation/mailbox --port 0 "&   # a local SMTP server (aiosmtpd) standing in for the company's; it keeps each message it receives"
python3 "$repo/tools/mail-sink.py" --dir "$autodir/mailbox" --port 0 > "$autodir/mail-sink.out" 2>&1 &
sink_pid=$!
for _ in $(seq 100); do grep -q '^LISTENING' "$autodir/mail-sink.out" && break; sleep 0.1; done
port=$(awk '/^LISTENING/ {print $2}' "$autodir/mail-sink.out")
if [ -z "$port" ]; then cat "$autodir/mail-sink.out" >&2; echo "the SMTP sink did not start (make test-deps installs aiosmtpd)" >&2; exit 1; fi
echo "the sink listens on 127.0.0.1:$port (pid $sink_pid; stopped when the demo ends)"

step ledgerflow init --store "$auto" "   # the automation store"
lf init --store "$auto"
cp -r "$repo/fixtures/demo/automation" "$autodir/definitions"
sed -i "s/^port: 2525\$/port: $port/" "$autodir/definitions/teams.yaml"
step ledgerflow apply fixtures/demo/automation "   # a copy with the sink's port: notifier, teams, a schedule every 2s (catch_up: all), a file sensor, their jobs"
lf apply "$autodir/definitions" --message "automation"
step sleep 5 "   # no engine runs: the schedule's ticks come and nobody runs them"
sleep 5
step ledgerflow work --once "   # an engine starts: every missed tick runs, oldest first (overlap: queue), then it exits when idle"
lf work --once
step ledgerflow schedules
lf schedules
step ledgerflow schedules ticks rates
lf schedules ticks rates

step "cp fixtures/demo/automation/orders-2026-12-04.csv incoming/ && echo 6 orders > incoming/orders-2026-12-04.done   # a batch lands, then its marker"
cp "$repo/fixtures/demo/automation/orders-2026-12-04.csv" incoming/
echo "6 orders" > incoming/orders-2026-12-04.done
step ledgerflow work --once "   # the sensor sees the marker and starts ingest_orders with its name; load succeeds, check fails; the owners are mailed"
lf work --once
step ledgerflow sensors arrivals orders_drop "   # the marker, its run, and the marker moved to processed/ once the run ended"
lf sensors arrivals orders_drop
ingest=$(lf runs --job ingest_orders --limit 1 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["run"])')
step ledgerflow status "$ingest"
lf status "$ingest"
step ledgerflow why "$ingest" "   # the sensor, the file, its size and time"
lf why "$ingest"

step ledgerflow notifications "   # the outbox: one message per owner team (the job's data-eng, the failed stage's finance), each sent once"
lf notifications
step "cat automation/mailbox/*.json   # what the SMTP sink received (headers, and the text part decoded)"
python3 - "$autodir/mailbox" <<'EOF'
import email, email.policy, glob, json, os, sys
files = sorted(glob.glob(os.path.join(sys.argv[1], "*.json")))
print(f"{len(files)} messages received")
for i, path in enumerate(files):
    record = json.load(open(path))
    message = email.message_from_string(record["data"], policy=email.policy.default)
    print(f"\n--- {os.path.basename(path)}: envelope to {', '.join(record['rcpt_tos'])}")
    for header in ("From", "To", "Subject", "Message-ID"):
        print(f"{header}: {message[header]}")
    text = message.get_body(preferencelist=("plain",)).get_content().rstrip()
    if i == 0:
        print()
        print(text)
    else:
        print("".join(line for line in text.splitlines(keepends=True) if line.startswith("You are told as")).rstrip())
EOF

step "ledgerflow work &   # the service, in the background"
"$bin/ledgerflow" work 2> "$autodir/work.log" &
work_pid=$!
for _ in $(seq 100); do lf health > /dev/null 2>&1 && break; sleep 0.1; done
step ledgerflow health
lf health
step kill -TERM "$work_pid" "   # systemd's stop: the engine finishes its step and exits 0"
kill -TERM "$work_pid"
rc=0
wait "$work_pid" || rc=$?
echo "ledgerflow work exited with status $rc; its last log lines:"
work_pid=""
tail -n 4 "$autodir/work.log"
ended=$(date +%s%N)
echo
echo "the automation part took $(( (ended - started) / 1000000 )) ms (including the 5 s without an engine)"

echo
echo "Explore them: export LEDGERFLOW_STORE=$store; ledgerflow models show churn; ledgerflow events --help"
echo "store: $store"
echo "catalog tour: $tour"
echo "automation: $auto (mailbox: $autodir/mailbox)"
echo "seed 000 as written: $seeddir/.ledgerflow"
echo "seed 004: $s4dir/.ledgerflow"
echo "seed 003: $s3dir/.ledgerflow (mailbox: $s3dir/mailbox)"

# The operations console over the churn store: started, checked, and its URL printed; `make
# console` serves it until Ctrl-C.
step ledgerflow serve --port 0 "   # the console: JSON API under /api/, live pages (stopped again at the end of the demo; make console keeps it)"
"$bin/ledgerflow" serve --store "$store" --port 0 > "$project/console.out" 2>&1 &
console_pid=$!
for _ in $(seq 100); do grep -q '^console: ' "$project/console.out" && break; sleep 0.1; done
url=$(awk '/^console: / {print $2}' "$project/console.out")
if [ -z "$url" ]; then cat "$project/console.out" >&2; kill "$console_pid" 2>/dev/null || true; echo "the console did not start" >&2; exit 1; fi
curl -s "${url}api/health"; echo
kill -TERM "$console_pid"; wait "$console_pid" || true
echo "console: $url"
