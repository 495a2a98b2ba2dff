# shop_analytics: two set-up commands, `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.dev-installed
BENCH_STAMP := $(VENV)/.bench-installed
SPARK_STAMP := $(VENV)/.spark-installed
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
DEMO_SCALE ?= 0.2
DEMO_SEED ?= 42
# 20 ratings per demo user: enough co-ratings for user-kNN to beat popularity (docs/recommendations.md).
DEMO_RATINGS ?= 200000
PYTEST_ARGS ?=
# make test: one pytest-xdist worker per CPU, each test file on one worker (its module fixtures built once).
# TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= logical
# Superset (make bi): its own virtualenv and lock, its state in a git-ignored folder.
BI_VENV := .venv-bi
BI_STAMP := $(BI_VENV)/.installed
BI_HOME ?= $(CURDIR)/.superset
BI_PORT ?= 8088

# Absolute paths, so that dbt's views and the DuckDB shell resolve the lake from anywhere.
export SHOP_ANALYTICS_DATA_DIR ?= $(CURDIR)/data
# The lake dbt reads defaults to $(SHOP_ANALYTICS_DATA_DIR)/lake (python/shop_analytics/settings.py).
export SHOP_ANALYTICS_WAREHOUSE ?= $(CURDIR)/warehouse/shop_analytics.duckdb
export SHOP_ANALYTICS_TEMP_DIR ?= $(CURDIR)/warehouse/tmp
export DBT_PROFILES_DIR ?= $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
# The serving file Superset reads: <serving root>/serving/shop_analytics.duckdb (docs/serving.md).
BI_SERVING_FILE ?= $(patsubst %/,%,$(or $(SHOP_ANALYTICS_SERVING_ROOT),$(dir $(SHOP_ANALYTICS_WAREHOUSE))))/serving/shop_analytics.duckdb

.PHONY: help venv demo pipeline test test-fast lint lint-python lint-sql format bench spark lock clean bi bi-venv bi-stop bi-status screenshots

help:
	@echo "make demo   build the environment if missing, generate demo data, run the pipeline, then one more day incrementally"
	@echo "make test   run the full test suite"
	@echo "make lint   ruff, ruff format --check and mypy on the Python; sqlfluff on models/ and macros/"
	@echo "make format apply ruff's fixes and formatting"
	@echo "make bench  install benchmark extras and run bench/ (writes bench/RESULTS.md)"
	@echo "make spark  install Apache Spark and dbt-spark into .venv (--target spark, docs/spark.md)"
	@echo "make bi     Superset on the serving file (after make demo): dashboard URL and login; make bi-stop"
	@echo "make lock   re-resolve requirements/*.lock from requirements/*.in"
	@echo "make clean  remove generated data, warehouse and build output (keeps .venv)"

$(STAMP): requirements/main.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 is required (python3.11 not found)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "error: $(PYTHON) is not Python 3.11; run: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	@echo "==> creating $(VENV) from requirements/main.lock"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes --no-deps -r requirements/main.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $@

$(DEV_STAMP): $(STAMP) requirements/dev.lock
	$(PIP) install --require-hashes --no-deps -r requirements/dev.lock
	@touch $@

venv: $(STAMP) $(DEV_STAMP)

demo: $(STAMP)
	@echo "==> generating demo data (scale $(DEMO_SCALE), $(DEMO_RATINGS) ratings, seed $(DEMO_SEED))"
	$(BIN)/shop-analytics generate --scale $(DEMO_SCALE) --seed $(DEMO_SEED) --ratings $(DEMO_RATINGS) --overwrite
	@# The demo rebuilds the lake from scratch so that a re-run gives the same result.
	rm -rf "$(SHOP_ANALYTICS_DATA_DIR)/lake" "$(SHOP_ANALYTICS_DATA_DIR)/quarantine" \
	  "$(SHOP_ANALYTICS_DATA_DIR)/ingest_catalog.duckdb" \
	  "$(SHOP_ANALYTICS_DATA_DIR)/ingest_key_filters" "$(SHOP_ANALYTICS_DATA_DIR)/quality"
	@mkdir -p "$(dir $(SHOP_ANALYTICS_WAREHOUSE))"
	@# Run 1, the history: ingest every batch, build every model from the whole lake (a new lake: --full-refresh).
	@# Its tests are left to run 2, whose complete build (models and tests) is what gets published.
	@echo "==> run 1 (history): ingest through the quality gate (GX Data Docs: data/quality/data_docs/index.html), dbt build"
	$(BIN)/python -m shop_analytics.cli.demo_runs run history --full-refresh --no-tests
	@# Run 2, the next day: its batches land, ingest admits them, dbt build consumes only them (docs/incremental.md).
	@echo "==> one more day lands: page views, order lines (some late), rates, a batch cancelling an earlier order"
	$(BIN)/shop-analytics generate --next-day
	@echo "==> run 2 (next day): ingest, incremental dbt build (models and tests)"
	$(BIN)/python -m shop_analytics.cli.demo_runs run next-day
	@echo "==> post-build checks on the marts (a failure stops publication)"
	$(BIN)/shop-analytics check
	@echo "==> publishing the read-only serving file and Parquet exports"
	$(BIN)/shop-analytics publish
	@$(BIN)/python -m shop_analytics.cli.demo_summary
	@echo
	@$(BIN)/python -m shop_analytics.cli.demo_runs report

