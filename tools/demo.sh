#!/usr/bin/env bash
# `make demo`: a fresh store with a realistic pipeline history, then a look at it with the CLI.
# The store is kept so that you can explore it afterwards (the path is printed last).
set -euo pipefail
bin="$1"
store="$2"
lf() { "$bin/ledgerflow" "$@"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

rm -rf "$store"
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
