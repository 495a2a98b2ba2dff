"""The dbt project on Spark (--target spark) gives the same rows as on DuckDB, model for model (docs/spark.md).

A local Spark Thrift Server is installed (`make spark`) and started by the fixture itself; without
Java the test fails. Every model that dbt enables on Spark is built on both engines over the same
generated lake and compared row for row: exact for keys, counts, decimals and timestamps, relative
1e-9 for floats. The streaming models, whose sketches differ between the engines, are compared by
their keys exactly and their estimates against exact counts (support/sketch_parity.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from shop_analytics.settings import SparkServerSettings
from shop_analytics.spark import thrift_server
from shop_analytics.spark.event_log import event_log_files
from shop_analytics.spark.task_skew import read_stages, skew_by_model
from shop_analytics.spark.thrift_server import free_port
from support.engine_parity import assert_same_rows, duckdb_table, spark_table
from support.pipeline import (
    ROOT,
    SMALL,
    Pipeline,
    dbt_env,
    generated_pipeline,
    run_dbt,
    run_dbt_together,
    run_dbt_unchecked,
)
from support.sketch_parity import check_daily_distinct_viewers, check_distinct_viewers_windows, check_heavy_hitters
from support.spark_pruning import assert_event_date_filter_prunes

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# What docs/spark.md lists as ported; the test fails if dbt enables more or fewer models on Spark.
PORTED = {
    "dim_customer_purchase_summary",
    "dim_customers",
    "dim_products",
    "fct_order_lines",
    "fct_orders",
    "fct_same_day_repeat_purchases",
    "fct_user_item_views",
    "int_countries__lookup",
    "int_order_line_reversals__allocated",
    "int_order_lines__converted",
    "int_order_lines__netted",
    "int_orders__aggregated",
    "int_orders__aggregated_to_customer_days",
    "int_page_views__accumulated_to_user_items",
    "int_page_views__aggregated_to_user_items",
    "int_page_views__counted_by_item_day",
    "int_page_views__filtered_to_audience",
    "int_users__country_resolved",
    "rpt_daily_revenue",
    "rpt_ingest_quarantine",
    "rpt_item_popularity",
    "rpt_item_distinct_viewers_windows",
    "rpt_item_trends",
    "stg_shop__exchange_rates",
    "stg_shop__ingest_audit",
    "stg_shop__items",
    "stg_shop__order_lines",
    "stg_shop__page_views",
    "stg_shop__purchases",
    "stg_shop__ratings",
    "stg_shop__users",
    "stream_item_daily_distinct_viewers",
    "stream_item_heavy_hitters",
}
# Built with other sketches on Spark (DataSketches HLL, exact top-K counts): compared by the checks
# of support/sketch_parity.py instead of row for row.
SKETCHED = {"stream_item_daily_distinct_viewers", "rpt_item_distinct_viewers_windows", "stream_item_heavy_hitters"}
VARS = yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]
# The staging views of the partitioned fact sources, and the lake tables each one scans.
PRUNED_VIEWS = {
    "stg_shop__page_views": ["page_views"],
    "stg_shop__ratings": ["ratings"],
    "stg_shop__order_lines": ["order_lines", "purchases"],  # v1 purchases are migrated into order lines
}
# The shared SMALL data set over two months instead of three years: the same rows and dirty kinds in
# 61 days of lake folders instead of 1,096. Spark's time on a small lake goes to listing, planning
# and the metastore per partition folder, not to rows (bench/RESULTS.md, the Spark benchmarks).
SPARK_LAKE = dataclasses.replace(SMALL, start=dt.date(2018, 11, 1))


@pytest.fixture(scope="module")
def spark_installed() -> None:
    """pyspark and dbt-spark installed into this venv (requirements/spark.lock, `make spark`)."""
    subprocess.run(["make", "--no-print-directory", "spark"], cwd=ROOT, check=True, capture_output=True)
    importlib.invalidate_caches()


@pytest.fixture(scope="module")
def spark_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """SPARK_LAKE generated, then ingested."""
    return generated_pipeline(SPARK_LAKE, tmp_path_factory.mktemp("spark_pipeline"))


@pytest.fixture(scope="module")
def spark_server(spark_installed: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkServerSettings]:
    """A local Thrift Server on a free port."""
    thrift_server.java_executable()  # raises (the test fails) when Java is missing
    settings = SparkServerSettings(
        state_dir=tmp_path_factory.mktemp("spark_server"), port=free_port(), start_timeout_s=300
    )
    thrift_server.start(settings)
    try:
        yield settings
    finally:
        thrift_server.stop(settings)


def _spark_env(pipeline: Pipeline, warehouse: Path, port: int) -> dict[str, str]:
    return {
        **dbt_env(pipeline.layout, warehouse, artifacts=True),
        "SHOP_ANALYTICS_TARGET": "spark",
        "SHOP_ANALYTICS_SPARK_METHOD": "thrift",
        "SHOP_ANALYTICS_SPARK_HOST": "127.0.0.1",
        "SHOP_ANALYTICS_SPARK_PORT": str(port),
        # Most of a statement's time on the local server is planning, file listing and metastore
        # calls, not the two cores: four dbt threads keep the build within the suite's budget.
        "SHOP_ANALYTICS_DBT_THREADS": "4",
    }


def _models_enabled(env: dict[str, str], tmp: Path) -> dict[str, str]:
    keys = ["--output", "json", "--output-keys", "name", "config"]
    listed = run_dbt(["ls", "--resource-type", "model", *keys], env, tmp)
    models = {}
    for line in listed.stdout.splitlines():
        if line.startswith("{"):
            node = json.loads(line)
            models[node["name"]] = node["config"]["schema"]
    return models


def _data_test_outcomes(tmp: Path) -> dict[str, tuple[str, int | None, set[str], str]]:
    """Each data test of the last dbt invocation in `tmp`: its status, failing rows, parent nodes' names and file."""
    results = json.loads((tmp / "target" / "run_results.json").read_text())["results"]
    nodes = json.loads((tmp / "target" / "manifest.json").read_text())["nodes"]
    return {
        result["unique_id"]: (
            result["status"],
            result["failures"],
            {p.rsplit(".", 1)[-1] for p in nodes[result["unique_id"]]["depends_on"]["nodes"]},
            nodes[result["unique_id"]]["original_file_path"],
        )
        for result in results
        if result["unique_id"].startswith("test.")
    }


