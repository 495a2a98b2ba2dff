"""dbt reads a lake whose folder name holds glob wildcards, quotes and braces: the name is escaped, never spliced.

DuckDB reads the lake through glob patterns (models/staging/_shop__sources.yml), where `[` `*` `?`
are wildcards: spliced as they are, a folder named `shop [test]` matched no file and every
staging view and mart came out empty while every dbt test passed. A quote broke the SQL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from support.pipeline import Pipeline, dbt_env, run_dbt

# Every character the lake's location escapes, and a `{name}` that dbt-duckdb must not format.
HOSTILE = "shop [test] o'neil *{name}? {{x}}"
# The staging views of every kind of source (facts, dimensions, the audit), a Python model that
# reads the raw source, and a retrained model, whose input key lists the lake's files.
MODELS = (
    "stg_shop__page_views",
    "stg_shop__users",
    "stg_shop__items",
    "stg_shop__ratings",
    "stg_shop__ingest_audit",
    "stream_event_id_filter",
    "int_ratings__current",
)


def _lake_rows(lake: Path, source: str) -> int:
    files = sorted(str(p) for p in (lake / source).rglob("*.parquet"))
    assert files, f"no {source} files in {lake}"
    row = duckdb.execute("SELECT count(*) FROM read_parquet(?, hive_partitioning = false)", [files]).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def hostile_build(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The pipeline's lake copied under HOSTILE, and a warehouse dbt built from it: (lake, warehouse)."""
    tmp = tmp_path_factory.mktemp("lake_path")
    lake = tmp / HOSTILE / "lake"
    shutil.copytree(pipeline.layout.lake, lake)
    warehouse = tmp / "warehouse.duckdb"
    env = {**dbt_env(pipeline.layout, warehouse), "SHOP_ANALYTICS_LAKE_DIR": str(lake)}
    run_dbt(["run", "--select", *MODELS], env, tmp)
    return lake, warehouse


@pytest.mark.parametrize(
    ("source", "view"),
    [("page_views", "stg_shop__page_views"), ("users", "stg_shop__users"), ("items", "stg_shop__items")],
)
def test_staging_reads_every_file_of_a_hostile_lake_folder(
    hostile_build: tuple[Path, Path], source: str, view: str
) -> None:
    lake, warehouse = hostile_build
    with duckdb.connect(str(warehouse), read_only=True) as con:
        definition = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ?", [view]).fetchone()
        row = con.execute(f"SELECT count(*) FROM staging.{view}").fetchone()
    assert definition is not None and "o''neil" in definition[0]
    assert row is not None
    if source == "page_views":  # staging keeps every admitted row
        assert row[0] == _lake_rows(lake, source) > 0
    else:  # a later snapshot supersedes an earlier one: one row per entity
        assert 0 < row[0] <= _lake_rows(lake, source)


def test_models_over_the_raw_source_and_the_retrain_key_read_the_hostile_folder(
    hostile_build: tuple[Path, Path],
) -> None:
    lake, warehouse = hostile_build
    with duckdb.connect(str(warehouse), read_only=True) as con:
        bloom = con.execute("SELECT keys_inserted FROM marts.stream_event_id_filter").fetchone()
        ratings = con.execute("SELECT count(*) FROM intermediate.int_ratings__current").fetchone()
        key = con.execute(
            "SELECT input_key FROM _shop_meta.retrain_inputs WHERE model = 'int_ratings__current'"
        ).fetchone()
    assert bloom is not None and bloom[0] == _lake_rows(lake, "page_views")
    assert ratings is not None and ratings[0] > 0
    assert key is not None and key[0]
