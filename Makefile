# Continuum: run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
OPERATOR_VENV := .venv-operator
PYTHON ?= python3
PY := $(VENV)/bin/python
STACK := PYTHONPATH=dev $(PY) -m localstack
DEMO := PYTHONPATH=dev $(PY) -m demo

.PHONY: help install lint test test-unit test-integration demo bench stack-fetch stack-up stack-down stack-status stack-env stack-clean images spark-jars

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# Two environments: .venv holds everything (workloads, the local stack's MLflow server, dev
# tools); .venv-operator holds what the operator image holds, and runs the operator in tests and
# benchmarks, so they prove it needs nothing more and measure it as deployed.
$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "missing prerequisite: $(PYTHON) (install Python 3.11)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

$(OPERATOR_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(OPERATOR_VENV)
	$(OPERATOR_VENV)/bin/pip install --quiet --upgrade pip
	$(OPERATOR_VENV)/bin/pip install --quiet -e .
	touch $@

install: $(VENV)/.installed $(OPERATOR_VENV)/.installed ## create .venv (everything) and .venv-operator (the operator's image contents)

lint: install ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

stack-fetch: install ## fetch and build the local stack's components into the per-user cache
	@$(STACK) fetch

stack-up: install ## start the local stack (Kubernetes with a real node, Kafka, HDFS, MLflow); harmless when running
	@$(STACK) up

stack-down: ## stop every component of the local stack
	@if [ -x $(PY) ]; then $(STACK) down; fi

stack-status: install ## what runs and what is healthy
	@$(STACK) status

stack-env: install ## print the export lines that point clients at the stack
	@$(STACK) env

images: stack-fetch ## build the operator and workloads images (buildah), load them into the real node
	@$(STACK) images

spark-jars: install ## stage Spark's Kafka connector jars and the scorer's jar in build/spark-jars for Dockerfile.workloads
	@$(STACK) spark-jars

stack-clean: stack-down ## stop the stack and delete its data
	rm -rf .stack

test-unit: install ## unit tests only (no stack)
	$(VENV)/bin/pytest -m unit

# The images are built before the tests (a first build takes longer than a test may); the tests
# that run them load them into the real node.
test-integration: stack-fetch images ## integration tests (start the stack when it is not running)
	$(VENV)/bin/pytest -m integration

test: lint stack-fetch images ## lint, then every test (the 25 slowest named at the end); starts the stack when needed, stops what it started
	$(VENV)/bin/pytest -m "unit or integration or e2e" --durations=25

# The demo's own entry point starts the stack and loads the images into its node; the images are
# built first, here, since a first build prints its own progress for several minutes.
demo: stack-fetch images ## the whole loop on the local stack, live (DEMO_ARGS=--keep: leave it running)
	@$(DEMO) $(DEMO_ARGS)

bench: stack-fetch ## benchmarks; JSON results under bench/results/
	@for benchmark in $(filter-out %_harness.py,$(wildcard bench/*.py)); do echo "== $$benchmark"; PYTHONPATH=dev $(PY) $$benchmark || exit 1; done
