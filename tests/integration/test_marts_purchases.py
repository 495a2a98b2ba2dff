"""Purchase marts equal an independent plain-Python oracle, on generated data and on hand-made edge cases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from oracles.dbt_runs import assert_same_rows, build_marts, read_rows
from oracles.edge_lake import EDGE_DBT_VARS, edge_lake_root
from oracles.lake import Lake, read_lake
from oracles.purchases import customer_purchase_summary, same_day_repeat_purchases
from support.pipeline import Warehouse

MODELS = ["fct_same_day_repeat_purchases", "dim_customer_purchase_summary"]
UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")


def _check(warehouse: Path, lake: Lake, zone: ZoneInfo) -> None:
    assert_same_rows(read_rows(warehouse, "fct_same_day_repeat_purchases"), same_day_repeat_purchases(lake, zone))
    assert_same_rows(read_rows(warehouse, "dim_customer_purchase_summary"), customer_purchase_summary(lake, zone))


def test_purchase_marts_match_oracle_on_generated_data(warehouse: Warehouse) -> None:
    lake = read_lake(warehouse.pipeline.layout.lake)
    assert len(same_day_repeat_purchases(lake, UTC)) > 10  # the generator plants same-day repeats
    _check(warehouse.path, lake, UTC)


@pytest.fixture(scope="module")
def edge_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edge_lake_root(tmp_path_factory.mktemp("edge_purchases"))


@pytest.mark.parametrize("zone", [UTC, NEW_YORK], ids=["UTC", "America-New_York"])
def test_purchase_marts_match_oracle_on_edge_cases(edge_root: Path, zone: ZoneInfo) -> None:
    warehouse = build_marts(edge_root, MODELS, {**EDGE_DBT_VARS, "timezone": zone.key})
    _check(warehouse, read_lake(edge_root / "lake"), zone)


def test_edge_cases_make_the_time_zone_matter(edge_root: Path) -> None:
    """Guards the edge data: midnight purchases fall on different days in UTC and New York."""
    lake = read_lake(edge_root / "lake")
    utc = {(r[0], r[1]): r[2] for r in same_day_repeat_purchases(lake, UTC)}
    new_york = {(r[0], r[1]): r[2] for r in same_day_repeat_purchases(lake, NEW_YORK)}
    assert utc == {(1, dt.date(2017, 3, 10)): 2, (2, dt.date(2017, 3, 11)): 3}
    assert new_york == {(1, dt.date(2017, 3, 9)): 2, (2, dt.date(2017, 3, 11)): 2}
    assert any(r["user_id"] is None for r in lake.purchases)  # null users are present