def test_spark_builds_the_ported_models_with_duckdbs_rows(
    spark_pipeline: Pipeline, spark_server: SparkServerSettings, tmp_path: Path
) -> None:
    pipeline = spark_pipeline
    duck_warehouse = tmp_path / "duck" / "warehouse.duckdb"
    duck_warehouse.parent.mkdir()
    duck_env = dbt_env(pipeline.layout, duck_warehouse, artifacts=True)
    spark_env = _spark_env(pipeline, duck_warehouse, spark_server.port)

    on_spark = _models_enabled(spark_env, tmp_path / "ls")
    assert set(on_spark) == PORTED
    assert set(_models_enabled(duck_env, tmp_path / "ls_duck")) > PORTED  # DuckDB still builds everything

    # Models, seeds and every data test whose parents are all selected (cautious indirect selection):
    # the ported models and the seeds.
    selection = ["--select", *(f"+{model}" for model in sorted(PORTED))]
    # The DuckDB build runs while Spark registers the lake (mostly metastore time).
    duck_tmp, spark_tmp = tmp_path / "dbt_duck", tmp_path / "dbt_spark"
    run_dbt_together(
        [(["build", *selection], duck_env, duck_tmp), (["run-operation", "create_lake_tables"], spark_env, spark_tmp)]
    )
    run_dbt(["build", *selection], spark_env, spark_tmp)
    # Spark's own task metrics of every table it built are in the server's event log, attributed to
    # the model through dbt's query comment (`shop-analytics spark-server skew`, bench_marts.py).
    event_log = thrift_server.ServerFiles(spark_server.state_dir).event_log
    skew = skew_by_model(read_stages(event_log_files(event_log)))
    manifest = json.loads((spark_tmp / "target" / "manifest.json").read_text())["nodes"]
    tables = {
        node["name"]
        for node in manifest.values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "table"
    }
    assert tables and tables <= {node.rsplit(".", 1)[-1] for node in skew}, tables
    assert all(model.tasks > 0 and model.worst.run_ms for model in skew.values())
    # Partition pruning on Spark, from Spark's own scan metrics: an event_date filter through each
    # fact source's staging view reads only that day's lake folder (support/spark_pruning.py).
    for view, tables in PRUNED_VIEWS.items():
        assert_event_date_filter_prunes(spark_server.port, event_log, pipeline.layout.lake, view, tables)
    # Spark ran the same data tests as DuckDB, staging's too, each with DuckDB's outcome: none fails;
    # a warn-severity test warns on both with the same number of rows.
    spark_tests, duck_tests = _data_test_outcomes(spark_tmp), _data_test_outcomes(duck_tmp)
    assert set(spark_tests) == set(duck_tests)
    assert any(path.startswith("models/staging/") for _, _, _, path in spark_tests.values())
    assert len(spark_tests) > len(PORTED)
    for test, (status, failures, _, _) in spark_tests.items():
        assert status in {"pass", "warn"}, (test, status)
        assert (status, failures) == duck_tests[test][:2], test

    sketched = {}
    for model in sorted(PORTED):
        relation = f"{on_spark[model]}.{model}"
        duck = duckdb_table(duck_warehouse, relation)
        spark = spark_table(spark_server.port, relation, tmp_path / "spark_rows" / model)
        assert duck.num_rows > 0, f"{model} is empty: the comparison would prove nothing"
        if model in SKETCHED:
            sketched[model] = (duck, spark)
        else:
            assert_same_rows(model, duck, spark)
    lg_k = int(VARS["streaming_hll_precision"])
    check_daily_distinct_viewers(duck_warehouse, *sketched["stream_item_daily_distinct_viewers"], lg_k)
    check_distinct_viewers_windows(duck_warehouse, *sketched["rpt_item_distinct_viewers_windows"], lg_k)
    check_heavy_hitters(duck_warehouse, *sketched["stream_item_heavy_hitters"], int(VARS["streaming_top_k"]))


