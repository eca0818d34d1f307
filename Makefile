# Ledgerflow — the two commands a fresh machine needs: `make demo` and `make test`.
SWIFT      ?= swift
SYSTEM_PKGS = liblmdb-dev libzstd-dev lmdb-utils libsqlite3-dev sqlite3 graphviz
DEMO_STORE ?= $(CURDIR)/.ledgerflow-demo/.ledgerflow
BIN         = .build/debug

.PHONY: deps build test demo bench chaos clean

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

test: build
	$(SWIFT) test --skip-build

demo: build
	@bash tools/demo.sh "$(BIN)" "$(DEMO_STORE)"

bench: deps
	$(SWIFT) build -c release --product ledgerflow-bench
	$(SWIFT) build -c release --product ledgerflow
	.build/release/ledgerflow-bench log
	.build/release/ledgerflow-bench projection
	.build/release/ledgerflow-bench engine
	.build/release/ledgerflow-bench ml
	.build/release/ledgerflow-bench lineage
	.build/release/ledgerflow-bench service

# Not in CI: kill -9 the engine 200 times while runs run, then check nothing was lost, duplicated or
# run twice at once; and the hostile-input corpus (fixtures/hostile/), each case's one-line error.
chaos: build
	@python3 -c 'import lmdb' 2>/dev/null || pip install -q lmdb 2>/dev/null || pip install -q --break-system-packages lmdb
	@bash tools/chaos.sh "$(BIN)" all

clean:
	rm -rf .build