pipeline: $(STAMP)
	@echo "==> ingesting landing batches through the quality gate (GX Data Docs: data/quality/data_docs/index.html)"
	$(BIN)/shop-analytics ingest
	@echo "==> dbt build (seeds, models, tests)"
	@mkdir -p "$(dir $(SHOP_ANALYTICS_WAREHOUSE))"
	$(BIN)/dbt build
	@echo "==> post-build checks on the marts (a failure stops publication)"
	$(BIN)/shop-analytics check
	@echo "==> publishing the read-only serving file and Parquet exports"
	$(BIN)/shop-analytics publish
	@$(BIN)/python -m shop_analytics.cli.demo_summary

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow" $(PYTEST_ARGS)

# The gates CI runs before the tests (.ci/run). Settings live in pyproject.toml (and .sqlfluff).
lint: lint-python lint-sql

lint-python: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Settings in .sqlfluff; lint/sqlfluff_dbt stands in for the dbt templater's macros.
lint-sql: $(DEV_STAMP)
	$(BIN)/sqlfluff lint models macros --processes 2

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(BENCH_STAMP): $(STAMP) requirements/bench.lock
	$(PIP) install --require-hashes --no-deps -r requirements/bench.lock
	@touch $@

# bench_marts.py builds the project on a local Spark Thrift Server too (PyHive: spark.lock).
bench: $(BENCH_STAMP) $(SPARK_STAMP)
	$(BIN)/shop-analytics bench $(BENCH)

# Apache Spark for `dbt ... --target spark` (docs/spark.md); the versions of bench.lock, so both fit one venv.
$(SPARK_STAMP): $(STAMP) requirements/spark.lock
	$(PIP) install --require-hashes --no-deps -r requirements/spark.lock
	@touch $@

spark: $(SPARK_STAMP)

lock:
	$(PYTHON) -m venv .lockenv && .lockenv/bin/pip install --quiet uv
	.lockenv/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 -o requirements/main.lock requirements/main.in
	.lockenv/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 -o requirements/bench.lock requirements/bench.in
	.lockenv/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 -o requirements/spark.lock requirements/spark.in
	.lockenv/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 -o requirements/dev.lock requirements/dev.in
	.lockenv/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 -o requirements/bi.lock requirements/bi.in
	rm -rf .lockenv

# Superset never shares the project's venv or lock: it pins its own SQLAlchemy, pandas and numpy.
$(BI_STAMP): requirements/bi.lock
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 is required (python3.11 not found)"; exit 1; }
	@echo "==> creating $(BI_VENV) (Apache Superset) from requirements/bi.lock"
	@# A Superset still running from the old virtualenv is stopped before its files go.
	@if [ -x $(BI_VENV)/bin/python ]; then $(BI_VENV)/bin/python bi/ctl.py stop --home "$(BI_HOME)"; fi
	rm -rf $(BI_VENV)
	$(PYTHON) -m venv $(BI_VENV)
	$(BI_VENV)/bin/python -m pip --disable-pip-version-check --quiet install --require-hashes --no-deps \
	  -r requirements/bi.lock
	@touch $@

bi-venv: $(BI_STAMP)

# Reads only the published serving file: it never blocks `make demo`, and `make demo` never needs it.
bi: $(BI_STAMP)
	@$(BI_VENV)/bin/python bi/ctl.py up --home "$(BI_HOME)" --port $(BI_PORT) --serving-file "$(BI_SERVING_FILE)"

bi-stop:
	@if [ -x $(BI_VENV)/bin/python ]; then $(BI_VENV)/bin/python bi/ctl.py stop --home "$(BI_HOME)"; \
	  else echo "==> Superset is not installed"; fi

bi-status: $(BI_STAMP)
	@$(BI_VENV)/bin/python bi/ctl.py status --home "$(BI_HOME)"

# The browser tests, writing their screenshots into docs/images/ for the README.
screenshots: $(DEV_STAMP)
	SHOP_ANALYTICS_SCREENSHOT_DIR=$(CURDIR)/docs/images $(BIN)/python -m pytest tests/browser $(PYTEST_ARGS)

clean:
	rm -rf data warehouse target logs bench/_work .pytest_cache
