"""Engagement marts equal an independent plain-Python oracle, on generated data and on hand-made edge cases."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from oracles.dbt_runs import assert_same_rows, build_marts, read_rows
from oracles.edge_lake import EDGE_DBT_VARS, edge_lake_root
from oracles.engagement import Audience, item_popularity, item_trends, user_item_views
from oracles.lake import Lake, read_lake
from support.pipeline import Warehouse

MODELS = ["fct_user_item_views", "rpt_item_popularity", "rpt_item_trends"]
UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
# The project defaults (dbt_project.yml vars).
DEFAULT_AUDIENCE = Audience("US", dt.date(2017, 1, 1), UTC)
DEFAULT_TRENDS = {"since": dt.date(2018, 1, 1), "window_days": 7}
# Edge cases: a short window inside the hand-made data.
EDGE_TRENDS = {"since": dt.date(2017, 1, 3), "window_days": 3}


def _check(warehouse: Path, lake: Lake, audience: Audience, trends: dict) -> None:
    # Both audience marts are stored in a defined order, so the order is compared too.
    assert read_rows(warehouse, "fct_user_item_views") == user_item_views(lake, audience)
    assert read_rows(warehouse, "rpt_item_popularity") == item_popularity(lake, audience)
    assert_same_rows(
        read_rows(warehouse, "rpt_item_trends"),
        item_trends(lake, trends["since"], trends["window_days"], audience.zone),
    )


def test_engagement_marts_match_oracle_on_generated_data(warehouse: Warehouse) -> None:
    lake = read_lake(warehouse.pipeline.layout.lake)
    assert len(item_popularity(lake, DEFAULT_AUDIENCE)) > 10
    _check(warehouse.path, lake, DEFAULT_AUDIENCE, DEFAULT_TRENDS)


@pytest.fixture(scope="module")
def edge_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edge_lake_root(tmp_path_factory.mktemp("edge_engagement"))


@pytest.fixture(scope="module")
def edge_built(edge_root: Path) -> dict[str, Path]:
    """The engagement marts over the edge lake in each zone: zone key -> warehouse."""
    dbt_vars = {
        **EDGE_DBT_VARS,
        "popularity_country": "us",
        "popularity_since": "2017-01-01",
        "trends_since": EDGE_TRENDS["since"].isoformat(),
        "trend_window_days": EDGE_TRENDS["window_days"],
    }
    return build_marts(edge_root, MODELS, dbt_vars, [UTC, NEW_YORK])


@pytest.mark.parametrize("zone", [UTC, NEW_YORK], ids=["UTC", "America-New_York"])
def test_engagement_marts_match_oracle_on_edge_cases(
    edge_root: Path, edge_built: dict[str, Path], zone: ZoneInfo
) -> None:
    warehouse = edge_built[zone.key]
    _check(warehouse, read_lake(edge_root / "lake"), Audience("us", dt.date(2017, 1, 1), zone), EDGE_TRENDS)


def test_edge_cases_cover_what_they_claim(edge_root: Path) -> None:
    """Guards the edge data itself, so the oracle comparison above cannot pass vacuously."""
    # The edge lake keeps integer keys, as a lake written before contract v2: they read as text.
    lake = read_lake(edge_root / "lake")
    utc, new_york = Audience("US", dt.date(2017, 1, 1), UTC), Audience("US", dt.date(2017, 1, 1), NEW_YORK)
    popularity = {row[0]: row for row in item_popularity(lake, utc)}
    assert popularity["11"][3] == popularity["12"][3] and popularity["11"][5] == popularity["12"][5]  # a rank tie
    assert popularity["14"][3] == 1 and popularity["14"][4] == 2  # a single viewer, two views
    assert "13" in popularity and popularity["13"][3] == 1  # only user 1: no anonymous, foreign or unknown users
    views = {(r[0], r[1]): r[3] for r in user_item_views(lake, utc)}
    assert views[("1", "11")] == 1 and views[("1", "12")] == 1  # the cutoff is inclusive, to the microsecond
    assert views[("1", "13")] == 1  # a duplicated event counts once
    assert {(r[0], r[1]) for r in user_item_views(lake, new_york)} != set(views)  # the zone moves the cutoff
    trends = item_trends(lake, EDGE_TRENDS["since"], EDGE_TRENDS["window_days"], UTC)
    assert any(r[2] == 0 for r in trends)  # quiet days inside a window
    assert any(r[6] is None and r[1] > EDGE_TRENDS["since"] for r in trends)  # re-entry after a gap
    ranks_by_day = Counter((r[1], r[5]) for r in trends)
    assert max(ranks_by_day.values()) > 1  # ties in the window rank
