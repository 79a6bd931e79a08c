# caucasus-watch: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := venv
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUNTIME := $(PY) -m deploy.local.runtime
# Every install comes from these hash-checked locks (`make lock` refreshes them from pyproject.toml).
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock

.PHONY: help venv up down status logs test test-unit lint fmt schemas clean lock

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

# Re-installs when the lock (or pyproject.toml) changes. Exactly the locked versions, each checked
# against its hash; the project itself adds no dependency (--no-deps) and builds with the locked
# setuptools (--no-build-isolation).
$(STAMP): $(DEV_LOCK) pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r $(DEV_LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the project with dev tools (the default target)

up: $(STAMP) ## Fetch (first time) and start Kafka + Elasticsearch locally, create topics
	$(RUNTIME) up

down: $(STAMP) ## Stop the demo services and the local Kafka + Elasticsearch
	$(RUNTIME) down

status: $(STAMP) ## Show what runs, where, and its health
	$(RUNTIME) status

logs: $(STAMP) ## Tail the local Kafka + Elasticsearch logs
	$(RUNTIME) logs

test: $(STAMP) ## Run every test (starts Kafka + Elasticsearch when they are not running)
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## Unit tests only: no services, no network
	$(PY) -m pytest -m "not integration and not e2e and not fault and not browser" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff (format check + lint) and mypy on services/ and schemas/
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

fmt: $(STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

schemas: $(STAMP) ## Regenerate the checked-in JSON Schema files from schemas/
	$(PY) -m schemas.export

# The build backend (setuptools) is locked too: pyproject's build requirements go in through stdin.
BUILD_REQUIRES := $(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'
LOCK_COMPILE := UV_CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/uv pip compile --quiet \
	--python-version 3.11 --generate-hashes --no-strip-markers $(if $(UPGRADE),--upgrade)

lock: $(STAMP) ## Re-resolve requirements.lock + requirements-dev.lock from pyproject.toml (UPGRADE=1: newest allowed)
	$(BUILD_REQUIRES) | $(LOCK_COMPILE) -o $(LOCK) pyproject.toml -
	$(BUILD_REQUIRES) | $(LOCK_COMPILE) --extra dev -o $(DEV_LOCK) pyproject.toml -

clean: ## Remove the virtualenv and caches (not the downloaded Kafka/Elasticsearch)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench bench-quick demo
bench: $(STAMP) ## Every benchmark on the real services -> bench-results/latest.json + .png
	$(RUNTIME) up
	$(PY) benchmarks/run.py $(BENCH_ARGS)

bench-quick: $(STAMP) ## The benchmarks on small inputs (a few minutes)
	$(RUNTIME) up
	$(PY) benchmarks/run.py --quick $(BENCH_ARGS)

demo: $(STAMP) ## Run the whole system locally with a demo corpus (DEMO_SOURCE=folder|feed URL for real data)
	$(PY) -m devtools.demo

.PHONY: migrate
migrate: $(STAMP) ## Create or migrate the report indices to the current mapping version (new index, copy, alias switch)
	$(PY) -m services.cli indexer migrate
