# One entry point for people and CI. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORE   := $(VENV)/.installed-core

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-long coverage lint format bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,examples]"
	@touch $(STAMP)

# The demo needs only the package itself: a fresh clone runs it without installing the dev tools.
$(CORE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(CORE)

setup: $(STAMP) ## create .venv with the package and its dev tools

demo: $(CORE) ## the main job: the whole product against the embedded sandbox (synthetic data)
	$(BIN)/taskgroup-mcp demo

# Test files run in parallel, each whole on one worker in its own order; two workers per core
# (PYTEST_XDIST_AUTO_NUM_WORKERS=N changes that); one line per file, the 15 slowest tests at the end.
# Not --dist loadgroup: with pytest 9.2, pytest-xdist 3.8 cannot rename node ids, so its groups
# are silently ignored and a file's tests would be spread.
PYTEST_SUITE := -n auto --dist loadfile --file-report --durations=15

# langchain-mcp-adapters needs mcp<2: its example runs from an environment of its own.
LANGCHAIN_VENV  := .venv-langchain
LANGCHAIN_STAMP := $(LANGCHAIN_VENV)/.installed
$(LANGCHAIN_STAMP): examples/requirements-langchain.txt
	$(PYTHON) -m venv $(LANGCHAIN_VENV)
	$(LANGCHAIN_VENV)/bin/python -m pip install --quiet -r examples/requirements-langchain.txt
	@touch $(LANGCHAIN_STAMP)

test: $(STAMP) $(LANGCHAIN_STAMP) ## run the test suite in parallel, a line per file (installs the system parts it needs when missing)
	scripts/test-deps.sh
	$(BIN)/python -m pytest $(PYTEST_SUITE)

test-long: $(STAMP) ## the long profiles of the property tests
	TASKGROUP_MCP_LONG_TESTS=1 $(BIN)/python -m pytest $(PYTEST_SUITE) -m slow

# Every Python process the suite starts is measured (pyproject's [tool.coverage.run] patch = subprocess;
# tests/subprocess_coverage.py hands the settings to processes started with an environment of their own).
# The figures are printed even when a test fails; the exit status is the suite's.
coverage: $(STAMP) $(LANGCHAIN_STAMP) ## the suite under coverage, subprocesses included; prints the modules under 85%
	scripts/test-deps.sh
	rm -f .coverage .coverage.*
	export COVERAGE_FILE=$(CURDIR)/.coverage; \
	$(BIN)/coverage run -m pytest $(PYTEST_SUITE); status=$$?; \
	$(BIN)/coverage combine --quiet && $(BIN)/python scripts/coverage_under.py 85; \
	exit $$status

lint: $(STAMP) ## ruff (lint + format check) and pyright strict on server/
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests
	$(BIN)/pyright

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format server tests
	$(BIN)/ruff check --fix server tests

bench: $(STAMP) ## run every benchmark script and write BENCHMARKS.md
	$(BIN)/python bench/run_all.py

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) $(LANGCHAIN_VENV) .pytest_cache .ruff_cache build dist .coverage .coverage.*
