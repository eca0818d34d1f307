#!/usr/bin/env bash
# `make chaos`: what a hostile world does to a store, run for real against the built binary. Not in
# CI (it takes minutes and kills processes on purpose).
#
#   tools/chaos.sh BIN_DIR kill-loop [KILLS]   kill -9 the engine KILLS times (default 200) while runs
#                                              are requested and run, then check the store
#   tools/chaos.sh BIN_DIR automation [KILLS]  kill -9 the engine KILLS times (default 200) while a
#                                              schedule ticks every second, markers arrive and every
#                                              run fails to a team mailed through a local SMTP sink;
#                                              then every tick, marker and notification is checked
#                                              exactly once (CHAOS_SEED=N replays the kill moments)
#   tools/chaos.sh BIN_DIR writers [N]         8 processes appending N run requests each at once
#   tools/chaos.sh BIN_DIR hostile [NAME...]   the hostile-input corpus, fixtures/hostile/
#   tools/chaos.sh BIN_DIR all                 all four
#
# Exit 0 when every check held; each failed check prints one line starting "FAIL".
set -uo pipefail
bin="$(cd "${1:?usage: tools/chaos.sh BIN_DIR kill-loop|automation|writers|hostile|all}" && pwd)"
what="${2:-all}"
shift 2 || shift $#
repo="$(pwd)"
LF="$bin/ledgerflow"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# ---------------------------------------------------------------------------------------------
# The kill loop. A job of an etl stage, three script stages that tick into a marks file while they
# run and an upsert into SQLite; runs are requested (--detach) while an engine (`ledgerflow work`)
# is started and killed with SIGKILL at random moments. Then one engine finishes everything, and
# the checks say whether anything was lost, duplicated or run twice at once:
#   - every run id a request returned is in the log, and every run ended exactly once;
#   - `audit verify` passes (chain, and indexes when the binary has --indexes);
#   - seqs are contiguous from 1 to the head;
#   - every attempt has at most one outcome, and attempt numbers of a stage count 1, 2, 3…;
#   - no tick of attempt k of a stage is written after attempt k+1 of it started (an orphaned
#     child of a killed engine kept running while its retry ran);
#   - the SQLite output holds each key once, with the last run's value.
kill_loop() {
    local kills="${1:-200}"
    local dir
    dir="$(mktemp -d /tmp/lf-chaos.XXXXXX)"
    echo "kill loop: $kills kills in $dir"
    (
        cd "$dir" || exit 1
        mkdir -p data
        python3 - <<'EOF'
with open("data/in.csv", "w") as f:
    f.write("id,value\n")
    for i in range(1, 501):
        f.write(f"{i},{i * 3}\n")
EOF
        cat > chaos.yaml <<'EOF'
kind: source
name: input
type: csv
path: data/in.csv
---
kind: output
name: lake
type: jsonl
path: data/lake
---
kind: output
name: warehouse
type: sqlite
database: data/warehouse.sqlite
table: facts
mode: upsert
keys: [id]
---
kind: job
name: chaos
stages:
  - name: extract
    type: etl
    source: input
    destination: lake
    retry: {attempts: 1000, backoff: 10ms, max_backoff: 50ms}
  - name: tick_a
    type: script
    after: [extract]
    command: ["sh", "-c", "for i in 1 2 3 4 5 6; do echo \"tick ${run} ${stage} ${attempt} $(date +%s%N)\" >> data/marks; sleep 0.05; done"]
    retry: {attempts: 1000, backoff: 10ms, max_backoff: 50ms}
  - name: tick_b
    type: script
    after: [extract]
    command: ["sh", "-c", "for i in 1 2 3 4 5 6; do echo \"tick ${run} ${stage} ${attempt} $(date +%s%N)\" >> data/marks; sleep 0.05; done"]
    retry: {attempts: 1000, backoff: 10ms, max_backoff: 50ms}
  - name: load
    type: storage
    after: [tick_a, tick_b]
    inputs: [lake]
    destination: warehouse
    retry: {attempts: 1000, backoff: 10ms, max_backoff: 50ms}
EOF
        "$LF" init --store .ledgerflow >/dev/null || exit 1
        "$LF" apply chaos.yaml --store .ledgerflow >/dev/null || exit 1
        : > requested
        local i engine
        for ((i = 1; i <= kills; i++)); do
            if ((i % 4 == 1)); then
                "$LF" run chaos --detach --json --store .ledgerflow 2>>errors |
                    python3 -c 'import json,sys; print(json.load(sys.stdin)["run"])' >> requested
            fi
            "$LF" work --store .ledgerflow >>engine.out 2>&1 &
            engine=$!
            sleep "0.$(printf '%03d' $((RANDOM % 400 + 20)))"
            kill -9 "$engine" 2>/dev/null
            wait "$engine" 2>/dev/null
            ((i % 25 == 0)) && echo "  $i kills"
        done
        # One engine sees everything to its end.
        "$LF" work --store .ledgerflow >>engine.out 2>&1 &
        engine=$!
        local deadline=$((SECONDS + 600))
        while ((SECONDS < deadline)); do
            if "$LF" runs --json --store .ledgerflow --limit 100000 2>/dev/null | python3 -c '
import json, sys
runs = json.load(sys.stdin)
sys.exit(0 if runs and all(r["status"] in ("succeeded", "failed", "cancelled") for r in runs) else 1)'; then
                break
            fi
            sleep 1
        done
        kill -TERM "$engine" 2>/dev/null
        wait "$engine" 2>/dev/null
        exit 0
    ) || { fail "kill loop: setting up the store in $dir"; return; }

    local verify_args=()
    "$LF" audit verify --help 2>/dev/null | grep -q -- '--indexes' && verify_args=(--indexes)
    if ! out=$("$LF" audit verify "${verify_args[@]}" --store "$dir/.ledgerflow" 2>&1); then
        fail "kill loop: audit verify ${verify_args[*]}: $out"
    fi
    "$LF" events --json --store "$dir/.ledgerflow" > "$dir/events.json" 2>"$dir/events.err" ||
        fail "kill loop: events could not be listed: $(head -1 "$dir/events.err")"
    "$LF" runs --json --store "$dir/.ledgerflow" --limit 100000 > "$dir/runs.json" 2>/dev/null ||
        fail "kill loop: runs could not be listed"
    python3 - "$dir" <<'EOF' || failures=$((failures + 1))
import json, sqlite3, sys, collections
d = sys.argv[1]
bad = []
events = [json.loads(l) for l in open(f"{d}/events.json") if l.strip()]
runs = {r["run"]: r for r in json.load(open(f"{d}/runs.json"))}
requested = [l.strip() for l in open(f"{d}/requested") if l.strip()]

seqs = [e["seq"] for e in events]
if seqs != list(range(1, len(seqs) + 1)):
    bad.append(f"seqs are not contiguous from 1 ({len(seqs)} events)")
for r in requested:
    if r not in runs:
        bad.append(f"run {r} was requested (its id was returned) but is not in the log")
ended = collections.Counter()
outcomes = collections.Counter()
starts = collections.defaultdict(list)
for e in events:
    t, p, stream = e["type"], e.get("payload", {}), e.get("stream", "")
    if t in ("RunSucceeded", "RunFailed", "RunCancelled"):
        ended[stream] += 1
    if t in ("StageSucceeded", "StageFailed", "StageCancelled"):
        outcomes[(stream, p.get("stage"), p.get("attempt"))] += 1
    if t == "StageStarted":
        starts[(stream, p.get("stage"))].append(p.get("attempt"))
for stream, n in ended.items():
    if n != 1:
        bad.append(f"{stream} ended {n} times")
for r in runs.values():
    if r["status"] not in ("succeeded", "failed", "cancelled"):
        bad.append(f"run {r['run']} did not end (status {r['status']})")
    elif r["status"] != "succeeded":
        bad.append(f"run {r['run']} ended {r['status']}")
for key, n in outcomes.items():
    if n != 1:
        bad.append(f"{key} has {n} outcomes")
for key, attempts in starts.items():
    if attempts != list(range(1, len(attempts) + 1)):
        bad.append(f"{key} attempts started in the order {attempts}")

# No tick of attempt k after attempt k+1 of the same stage of the same run started.
ticks = collections.defaultdict(list)
for line in open(f"{d}/data/marks"):
    _, run, stage, attempt, ns = line.split()
    ticks[(run, stage, int(attempt))].append(int(ns))
overlaps = 0
for (run, stage, attempt), ts in ticks.items():
    nxt = ticks.get((run, stage, attempt + 1))
    if nxt and max(ts) > min(nxt):
        overlaps += 1
        if overlaps <= 5:
            bad.append(f"run {run} stage {stage}: attempt {attempt} still ran {(max(ts) - min(nxt)) / 1e6:.0f} ms after attempt {attempt + 1} started")
if overlaps > 5:
    bad.append(f"... {overlaps} overlapping attempts in all")

db = sqlite3.connect(f"{d}/data/warehouse.sqlite")
rows = db.execute("SELECT count(*), count(DISTINCT id) FROM facts").fetchone()
if rows != (500, 500):
    bad.append(f"the warehouse holds {rows[0]} rows for {rows[1]} keys, expected 500 and 500")

kills = sum(1 for e in events if e["type"] == "StageFailed" and e.get("payload", {}).get("reason") == "interrupted")
print(f"kill loop: {len(events)} events, {len(runs)} runs ({sum(r['status'] == 'succeeded' for r in runs.values())} succeeded), "
      f"{kills} attempts interrupted, {sum(len(v) for v in ticks.values())} ticks")
for b in bad:
    print("FAIL kill loop: " + b)
sys.exit(1 if bad else 0)
EOF
    echo "kill loop store kept in $dir"
}

