"""Every source may be absent or empty: `dbt build` succeeds with empty marts; documented selections work fresh.

Each lake here is hand-made and tiny; the full builds are the point (every model and test must cope).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from oracles.commerce_lake import (
    AUDIT_SCHEMA,
    ITEM_SCHEMA,
    ORDER_LINE_SCHEMA,
    PURCHASE_SCHEMA,
    RATE_SCHEMA,
    USER_SCHEMA,
    write_table,
)
from shop_analytics.settings import DataLayout
from support.pipeline import dbt_env, run_dbt_together

PAGE_VIEW_SCHEMA = pa.schema(
    [
        ("page_view_id", pa.int64()),
        ("viewed_at", pa.timestamp("us")),
        ("user_id", pa.string()),
        ("item_id", pa.string()),
    ]
)
RATING_SCHEMA = pa.schema(
    [
        ("rating_id", pa.int64()),
        ("rated_at", pa.timestamp("us")),
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("rating", pa.int16()),
    ]
)
FACTS = {
    "page_views": PAGE_VIEW_SCHEMA,
    "ratings": RATING_SCHEMA,
    "purchases": PURCHASE_SCHEMA,
    "order_lines": ORDER_LINE_SCHEMA,
    "exchange_rates": RATE_SCHEMA,
}
# Marts that must hold rows only when there is data (evaluation reports one row per recommender).
ALWAYS_ROWS = {"rpt_recommendation_evaluation", "stream_event_id_filter", "stream_item_heavy_hitters"}
# The README's and docs/recommendations.md's documented selections.
DOCUMENTED_SELECTIONS = [
    ["build", "--select", "+rpt_recommendations"],
    ["build", "--select", "+path:models/marts", "--vars", "{timezone: Europe/Berlin, popularity_country: DE}"],
]


def _env(root: Path, warehouse: Path) -> dict[str, str]:
    env = dbt_env(DataLayout(root), warehouse)
    # The project's own setting (dbt_project.yml flags) must make selections work, not the test's.
    env.pop("DBT_INDIRECT_SELECTION", None)
    return env


def _mart_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY table_name"
            ).fetchall()
        ]
        return {name: con.execute(f'SELECT count(*) FROM marts."{name}"').fetchone()[0] for name in names}


def _assert_empty_marts(warehouse: Path) -> None:
    counts = _mart_counts(warehouse)
    assert {"fct_orders", "rpt_daily_revenue", "dim_customers", "rpt_ingest_quarantine"} <= counts.keys()
    assert {name: n for name, n in counts.items() if n and name not in ALWAYS_ROWS} == {}


def _absent_lake(root: Path) -> None:
    (root / "lake").mkdir(parents=True)


def _empty_lake(root: Path) -> None:
    lake = root / "lake"
    for source, schema in FACTS.items():
        write_table(lake / source / "event_date=2021-01-01" / "batch_2021-01-01_0.parquet", schema, [])
    write_table(lake / "users" / "batch_2021-01-01.parquet", USER_SCHEMA, [])
    write_table(lake / "items" / "batch_2021-01-01.parquet", ITEM_SCHEMA, [])
    write_table(lake / "_ingest_audit" / "batch_users__2021-01-01.parquet", AUDIT_SCHEMA, [])


def _anonymous_views_lake(root: Path) -> None:
    lake = root / "lake"
    when = dt.datetime(2021, 1, 1, 12)
    write_table(
        lake / "page_views" / "event_date=2021-01-01" / "batch_2021-01-01_0.parquet",
        PAGE_VIEW_SCHEMA,
        [(i, when, None, "10") for i in range(1, 6)],
    )
    write_table(lake / "users" / "batch_2021-01-01.parquet", USER_SCHEMA, [("1", "US", when)])
    write_table(
        lake / "items" / "batch_2021-01-01.parquet", ITEM_SCHEMA, [("10", "n", "cat0", "/items/10", 1.0, "USD", when)]
    )


STREAMING_SELECTION = ["build", "--select", "+path:models/marts/streaming +path:models/marts/engagement"]
# Each case: its lake and its dbt invocation, in a fresh folder and warehouse of its own.
CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "absent": (_absent_lake, ["build"]),
    "empty": (_empty_lake, ["build"]),
    "recommendations": (_absent_lake, DOCUMENTED_SELECTIONS[0]),
    "marts-berlin": (_absent_lake, DOCUMENTED_SELECTIONS[1]),
    "anonymous-views": (_anonymous_views_lake, STREAMING_SELECTION),
}


@dataclass(frozen=True)
class Built:
    """One case's dbt invocation: its outcome and its warehouse."""

    result: subprocess.CompletedProcess
    warehouse: Path

    def assert_succeeded(self) -> None:
        assert self.result.returncode == 0, f"dbt failed:\n{self.result.stdout[-6000:]}\n{self.result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Every case's lake written, then their dbt invocations run side by side (run_dbt_together: independent
    folders and warehouses, one process per core at a time): name -> Built. Each test asserts on its own build.
    """
    runs, warehouses = [], {}
    for name, (write_lake, args) in CASES.items():
        root = tmp_path_factory.mktemp(f"empty_sources_{name}")
        write_lake(root)
        warehouses[name] = root / "warehouse.duckdb"
        runs.append((args, _env(root, warehouses[name]), root))
    results = run_dbt_together(runs, check=False)
    return {name: Built(result, warehouses[name]) for name, result in zip(CASES, results, strict=True)}


def test_build_succeeds_with_every_source_absent(built: dict[str, Built]) -> None:
    built["absent"].assert_succeeded()
    _assert_empty_marts(built["absent"].warehouse)


def test_build_succeeds_with_every_source_empty(built: dict[str, Built]) -> None:
    built["empty"].assert_succeeded()
    _assert_empty_marts(built["empty"].warehouse)


@pytest.mark.parametrize("case", ["recommendations", "marts-berlin"])
def test_documented_selection_works_on_a_fresh_warehouse(tmp_path: Path, built: dict[str, Built], case: str) -> None:
    assert CASES[case][1] in DOCUMENTED_SELECTIONS
    assert "DBT_INDIRECT_SELECTION" not in _env(tmp_path, tmp_path / "w.duckdb")
    built[case].assert_succeeded()


def test_all_anonymous_page_views_build_the_streaming_marts(built: dict[str, Built]) -> None:
    built["anonymous-views"].assert_succeeded()
    counts = _mart_counts(built["anonymous-views"].warehouse)
    assert counts["stream_item_daily_distinct_viewers"] == 0  # no viewer id to count
    assert counts["stream_item_heavy_hitters"] == 1  # the views themselves still count
    assert os.environ.get("DBT_INDIRECT_SELECTION") in (None, "cautious")
