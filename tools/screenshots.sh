#!/usr/bin/env bash
# `make screenshots`: the README's pictures of the console, taken with the browser tests' tooling
# (headless Chromium through tools/console-browser.py) over the demo's seed 003 store.
set -euo pipefail
bin="$1"
store="$2"
out="docs/screenshots"
mkdir -p "$out"
"$bin/ledgerflow" serve --store "$store" --port 0 > /tmp/ledgerflow-screenshots.out 2>&1 &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^console: ' /tmp/ledgerflow-screenshots.out && break; sleep 0.1; done
url=$(awk '/^console: / {print $2}' /tmp/ledgerflow-screenshots.out)
python3 tools/console-browser.py screenshot "$url" "$out/runs.png" --width 1200 --height 700
python3 tools/console-browser.py screenshot "${url}runs/1" "$out/run.png" --width 1200 --height 900
