"""Commerce marts equal the plain-Python oracle on generated data (contract v1 purchases) and on the v1 edge lake."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from oracles import commerce
from oracles.dbt_runs import assert_same_rows, build_per_zone
from oracles.edge_lake import EDGE_DBT_VARS, edge_lake_root
from support.pipeline import ROOT, Warehouse

UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
EDGE_MARTS = ["fct_orders", "rpt_daily_revenue", "fct_same_day_repeat_purchases", "dim_customer_purchase_summary"]


def _seed(name: str) -> list[dict]:
    with (ROOT / "seeds" / f"{name}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _rows(warehouse: Path, model: str, columns: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"SELECT {columns} FROM marts.{model}").fetchall()


def _check(warehouse: Path, lake: commerce.CommerceLake, zone: ZoneInfo) -> commerce.Netted:
    netted = commerce.net(lake, zone)
    assert_same_rows(_rows(warehouse, "fct_orders", commerce.ORDER_COLUMNS), commerce.order_rows(netted, zone))
    assert_same_rows(_rows(warehouse, "rpt_daily_revenue", "*"), commerce.daily_revenue(netted))
    assert_same_rows(
        _rows(warehouse, "fct_same_day_repeat_purchases", commerce.REPEAT_COLUMNS),
        commerce.same_day_repeat_purchases(netted, zone),
    )
    assert_same_rows(
        _rows(warehouse, "dim_customer_purchase_summary", commerce.SUMMARY_COLUMNS),
        commerce.customer_purchase_summary(lake, netted, zone, _seed("countries"), _seed("country_aliases")),
    )
    return netted


def test_purchase_marts_match_oracle_on_generated_data(warehouse: Warehouse) -> None:
    lake = commerce.read_commerce_lake(warehouse.pipeline.layout.lake)
    netted = _check(warehouse.path, lake, UTC)
    assert len(commerce.same_day_repeat_purchases(netted, UTC)) > 10  # the generator plants same-day repeats
    assert_same_rows(
        _rows(warehouse.path, "fct_order_lines", commerce.ORDER_LINE_COLUMNS), commerce.order_lines(netted)
    )


@pytest.fixture(scope="module")
def edge_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edge_lake_root(tmp_path_factory.mktemp("edge_purchases"))


@pytest.fixture(scope="module")
def edge_built(edge_root: Path) -> dict[str, Path]:
    """`dbt build` of the edge marts (their dbt tests too) in each zone: zone key -> warehouse."""
    selection = " ".join(f"+{m}" for m in EDGE_MARTS)
    return build_per_zone(edge_root, ["build", "--select", selection], EDGE_DBT_VARS, [UTC, NEW_YORK])


@pytest.mark.parametrize("zone", [UTC, NEW_YORK], ids=["UTC", "America-New_York"])
def test_purchase_marts_match_oracle_on_v1_edge_cases(
    edge_root: Path, edge_built: dict[str, Path], zone: ZoneInfo
) -> None:
    _check(edge_built[zone.key], commerce.read_commerce_lake(edge_root / "lake", deduplicate=True), zone)


def test_edge_cases_make_the_time_zone_matter(edge_root: Path) -> None:
    """Guards the edge data: midnight purchases fall on different days in UTC and New York."""
    lake = commerce.read_commerce_lake(edge_root / "lake", deduplicate=True)
    utc = {(r[0], r[1]): r[2] for r in commerce.same_day_repeat_purchases(commerce.net(lake, UTC), UTC)}
    lake = commerce.read_commerce_lake(edge_root / "lake", deduplicate=True)
    new_york = {(r[0], r[1]): r[2] for r in commerce.same_day_repeat_purchases(commerce.net(lake, NEW_YORK), NEW_YORK)}
    assert utc == {("1", dt.date(2017, 3, 10)): 2, ("2", dt.date(2017, 3, 11)): 3}
    assert new_york == {("1", dt.date(2017, 3, 9)): 2, ("2", dt.date(2017, 3, 11)): 2}
    assert any(line.user_id is None for line in lake.lines)  # guest purchases are present
