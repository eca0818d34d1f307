# Ledgerflow — the two commands a fresh machine needs: `make demo` and `make test`.
SWIFT      ?= swift
SYSTEM_PKGS = liblmdb-dev libzstd-dev lmdb-utils libsqlite3-dev sqlite3 graphviz curl openssl
DEMO_STORE ?= $(CURDIR)/.ledgerflow-demo/.ledgerflow
BIN         = .build/debug

.PHONY: deps build test test-deps demo console screenshots bench chaos clean

# Install the C libraries and lmdb-utils when missing (apt-get as root; otherwise print the command).
deps:
	@missing=""; for p in $(SYSTEM_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null || exit 1; \
	  else \
	    echo "missing system packages; run: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build --build-tests

# The notification tests and the demo start a local SMTP server (aiosmtpd, tools/mail-sink.py); the
# console's browser tests drive headless Chromium (Debian's chromium and chromium-driver) through
# Selenium (tools/console-browser.py). The Spark tests start a standalone master and one worker
# (TestSupport's SparkCluster) and submit PySpark applications: they need pyspark (which brings
# spark-submit and spark-class), a Java runtime (Debian's openjdk-17-jre-headless, unless `java
# -version` already works), procps (`ps`, used by Spark's launch scripts) and dagster-pipes (a test
# application written for Dagster Pipes reports through the channel a spark stage opens).
TEST_PKGS = chromium chromium-driver procps
PYSPARK_VERSION = 3.5.3
test-deps:
	@python3 -c 'import aiosmtpd' 2>/dev/null || pip install -q aiosmtpd 2>/dev/null || pip install -q --break-system-packages aiosmtpd
	@python3 -c 'import selenium' 2>/dev/null || pip install -q selenium 2>/dev/null || pip install -q --break-system-packages selenium
	@python3 -c 'import pyspark' 2>/dev/null || pip install -q pyspark==$(PYSPARK_VERSION) 2>/dev/null || pip install -q --break-system-packages pyspark==$(PYSPARK_VERSION)
	@python3 -c 'import dagster_pipes' 2>/dev/null || pip install -q dagster-pipes 2>/dev/null || pip install -q --break-system-packages dagster-pipes
	@missing=""; for p in $(TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	java -version >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null || exit 1; \
	  else \
	    echo "missing packages for the browser and Spark tests; run: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

# At most TEST_WIDTH tests run at once (Swift Testing starts every test at once by default: on a
# 2-core machine hundreds of end-to-end tests, each spawning processes, then share the cores and
# their time limits run out while they wait). 6 keeps both cores busy.
TEST_WIDTH ?= 6
test: build test-deps
	SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH) $(SWIFT) test --skip-build

demo: build test-deps
	@bash tools/demo.sh "$(BIN)" "$(DEMO_STORE)"

# The operations console over the demo's churn store, until Ctrl-C (make demo first).
CONSOLE_PORT ?= 8080
console: build
	$(BIN)/ledgerflow serve --store "$(DEMO_STORE)" --port $(CONSOLE_PORT)

# The README's pictures of the console (after make demo), with the browser tests' tooling.
screenshots: build test-deps
	@bash tools/screenshots.sh "$(BIN)" "$(CURDIR)/.ledgerflow-demo/seed003/.ledgerflow"

bench: deps
	$(SWIFT) build -c release --product ledgerflow-bench
	$(SWIFT) build -c release --product ledgerflow
	.build/release/ledgerflow-bench log
	.build/release/ledgerflow-bench projection
	.build/release/ledgerflow-bench engine
	.build/release/ledgerflow-bench ml
	.build/release/ledgerflow-bench lineage
	.build/release/ledgerflow-bench service
	.build/release/ledgerflow-bench spark
	.build/release/ledgerflow-bench http --from "$$(.build/release/ledgerflow-bench service --prepare-only | tail -n 1)"

# Not in CI: kill -9 the engine 200 times while runs run, then check nothing was lost, duplicated or
# run twice at once; kill -9 it 200 more times while a schedule ticks every second, markers arrive
# and every run fails to a team mailed through a local SMTP sink (tools/mail-sink.py), then check
# every tick, marker and run notification exactly once and every message delivered at least once;
# eight concurrent writers; and the hostile-input corpus (fixtures/hostile/), each case's one-line error.
chaos: build test-deps
	@python3 -c 'import lmdb' 2>/dev/null || pip install -q lmdb 2>/dev/null || pip install -q --break-system-packages lmdb
	@bash tools/chaos.sh "$(BIN)" all

clean:
	rm -rf .build
