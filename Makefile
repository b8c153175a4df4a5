# The two commands of the README: `make run` and `make test`. Everything else is a helper of those.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit reset install openapi clean bench bench-op bench-venv lock

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Every dependency from the lock, pinned and hash-checked; then the project itself without resolving again:
# into the venv whose python is $(1).
define install_into
	$(1) -m pip install --quiet --upgrade pip
	$(1) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(1) -m pip install --quiet --no-deps -e .
endef

$(STAMP): pyproject.toml requirements-dev.lock | $(BIN)/python
	$(call install_into,$(BIN)/python)
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check; \
	  echo "the locks miss a dependency of pyproject.toml: run make lock"; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

## make lock: re-pin every dependency with hashes after a change of pyproject.toml (runtime and dev locks;
## the runtime lock also pins the build backend, so the image builds the broker's wheel offline from it)
LOCK := $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
	--no-emit-find-links --no-emit-trusted-host --upgrade
lock: | $(BIN)/python
	@test -x $(BIN)/pip-compile || $(BIN)/python -m pip install --quiet 'pip-tools>=7.4'
	$(LOCK) --all-build-deps --output-file requirements.lock pyproject.toml
	$(LOCK) --extra dev --output-file requirements-dev.lock pyproject.toml

## make run: mock VNeID on :9000, the broker on :8000, the demo relying party on :8080 (Ctrl-C stops all)
run: $(STAMP)
	$(BIN)/python scripts/dev_run.py

## make test: lint, types, architecture contracts, and the whole test suite (SQLite and PostgreSQL)
## one pytest-xdist worker per core, at most four (each its own databases and block of loopback ports)
test: $(STAMP) lint typecheck
	$(BIN)/pytest --numprocesses auto --maxprocesses 4

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

## make bench-venv: the same dependencies and broker in .venv-bench, for another Python 3.11 build
## (BENCH_PYTHON, default Debian's, built with profile-guided and link-time optimisation as the image's
## python:3.11-slim is): `.venv-bench/bin/python bench/op_bench.py --second-python .venv/bin/python ...`
## measures the broker on both interpreters in the same rounds (bench/README.md, seventeenth round)
BENCH_PYTHON ?= /usr/bin/python3.11
bench-venv:
	$(BENCH_PYTHON) -m venv .venv-bench
	$(call install_into,.venv-bench/bin/python)

## make reset: forget all local state (databases, keys, the demo client)
reset:
	rm -rf var

clean: reset
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