@pytest.mark.parametrize(
    ("lake_dir", "args", "error"),
    [
        # The location doubles the quote (models/staging/_shop__sources.yml); Spark's folder check refuses it.
        ("/tmp/lake' location '/etc", "{}", "lake folder must be an absolute path"),
        ("/tmp/lake [x]", "{}", "lake folder must be an absolute path"),
        ("/tmp/lake dir", "{}", "lake folder must be an absolute path"),
        ("relative/lake", "{}", "lake folder must be an absolute path"),
        ("/tmp/lake", "{tables: [page_views, 'x; drop table y']}", "no lake source named x; drop table y"),
    ],
)
def test_create_lake_tables_refuses_unsafe_paths_and_unknown_tables(
    spark_installed: None, spark_pipeline: Pipeline, tmp_path: Path, lake_dir: str, args: str, error: str
) -> None:
    # Validation runs before any statement: the port has no server, and nothing may reach it.
    env = {**_spark_env(spark_pipeline, tmp_path / "unused.duckdb", free_port()), "SHOP_ANALYTICS_LAKE_DIR": lake_dir}
    result = run_dbt_unchecked(["run-operation", "create_lake_tables", "--args", args], env, tmp_path)
    assert result.returncode != 0
    assert error in result.stdout, result.stdout[-3000:]
