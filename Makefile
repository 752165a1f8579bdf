# Two commands on a fresh machine with only Python and make: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test install bench bench-http clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ledger demo

test: $(STAMP)
	$(BIN)/ruff check src
	$(BIN)/mypy
	./scripts/ensure-postgres
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Issues 12 and 10 on PostgreSQL (bench/run.py): writes bench/results.json and the generated
# section of bench/RESULTS.md. EVENTS: the big log; RSS_SIZES: more log sizes for the
# catch-up's peak RSS (e.g. RSS_SIZES=5000000).
EVENTS    ?= 1000000
RSS_SIZES ?= 5000000
bench: $(STAMP)
	./scripts/ensure-postgres
	$(BIN)/python bench/run.py --events $(EVENTS) --rss-sizes $(RSS_SIZES)

# HTTP load (issue 13): locust against `ledger serve` on loopback, this checkout against the
# server of commit $(BEFORE) (its own worktree and venv, made once), both stores.
BEFORE     ?= 01cf16f
BEFORE_DIR ?= /tmp/ledger-before-$(BEFORE)
bench-http: $(STAMP)
	./scripts/ensure-postgres
	$(BIN)/python -c 'import locust' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[test,bench]'
	test -d $(BEFORE_DIR) || git worktree add --detach $(BEFORE_DIR) $(BEFORE)
	test -x $(BEFORE_DIR)/.venv/bin/ledger || ($(PYTHON) -m venv $(BEFORE_DIR)/.venv && \
		$(BEFORE_DIR)/.venv/bin/python -m pip install --quiet -e $(BEFORE_DIR))
	$(BIN)/python bench/load_http.py --before $(BEFORE_DIR) --write

clean:
	rm -rf $(VENV) build src/*.egg-info
