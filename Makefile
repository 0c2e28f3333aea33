# Traveller VTT — every entry point people and CI use. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)
# The shared vectors when ../shared is beside the checkout, and always the copy pinned in the repo
# (a clean clone elsewhere still checks the engine against them).
VECTORS ?= $(wildcard $(SHARED)/rules/vectors-mgt2e.json $(SHARED)/rules/vectors-ce.json) \
  tests/unit/rules/vectors-mgt2e.json tests/unit/rules/vectors-ce.json
STAMP := $(VENV)/.installed
APT_PACKAGES ?= redis-server chromium openssl
# Fragments under mk/ add their own prerequisites of `make test` here.
TEST_PREREQS :=
PYTEST_ARGS ?=

include $(sort $(wildcard mk/*.mk))

.PHONY: help install run test unit lint bench vectors clean

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort -u | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml tools/ensure-apt.sh
	bash tools/ensure-apt.sh $(APT_PACKAGES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e '.[server,operator]' --group dev
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Python deps and Debian packages (redis-server, chromium)

run: $(STAMP) ## Run the game server on the embedded in-memory store at http://127.0.0.1:3000
	$(PY) -m gameserver

vectors: $(STAMP) ## Check the rules engine against the shared MgT2e and CE test vectors
	$(PY) -m gameserver.rules.vectors $(VECTORS)

test: $(STAMP) $(TEST_PREREQS) ## Run every test: lint, CRD drift, helm lint, rule vectors, unit, server, Redis, browser, e2e
	$(MAKE) --no-print-directory lint crds-check chart-lint vectors
	$(PY) -m pytest $(PYTEST_ARGS)

unit: $(STAMP) ## Fast tests only (no cluster, Redis or browser)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, mypy --strict, import-linter, hadolint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy gameserver operator/tvtt_operator tests bench testkit
	$(VENV)/bin/lint-imports
	$(if $(wildcard Dockerfile.*),$(VENV)/bin/hadolint $(wildcard Dockerfile.*))

bench: $(STAMP) ## Benchmarks with baselines: rules engine, WebSocket load, Redis, operator
	$(PY) -m bench

clean: ## Remove the venv and caches (the control-plane binary cache in ~/.cache stays)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
