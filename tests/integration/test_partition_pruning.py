"""A date filter on event_date reads only the matching hive partitions, as DuckDB's own profiler reports.

The check reads the READ_PARQUET operator's "Total Files Read" from DuckDB's JSON
profiling output and compares it with the number of lake files whose
event_date=... folder matches the filter, counted from the file system. A control
query without the filter must read every file, so the test fails if the filter
is removed or stops pushing down. With var deduplicate_lake_events staging
reads the lake more than once (the replayed-key check and the rows; see macro
deduplicate_events): every one of those scans must be pruned, and the row scan
reads every matching file (a scan that finds nothing to join with may stop
after its first file).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from support.pipeline import Warehouse, dbt_env, run_dbt

# Defaults from dbt_project.yml vars; the warehouse fixture builds with them.
POPULARITY_SINCE = dt.date(2017, 1, 1)
TRENDS_SINCE, TREND_WINDOW_DAYS = dt.date(2018, 1, 1), 7


def _lake_files(lake: Path, source: str, since: dt.date | None = None) -> int:
    files = 0
    for folder in (lake / source).glob("event_date=*"):
        if since is None or dt.date.fromisoformat(folder.name.split("=", 1)[1]) >= since:
            files += len(list(folder.glob("*.parquet")))
    return files


def _assert_pruned(counts: list[int], expected: int) -> None:
    """Every scan read at most the `expected` matching files, and one of them read all of them."""
    assert max(counts) == expected and all(count <= expected for count in counts), (counts, expected)


def _files_read(warehouse: Path, sql: str, profile: Path, source: str) -> list[int]:
    """Total Files Read of every Parquet scan of lake/`source` in the profiled run of `sql`."""
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute("SET enable_progress_bar = false")
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute(f"PRAGMA profiling_output = '{profile}'")
    con.execute(sql).fetchall()
    con.execute("PRAGMA disable_profiling")
    con.close()
    counts: list[int] = []

    def walk(node: dict) -> None:
        info = node.get("extra_info", {})
        is_scan = node.get("operator_name") == "READ_PARQUET" or info.get("Function") == "READ_PARQUET"
        if is_scan and f"/{source}/" in str(info.get("Filename(s)", "")):
            counts.append(int(info["Total Files Read"]))
        for child in node.get("children", []):
            walk(child)

    walk(json.loads(profile.read_text()))
    assert counts, f"no READ_PARQUET operator over {source} in the profile"
    return counts


@pytest.fixture(scope="module")
def deduplicating_staging(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The staging views over the same lake built with deduplicate_lake_events (three scans per view)."""
    work = tmp_path_factory.mktemp("dedup_staging")
    path = work / "warehouse.duckdb"
    run_dbt(
        ["run", "--select", "path:models/staging", "--vars", '{"deduplicate_lake_events": true}'],
        dbt_env(warehouse.pipeline.layout, path),
        work,
    )
    return path


def _check_staging(warehouse_path: Path, lake: Path, tmp_path: Path, source: str, view: str) -> None:
    cutoff = dt.date(2018, 11, 15)
    expected, everything = _lake_files(lake, source, cutoff), _lake_files(lake, source)
    assert 0 < expected < everything
    filtered = _files_read(
        warehouse_path,
        f"SELECT count(*) FROM staging.{view} WHERE event_date >= DATE '{cutoff}'",
        tmp_path / "f.json",
        source,
    )
    control = _files_read(warehouse_path, f"SELECT count(*) FROM staging.{view}", tmp_path / "c.json", source)
    _assert_pruned(filtered, expected)
    _assert_pruned(control, everything)


STAGED_FACTS = [("page_views", "stg_shop__page_views"), ("purchases", "stg_shop__purchases")]


@pytest.mark.parametrize("source,view", STAGED_FACTS)
def test_event_date_filter_on_staging_reads_only_matching_partitions(
    warehouse: Warehouse, tmp_path: Path, source: str, view: str
) -> None:
    _check_staging(warehouse.path, warehouse.pipeline.layout.lake, tmp_path, source, view)


@pytest.mark.parametrize("source,view", STAGED_FACTS)
def test_deduplicating_staging_prunes_every_scan(
    warehouse: Warehouse, deduplicating_staging: Path, tmp_path: Path, source: str, view: str
) -> None:
    _check_staging(deduplicating_staging, warehouse.pipeline.layout.lake, tmp_path, source, view)


@pytest.mark.parametrize(
    "model,since",
    [
        ("int_page_views__filtered_to_audience", POPULARITY_SINCE),
        ("int_page_views__counted_by_item_day", TRENDS_SINCE - dt.timedelta(days=TREND_WINDOW_DAYS)),
    ],
)
def test_models_with_a_date_var_read_only_matching_partitions(
    warehouse: Warehouse, tmp_path: Path, model: str, since: dt.date
) -> None:
    lake = warehouse.pipeline.layout.lake
    expected = _lake_files(lake, "page_views", since)
    assert 0 < expected < _lake_files(lake, "page_views")
    # A view is read as it is; a table's own query is the SQL dbt compiled for its (full) first build.
    compiled = warehouse.path.parent / "target" / "compiled" / "shop_analytics" / "models" / "intermediate"
    query = next(compiled.rglob(f"{model}.sql")).read_text()
    read = _files_read(warehouse.path, f"SELECT count(*) FROM ({query}) AS m", tmp_path / "p.json", "page_views")
    _assert_pruned(read, expected)
