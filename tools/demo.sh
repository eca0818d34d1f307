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

step ledgerflow-bench generate --store "$store" --events 30000
"$bin/ledgerflow-bench" generate --store "$store" --events 30000

step ledgerflow stats
lf stats

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
