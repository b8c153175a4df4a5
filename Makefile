# The two commands of the README: `make run` and `make test`. Everything else is a helper of those.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit reset install openapi clean bench bench-op

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## make run: mock VNeID on :9000, the broker on :8000, the demo relying party on :8080 (Ctrl-C stops all)
run: $(STAMP)
	$(BIN)/python scripts/dev_run.py

## make test: lint, types, architecture contracts, and the whole test suite (SQLite and PostgreSQL)
test: $(STAMP) lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

openapi: $(STAMP)
	$(BIN)/python -m broker.openapi > openapi.yaml

bench: $(STAMP)
	$(BIN)/python bench/bench_legacy_import.py

## make bench-op: the OpenID Provider beside panva's oidc-provider (issue 7; see bench/README.md)
bench-op: $(STAMP)
	$(BIN)/python bench/op_bench.py

## make reset: forget all local state (databases, keys, the demo client)
reset:
	rm -rf var

clean: reset
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
