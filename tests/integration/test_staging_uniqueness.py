"""Staging trusts ingest to admit each event id once, and a lake that breaks that fails `dbt build`.

The edge lake is written around ingest and holds one replayed page view and one
replayed purchase. With the default vars the staging views pass them through and
their `unique` tests must fail, naming the key; with `deduplicate_lake_events`
staging keeps one copy and the same tests pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from oracles.edge_lake import EDGE_DBT_VARS, PAGE_VIEWS, PURCHASES, edge_lake_root
from shop_analytics.settings import DataLayout
from support.pipeline import dbt_env, run_dbt

STAGING = ["stg_shop__page_views", "stg_shop__purchases"]


def _replayed(rows: list[tuple]) -> set[int]:
    ids = [row[0] for row in rows]
    return {i for i in ids if ids.count(i) > 1}


@pytest.fixture(scope="module")
def edge_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edge_lake_root(tmp_path_factory.mktemp("edge_uniqueness"))


def _fresh_warehouse(edge_root: Path, name: str) -> tuple[Path, dict[str, str]]:
    warehouse = edge_root / name / "warehouse.duckdb"
    warehouse.parent.mkdir()
    return warehouse, dbt_env(DataLayout(edge_root), warehouse)


def test_edge_lake_holds_replays() -> None:
    assert _replayed(PAGE_VIEWS) and _replayed(PURCHASES)


def test_default_staging_fails_its_unique_tests_on_replays(edge_root: Path) -> None:
    warehouse, env = _fresh_warehouse(edge_root, "trusting")
    with pytest.raises(AssertionError) as failed:
        run_dbt(["build", "--select", *STAGING], env, warehouse.parent)
    output = str(failed.value)
    assert "unique_stg_shop__page_views_page_view_id" in output
    assert "unique_stg_shop__purchases_purchase_id" in output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        replayed_views = con.execute(
            "SELECT count(*) - count(DISTINCT page_view_id) FROM staging.stg_shop__page_views"
        ).fetchone()[0]
    assert replayed_views == len(_replayed(PAGE_VIEWS))


def test_deduplicating_staging_passes_them(edge_root: Path) -> None:
    warehouse, env = _fresh_warehouse(edge_root, "deduplicating")
    # The edge lake also holds purchases without a user, which staging's not_null test rejects.
    run_dbt(
        ["build", "--select", *STAGING, "--exclude", "test_name:not_null", "--vars", json.dumps(EDGE_DBT_VARS)],
        env,
        warehouse.parent,
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        views = con.execute(
            "SELECT count(*), count(DISTINCT page_view_id) FROM staging.stg_shop__page_views"
        ).fetchone()
        purchases = con.execute(
            "SELECT count(*), count(DISTINCT purchase_id) FROM staging.stg_shop__purchases"
        ).fetchone()
    assert views[0] == views[1] == len({row[0] for row in PAGE_VIEWS})
    assert purchases[0] == purchases[1] == len({row[0] for row in PURCHASES})
