"""Post-build checks: pass on consistent marts, fail with examples on broken ones, n/a when a mart is missing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from shop_analytics.cli import main
from shop_analytics.quality.post_build import FAIL, NOT_APPLICABLE, PASS, post_build_checks, run_checks

STAGING = """
CREATE SCHEMA staging; CREATE SCHEMA marts;
CREATE TABLE staging.stg_shop__users AS SELECT * FROM (VALUES (1, 'US'), (2, 'DE'), (3, 'FR')) t(user_id, country_code);
CREATE TABLE staging.stg_shop__page_views AS SELECT * FROM (VALUES (1, 10), (2, 10), (NULL, 11)) t(user_id, item_id);
CREATE TABLE staging.stg_shop__purchases AS
    SELECT * FROM (VALUES (1, 10, 2, 5.50::DECIMAL(12,2)), (1, 12, 1, 3.00), (2, 10, 1, 5.50)) t(user_id, item_id, quantity, amount);
CREATE TABLE staging.stg_shop__ratings AS SELECT * FROM (VALUES (3, 13, 4)) t(user_id, item_id, rating);
"""
GOOD_MARTS = """
CREATE TABLE marts.rpt_user_similarity AS SELECT * FROM (VALUES (1, 2, 0.5::DOUBLE), (2, 1, -1.0)) t(user_id, neighbour_id, similarity);
CREATE TABLE marts.rpt_recommendations AS SELECT * FROM (VALUES (1, 11, 1), (3, 10, 1)) t(user_id, item_id, rank);
CREATE TABLE marts.rpt_item_popularity AS SELECT * FROM (VALUES (10, 2, 2), (11, 0, 1)) t(item_id, viewer_count, view_count);
CREATE TABLE marts.dim_customer_purchase_summary AS
    SELECT * FROM (VALUES (1, 2, 3, 8.50::DECIMAL(12,2)), (2, 1, 1, 5.50)) t(customer_id, purchase_count, total_quantity, total_amount);
"""


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(STAGING)
    return con


def _by_name(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {r.name: r.status for r in post_build_checks(con)}


def test_missing_marts_are_not_applicable(con: duckdb.DuckDBPyConnection) -> None:
    assert set(_by_name(con).values()) == {NOT_APPLICABLE}


def test_consistent_marts_pass(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(GOOD_MARTS)
    assert set(_by_name(con).values()) == {PASS}


@pytest.mark.parametrize("breakage, check", [
    ("UPDATE marts.rpt_user_similarity SET similarity = 1.5 WHERE user_id = 1", "similarities within [-1, 1]"),
    ("UPDATE marts.rpt_user_similarity SET similarity = 'NaN'::DOUBLE WHERE user_id = 1",
     "similarities within [-1, 1]"),
    ("INSERT INTO marts.rpt_recommendations VALUES (3, 13, 2)", "no recommended item already seen"),
    ("UPDATE marts.rpt_item_popularity SET viewer_count = 4 WHERE item_id = 10", "popularity counts <= distinct users"),
    ("UPDATE marts.dim_customer_purchase_summary SET total_amount = 9 WHERE customer_id = 1",
     "purchase summary reconciles with staging"),
])
def test_each_breakage_fails_its_check(con: duckdb.DuckDBPyConnection, breakage: str, check: str) -> None:
    con.execute(GOOD_MARTS)
    con.execute(breakage)
    statuses = _by_name(con)
    assert statuses[check] == FAIL
    assert [n for n, s in statuses.items() if s == FAIL] == [check]


def test_cli_exits_non_zero_with_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute(STAGING)
    con.execute(GOOD_MARTS)
    con.execute("UPDATE marts.rpt_user_similarity SET similarity = 2 WHERE user_id = 1")
    con.close()
    assert main(["check", "--warehouse", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "similarity" in out and "e.g." in out
    assert [r.status for r in run_checks(path)].count(PASS) == 3
