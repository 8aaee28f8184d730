# The two entry points a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

## make demo: build the seed deals into a fresh SQLite ledger and ask the everyday questions
demo: $(VENV)/.installed
	$(BIN)/rights-ledger demo

## make test: lint, type-check and run the whole suite (PostgreSQL too when RIGHTS_LEDGER_TEST_PG is set)
test: $(VENV)/.installed-test
	$(BIN)/ruff check ledger cli migrations tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check ledger cli migrations tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

## make bench: the scale benchmarks (see benchmarks/README.md)
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache rights-ledger-demo.db*
