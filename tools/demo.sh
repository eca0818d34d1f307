#!/usr/bin/env bash
# `make demo`: a fresh store with a realistic pipeline history, then a look at it with the CLI.
# The store is kept so that you can explore it afterwards (the path is printed last).
set -euo pipefail
bin="$(cd "$1" && pwd)"
store="$2"
lf() { "$bin/ledgerflow" "$@"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

rm -rf "$store" "$(dirname "$store")/data"
mkdir -p "$(dirname "$store")"
step ledgerflow init --store "$store"
lf init --store "$store"
export LEDGERFLOW_STORE="$store"

# The instruction book first: the seeds' JSON job and a richer YAML example, as events.
step ledgerflow apply fixtures/seed/job_101.json fixtures/examples/churn --message "initial import"
lf apply fixtures/seed/job_101.json fixtures/examples/churn --message "initial import"

step ledgerflow apply fixtures/seed/job_101.json fixtures/examples/churn "   # unchanged: appends nothing"
lf apply fixtures/seed/job_101.json fixtures/examples/churn

# A change to the model and a job, applied from a copy of the example.
changed=$(mktemp -d)
trap 'rm -rf "$changed"' EXIT
cp -r fixtures/examples/churn/. "$changed/"
sed -i 's/C: 1.0, max_iter: 200/C: 0.5, max_iter: 200/' "$changed/ml.yaml"
sed -i 's/attempts: 3, backoff: 30s/attempts: 5, backoff: 1m/' "$changed/jobs.yaml"
step ledgerflow apply fixtures/seed/job_101.json CHANGED-COPY --message "stronger regularisation, more retries"
lf apply fixtures/seed/job_101.json "$changed" --message "stronger regularisation, more retries"

step ledgerflow catalog
lf catalog
step ledgerflow catalog job 101
lf catalog job 101
step ledgerflow catalog history model churn
lf catalog history model churn
step ledgerflow catalog model churn --at-seq 24 "   # as it was before the change"
lf catalog model churn --at-seq 24

# Runs. Local stand-ins for the seed's systems: SQL Server is data/sql_server.sqlite, the lake
# (ADLS Gen2) is data/lake/, Azure SQL is data/azure_sql.sqlite, all next to the store.
project=$(dirname "$store")
mkdir -p "$project/data"
sqlite3 "$project/data/sql_server.sqlite" "
  CREATE TABLE customer_transactions (transaction_id INTEGER PRIMARY KEY, customer_id INTEGER, client_code TEXT, amount REAL, ts TEXT);
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
  INSERT INTO customer_transactions SELECT i, 1 + (i * 7919) % 400, CASE i % 3 WHEN 0 THEN 'NL01' WHEN 1 THEN 'BE02' ELSE 'DE03' END,
         round(((i * 104729) % 50000) / 100.0 - 20, 2), datetime('2026-11-01', '+' || (i % 20) || ' days') FROM n;"
echo "generated $project/data/sql_server.sqlite: 2,000 customer transactions"

step ledgerflow run 101 "   # the seed job: ETL runs; inference comes with the ML stages"
(cd "$project" && lf run 101) || echo "(exit $?: run 1 failed, as expected until the ML stages land)"
step ledgerflow status 1
lf status 1

step ledgerflow apply fixtures/demo/lake_to_warehouse.yaml
lf apply fixtures/demo/lake_to_warehouse.yaml
step ledgerflow run lake_to_warehouse
(cd "$project" && lf run lake_to_warehouse)
step ledgerflow status 2
lf status 2
step ledgerflow logs 2 summary
lf logs 2 summary
step ledgerflow runs
lf runs

step ledgerflow-bench generate --store "$store" --events 30000
"$bin/ledgerflow-bench" generate --store "$store" --events 30000

step ledgerflow stats
lf stats

step ledgerflow projection rebuild catalog
lf projection rebuild catalog
step ledgerflow projection list
lf projection list

run=$(lf events --type RunRequested --limit 1 --json | sed -E 's/.*"stream":"([^"]*)".*/\1/')
step ledgerflow events --stream "$run"
lf events --stream "$run"

step ledgerflow events --type ThresholdCrossed --limit 3
lf events --type ThresholdCrossed --limit 3

step ledgerflow events --type PredictionRecorded --limit 1 --json
lf events --type PredictionRecorded --limit 1 --json

step ledgerflow audit head
anchor=$(lf audit head)
echo "$anchor"
step ledgerflow audit verify --anchor "$anchor"
lf audit verify --anchor "$anchor"

echo
echo "Explore it: export LEDGERFLOW_STORE=$store; ledgerflow events --help"
echo "store: $store"