# ---------------------------------------------------------------------------------------------
# Concurrent writers: 8 processes request runs at once (each request is one append, serialized by
# LMDB's writer lock across processes). Every request must get its own run and the seqs must stay
# contiguous.
writers() {
    local per="${1:-50}" dir w
    dir="$(mktemp -d /tmp/lf-writers.XXXXXX)"
    printf 'kind: job\nname: w\nstages:\n  - name: s\n    type: script\n    command: ["true"]\n' > "$dir/w.yaml"
    "$LF" init --store "$dir/.ledgerflow" >/dev/null && "$LF" apply "$dir/w.yaml" --store "$dir/.ledgerflow" >/dev/null ||
        { fail "writers: set-up in $dir"; return; }
    for ((w = 1; w <= 8; w++)); do
        (for ((i = 1; i <= per; i++)); do "$LF" run w --detach --json --store "$dir/.ledgerflow" || echo "request failed" >&2; done) \
            > "$dir/writer$w.out" 2> "$dir/writer$w.err" &
    done
    wait
    "$LF" events --json --store "$dir/.ledgerflow" > "$dir/events.json" || { fail "writers: events could not be listed"; return; }
    local bad=0
    python3 - "$dir" "$per" <<'EOF2' || bad=1
import glob, json, sys
d, per = sys.argv[1], int(sys.argv[2])
bad = []
events = [json.loads(l) for l in open(f"{d}/events.json") if l.strip()]
if [e["seq"] for e in events] != list(range(1, len(events) + 1)):
    bad.append("seqs are not contiguous")
returned = []
for f in glob.glob(f"{d}/writer*.out"):
    text = open(f).read()
    dec, i = json.JSONDecoder(), 0
    while i < len(text):
        while i < len(text) and text[i].isspace(): i += 1
        if i >= len(text): break
        obj, i = dec.raw_decode(text, i)
        returned.append(obj["run"])
errors = sum(len(open(f).read().splitlines()) for f in glob.glob(f"{d}/writer*.err"))
requested = [e["payload"]["run"] for e in events if e["type"] == "RunRequested"]
if len(returned) != 8 * per or sorted(returned) != sorted(requested) or len(set(requested)) != len(requested):
    bad.append(f"{len(returned)} run ids returned, {len(requested)} RunRequested ({len(set(requested))} distinct), {errors} error lines; expected {8 * per}")
print(f"writers: 8 processes x {per} requests: {len(events)} events, {len(set(requested))} runs")
for b in bad:
    print("FAIL writers: " + b)
sys.exit(1 if bad else 0)
EOF2
    if ((bad)); then failures=$((failures + 1)); echo "writers: store kept in $dir"; else rm -rf "$dir"; fi
}

