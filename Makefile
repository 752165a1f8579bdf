# Two commands on a fresh machine with only Python and make: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ledger demo

test: $(STAMP)
	./scripts/ensure-postgres
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	./scripts/ensure-postgres
	$(BIN)/python bench/import_rate.py

clean:
	rm -rf $(VENV) build src/*.egg-info
