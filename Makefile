# Thin aliases. Every target bootstraps its own environment: a fresh clone needs only python3.11 and make.
SHELL := /bin/bash
PYTHON ?= python3.11
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
EXTRAS := --extra dev --extra postgres --extra fast
RUN := $(UV) run --frozen --no-sync

.PHONY: help setup demo test test-fast lint format bench bench-deps clean

help:
	@echo "make demo   - sandbox -> sync -> dbt build on the embedded default (DuckDB file)"
	@echo "make test   - the whole test suite (unit, conformance, end-to-end)"
	@echo "make lint   - ruff + mypy"
	@echo "make bench  - benchmarks (prints tables; see docs/benchmarks.md)"

$(UV):
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	$(PYTHON) -m venv .tools && .tools/bin/pip install --quiet uv

# --compile-bytecode: installed packages ship their .pyc, so that every process (CLI, dbt, Airflow tasks,
# test workers) imports them without compiling, also where PYTHONDONTWRITEBYTECODE is set
.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode $(EXTRAS)
	@touch $@

setup: .venv/.synced

demo: setup
	$(RUN) leadflow demo

test: setup
	$(RUN) pytest -n 2 --dist loadgroup

test-fast: setup
	$(RUN) pytest -n 2 -m "not slow"

lint: setup
	$(RUN) ruff check src tests bench dags
	$(RUN) ruff format --check src tests bench dags
	$(RUN) mypy

format: setup
	$(RUN) ruff format src tests bench dags
	$(RUN) ruff check --fix src tests bench dags

bench-deps: $(UV)
	$(UV) sync --frozen --compile-bytecode $(EXTRAS) --extra bench
	@touch .venv/.synced

bench: bench-deps
	$(RUN) python bench/run_all.py

clean:
	rm -rf var .venv .tools dbt_project/target dbt_project/logs