# ---------------------------------------------------------------------------------------------
# The hostile-input corpus, fixtures/hostile/. A definition file NAME.yaml or NAME.json is applied
# to a fresh store: it must fail with exit 1, print the one line of NAME.expected first on stderr and
# append nothing. NAME.case is a bash file defining
#   prepare   set-up in a fresh folder (cwd) with a fresh store at ./.ledgerflow; must succeed
#   attack    the hostile command; its exit status and stderr are checked
#   check     optional: what must still hold afterwards (store intact, nothing appended, no file
#             created…); fails by returning non-zero after printing why
# and NAME.expected: line 1 the exit status, line 2 the first line on stderr (`$DIR` stands for the
# case's folder; apply follows its errors with a summary line). A signal (status > 128) always fails the case.
hostile() {
    local cases=("$@") c
    if ((${#cases[@]} == 0)); then
        for c in "$repo"/fixtures/hostile/*.expected; do cases+=("$(basename "$c" .expected)"); done
    fi
    local name dir status err expected_status expected_err passed=0 file
    for name in "${cases[@]}"; do
        dir="$(mktemp -d /tmp/lf-hostile.XXXXXX)"
        if [[ -f "$repo/fixtures/hostile/$name.case" ]]; then
            (
                cd "$dir" || exit 1
                export LEDGERFLOW_STORE="$dir/.ledgerflow" LF REPO="$repo"
                unset -f prepare attack check
                check() { :; }
                # `run_failure JOB ARGS...`: runs the job and prints, as its one stderr line, the
                # error of the first failed stage (runs print progress with times, which a corpus
                # can't hold).
                run_failure() {
                    "$LF" run "$@" --json >run.json 2>run.err; local s=$?
                    python3 -c 'import json; r=json.load(open("run.json")); print(next((st["error"] for st in r["stages"] if st.get("error")), ""))' >&2 2>/dev/null ||
                        cat run.err >&2
                    return $s
                }
                # shellcheck source=/dev/null
                source "$repo/fixtures/hostile/$name.case"
                "$LF" init >/dev/null || exit 90
                prepare >prepare.out 2>&1 || { echo "prepare failed: $(tail -1 prepare.out)"; exit 91; }
                attack >attack.out 2>attack.err
                echo $? > attack.status
                check >check.out 2>&1 || { echo "check failed: $(tail -1 check.out)"; exit 92; }
                exit 0
            )
            if (($? != 0)); then fail "hostile $name: set-up or check failed; see $dir"; continue; fi
            expected_status=$(sed -n 1p "$repo/fixtures/hostile/$name.expected")
            expected_err=$(sed -n 2p "$repo/fixtures/hostile/$name.expected")
            err="$(sed "s#$dir#\$DIR#g" "$dir/attack.err" | head -1)"
        else
            # A definition file: applying it fails with the one line of NAME.expected (its first
            # line on stderr) and appends nothing.
            file=$(ls "$repo/fixtures/hostile/$name".{yaml,json} 2>/dev/null | head -1)
            "$LF" init --store "$dir/.ledgerflow" >/dev/null
            "$LF" apply "fixtures/hostile/$(basename "$file")" --store "$dir/.ledgerflow" >/dev/null 2>"$dir/attack.err"
            echo $? > "$dir/attack.status"
            expected_status=1
            expected_err=$(cat "$repo/fixtures/hostile/$name.expected")
            err="$(head -1 "$dir/attack.err")"
            if [[ -n "$("$LF" events --store "$dir/.ledgerflow" 2>&1)" ]]; then fail "hostile $name: apply appended events"; continue; fi
        fi
        status=$(cat "$dir/attack.status")
        if ((status > 128)); then
            fail "hostile $name: killed by signal $((status - 128)); see $dir"
        elif [[ "$status" != "$expected_status" ]]; then
            fail "hostile $name: exit status $status, expected $expected_status: $(head -1 <<<"$err")"
        elif [[ "$err" != "$expected_err" ]]; then
            fail "hostile $name: stderr was"$'\n'"      $err"$'\n'"    expected"$'\n'"      $expected_err"
        else
            passed=$((passed + 1))
            rm -rf "$dir"
        fi
    done
    echo "hostile corpus: $passed of ${#cases[@]} cases held"
}

# ---------------------------------------------------------------------------------------------
# Exactly once under kills, for the automation (issue 17): `ledgerflow work` is killed with SIGKILL
# at random moments KILLS times (default 200; the seed is printed, CHAOS_SEED=N replays the kill
# moments) while a schedule fires every second (catch_up all, overlap allow), a background writer
# drops a new marker into a sensor's folder every 200–400 ms, and every run fails to an owner team
# whose smtp notifier is tools/mail-sink.py on 127.0.0.1. Then one `work --once` finishes what is
# due, and the checks are:
#   - every nominal tick (1 s apart) from the first to the last is in exactly one ScheduleTicked
#     or one ScheduleTickSkipped range (none skipped under these settings), the first is the first
#     after the apply and the last less than 1 s before the final engine's start; each tick has
#     exactly one run whose RunRequested names it, and no other scheduled run exists;
#   - every marker written has exactly one FileArrived and exactly one run (trigger sensor, file =
#     the marker), and no other file arrived;
#   - every run ended exactly once, failed, and has exactly one NotificationRequested for (team,
#     run, failed), with exactly one NotificationSent on record;
#   - the sink received every requested Message-ID at least once and nothing else; a copy beyond
#     the first comes only from an engine killed with that delivery in flight (after the server
#     accepted, before NotificationSent was committed; or its curl, which outlives it, finished
#     later), so no message has more copies than engines that lived between its request and its
#     record, and the copies beyond the first, summed, are at most the kills (an engine delivers
#     one message per notifier at a time; one notifier here);
#   - `audit verify` passes.
automation() {
    local kills="${1:-200}"
    local seed="${CHAOS_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
    local dir started
    dir="$(mktemp -d /tmp/lf-automation.XXXXXX)"
    started=$SECONDS
    echo "automation: $kills kills in $dir, seed $seed (CHAOS_SEED=$seed replays the kill moments)"
    mkdir -p "$dir/mailbox" "$dir/incoming"
    python3 "$repo/tools/mail-sink.py" --dir "$dir/mailbox" --port 0 > "$dir/sink.out" 2> "$dir/sink.err" &
    local sink=$! port="" i
    for ((i = 0; i < 200; i++)); do
        port=$(sed -n 's/^LISTENING \([0-9]*\)$/\1/p' "$dir/sink.out")
        [[ -n "$port" ]] && break
        sleep 0.1
    done
    if [[ -z "$port" ]]; then
        fail "automation: tools/mail-sink.py did not start (is aiosmtpd installed? make test-deps): $(head -3 "$dir/sink.err")"
        kill "$sink" 2>/dev/null; wait "$sink" 2>/dev/null
        return
    fi
    (
        cd "$dir" || exit 1
        cat > automation.yaml <<EOF
kind: notifier
name: mail
type: smtp
host: 127.0.0.1
port: $port
from: ledgerflow@example.com
timeout: 10s
backoff: 1s
max_backoff: 2s
---
kind: team
name: ops
emails: [ops@example.com]
---
kind: job
name: pulse
owner: ops
stages: [{name: beat, type: script, command: [sh, -c, "sleep 0.3; exit 1"]}]
---
kind: job
name: load
owner: ops
stages: [{name: take, type: script, command: [sh, -c, "sleep 0.2; exit 3"]}]
---
kind: schedule
name: every_second
job: pulse
every: 1s
catch_up: all
max_catch_up: 10000
overlap: allow
---
kind: sensor
name: drop
path: incoming
pattern: "*.done"
poll_interval: 100ms
job: load
EOF
        "$LF" init --store .ledgerflow >/dev/null || exit 1
        "$LF" apply automation.yaml --store .ledgerflow >/dev/null || exit 1
        # The marker writer: whole files renamed into place, every 200–400 ms, until told to stop.
        : > written
        (
            n=0
            while [[ ! -e stop-writing ]]; do
                sleep "0.$(printf '%03d' $((RANDOM % 201 + 200)))"
                n=$((n + 1))
                echo "marker $n" > "incoming/.m$n.tmp" && mv "incoming/.m$n.tmp" "incoming/m$n.done" && echo "m$n.done" >> written
            done
        ) &
        local writer=$! engine status k ms
        RANDOM=$seed
        : > exits
        : > lives
        local born
        for ((k = 1; k <= kills; k++)); do
            born=$(date +%s%6N)
            "$LF" work --store .ledgerflow >>engine.out 2>&1 &
            engine=$!
            ms=$((RANDOM % 1451 + 50))
            sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
            kill -9 "$engine" 2>/dev/null
            wait "$engine" 2>/dev/null
            status=$?
            echo "$status" >> exits
            echo "$born $(date +%s%6N)" >> lives
            ((k % 25 == 0)) && echo "  $k kills"
        done
        touch stop-writing
        wait "$writer"
        # One engine finishes what is due (the ticks due at its start, every marker, run and
        # notification).
        born=$(date +%s%6N)
        echo "$born" > once-started
        "$LF" work --once --store .ledgerflow > once.out 2>&1
        echo $? > once.status
        echo "$born $(date +%s%6N)" >> lives
        exit 0
    ) || { fail "automation: setting up the store in $dir"; kill "$sink" 2>/dev/null; wait "$sink" 2>/dev/null; return; }
    # A delivery a killed engine's curl still had under way lands before the count.
    sleep 1
    kill "$sink" 2>/dev/null
    wait "$sink" 2>/dev/null

    if [[ "$(cat "$dir/once.status")" != 0 ]]; then
        fail "automation: the final work --once exited $(cat "$dir/once.status"): $(tail -3 "$dir/once.out")"
    fi
    if ! out=$("$LF" audit verify --store "$dir/.ledgerflow" 2>&1); then
        fail "automation: audit verify: $out"
    fi
    "$LF" events --json --store "$dir/.ledgerflow" > "$dir/events.json" 2>"$dir/events.err" ||
        fail "automation: events could not be listed: $(head -1 "$dir/events.err")"
    python3 - "$dir" "$seed" "$((SECONDS - started))" <<'EOF' || failures=$((failures + 1))
import collections, email, glob, json, sys
from datetime import datetime, timezone
d, seed, elapsed = sys.argv[1], sys.argv[2], sys.argv[3]
bad = []
events = [json.loads(l) for l in open(f"{d}/events.json") if l.strip()]
markers = [l.strip() for l in open(f"{d}/written") if l.strip()]
exits = [int(l) for l in open(f"{d}/exits") if l.strip()]
once_started = int(open(f"{d}/once-started").read())
kills = sum(1 for s in exits if s == 137)
if kills != len(exits):
    bad.append(f"{len(exits) - kills} engines exited before they were killed (statuses {sorted(set(exits))}); see {d}/engine.out")

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

def micros(text):
    # Exact (no float): the nominals are compared to the microsecond.
    delta = datetime.fromisoformat(text.replace("Z", "+00:00")) - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds

def of(t):
    return [e for e in events if e["type"] == t]

# The schedule: an `every` schedule's ticks are the moment of its apply plus whole seconds (µs).
S = 1_000_000
recorded = collections.Counter()
ticks = [e["payload"] for e in of("ScheduleTicked") if e["payload"]["schedule"] == "every_second"]
skips = [e["payload"] for e in of("ScheduleTickSkipped") if e["payload"]["schedule"] == "every_second"]
for t in ticks:
    recorded[micros(t["nominal"])] += 1
for s in skips:
    first = micros(s["nominal"])
    last = micros(s["through"]) if "through" in s else first
    if s["count"] != (last - first) // S + 1:
        bad.append(f"skip range {s['nominal']} … {s.get('through')} says count {s['count']}")
    for t in range(first, last + 1, S):
        recorded[t] += 1
if not recorded:
    bad.append("the schedule never ticked")
else:
    lo, hi = min(recorded), max(recorded)
    grid = set(range(lo, hi + 1, S))
    doubles = sorted(t for t, n in recorded.items() if n != 1)
    gaps = sorted(grid - set(recorded))
    off = sorted(set(recorded) - grid)
    if doubles:
        bad.append(f"{len(doubles)} ticks recorded more than once, e.g. {doubles[:5]}")
    if gaps:
        bad.append(f"{len(gaps)} ticks never recorded between the first and the last, e.g. {gaps[:5]}")
    if off:
        bad.append(f"{len(off)} ticks off the 1 s grid, e.g. {off[:5]}")
    if skips:
        bad.append(f"{len(skips)} skip events (overlap allow, catch_up all within max_catch_up: none expected): {skips[:2]}")
    applied = [micros(e["recordedAt"]) for e in of("DefinitionApplied") if "every_second" in e["stream"]]
    if applied and not (applied[0] < lo <= applied[0] + S):
        bad.append(f"the first tick {lo} µs is not the first after the apply at {applied[0]} µs")
    if hi <= once_started - S:
        bad.append(f"the last tick {hi} µs is older than what was due when the final engine started ({once_started} µs)")
requested = [e["payload"] for e in of("RunRequested")]
scheduled = [r for r in requested if r["trigger"]["type"] == "schedule"]
sensed = [r for r in requested if r["trigger"]["type"] == "sensor"]
runs_of_tick = collections.defaultdict(list)
for r in scheduled:
    runs_of_tick[micros(r["trigger"]["tick"])].append(r["run"])
for t in ticks:
    n = micros(t["nominal"])
    if runs_of_tick.get(n) != [t.get("run")]:
        bad.append(f"tick {t['nominal']} names run {t.get('run')}; runs requested for it: {runs_of_tick.get(n)}")
if len(scheduled) != len(ticks):
    bad.append(f"{len(scheduled)} scheduled runs for {len(ticks)} ticks")

# The sensor.
arrivals = collections.defaultdict(list)
for e in of("FileArrived"):
    arrivals[e["payload"]["file"]].append(e["payload"])
sensed_runs = collections.defaultdict(list)
for r in sensed:
    sensed_runs[r["trigger"]["file"]].append(r["run"])
unknown = set(arrivals) - set(markers)
if unknown:
    bad.append(f"arrivals of files never written: {sorted(unknown)[:5]}")
for m in markers:
    a, rs = arrivals.get(m, []), sensed_runs.get(m, [])
    if len(a) != 1 or len(rs) != 1 or a[0].get("run") != rs[0]:
        bad.append(f"marker {m}: {len(a)} arrivals (runs {[x.get('run') for x in a]}), runs requested {rs}")
if len(requested) != len(scheduled) + len(sensed):
    bad.append(f"{len(requested) - len(scheduled) - len(sensed)} runs neither scheduled nor sensed")

# Runs end once, failed.
ends = collections.defaultdict(list)
for e in events:
    if e["type"] in ("RunSucceeded", "RunFailed", "RunCancelled"):
        ends[e["stream"]].append(e["type"])
ids = [r["run"] for r in requested]
if len(set(ids)) != len(ids):
    bad.append("a run number was requested twice")
for r in ids:
    if ends.get(f"run/{r}") != ["RunFailed"]:
        bad.append(f"run {r} ended {ends.get(f'run/{r}')}, expected failed once")

# Notifications.
notes = of("NotificationRequested")
per_key = collections.Counter((n["payload"]["team"], n["payload"].get("run"), n["payload"].get("outcome")) for n in notes)
for r in ids:
    if per_key[("ops", r, "failed")] != 1:
        bad.append(f"run {r}: {per_key[('ops', r, 'failed')]} notifications requested for team ops")
if len(notes) != len(ids):
    bad.append(f"{len(notes)} notifications requested for {len(ids)} failed runs")
sent = collections.Counter(e["stream"] for e in of("NotificationSent"))
for n in notes:
    if sent[n["stream"]] != 1:
        bad.append(f"{n['stream']}: {sent[n['stream']]} NotificationSent")
copies = collections.Counter()
mails = sorted(glob.glob(f"{d}/mailbox/[0-9]*.json"))
for f in mails:
    msg = email.message_from_string(json.load(open(f))["data"])
    copies["".join(str(msg["Message-ID"]).split())] += 1
wanted = {n["payload"]["message_id"] for n in notes}
never = wanted - set(copies)
if never:
    bad.append(f"{len(never)} notifications requested but never received, e.g. {sorted(never)[:3]}")
stray = set(copies) - wanted
if stray:
    bad.append(f"{len(stray)} messages received that were never requested, e.g. {sorted(stray)[:3]}")
duplicates = sum(n - 1 for n in copies.values())
if duplicates > kills:
    bad.append(f"{duplicates} duplicate deliveries for {kills} kills (at most one per kill)")
# An engine hands a message to curl at most once (until its attempt is recorded): each copy was sent
# by another engine that lived between the request's commit and the NotificationSent's.
lives = [tuple(map(int, l.split())) for l in open(f"{d}/lives") if l.strip()]
requested_at, sent_at = {}, {}
for e in events:
    if e["type"] == "NotificationRequested":
        requested_at[e["stream"]] = micros(e["recordedAt"])
    elif e["type"] == "NotificationSent":
        sent_at[e["stream"]] = micros(e["recordedAt"])
over = 0
for n in notes:
    s, mid = n["stream"], n["payload"]["message_id"]
    if s in requested_at and s in sent_at:
        engines = sum(1 for a, b in lives if a <= sent_at[s] and b >= requested_at[s])
        if copies[mid] > engines:
            over += 1
            if over <= 5:
                bad.append(f"{mid} received {copies[mid]} times; {engines} engines lived between its request and its record")
failed_attempts = len(of("NotificationFailed"))
interrupted = sum(1 for e in of("StageFailed") if e["payload"].get("reason") == "interrupted")
print(f"automation: {kills} kills, {len(recorded)} ticks, {len(markers)} markers, {len(ids)} runs ({interrupted} attempts interrupted), "
      f"{len(notes)} notifications ({len(mails)} received, {duplicates} duplicate deliveries, {failed_attempts} failed attempts), "
      f"{len(events)} events, {elapsed} s, seed {seed}")
for b in bad[:40]:
    print("FAIL automation: " + b)
if len(bad) > 40:
    print(f"FAIL automation: ... {len(bad)} failures in all")
sys.exit(1 if bad else 0)
EOF
    echo "automation store kept in $dir"
}

case "$what" in
kill-loop) kill_loop "$@" ;;
automation) automation "$@" ;;
writers) writers "$@" ;;
hostile) hostile "$@" ;;
all) hostile; writers 50; kill_loop 200; automation 200 ;;
*) echo "usage: tools/chaos.sh BIN_DIR kill-loop [KILLS] | automation [KILLS] | writers [N] | hostile [CASE...] | all" >&2; exit 2 ;;
esac
if ((failures > 0)); then echo "chaos: $failures failed"; exit 1; fi
echo "chaos: every check held"
