"""The one check framework: domain and generic checks pass, fail with examples, warn, or do not apply.
That `check` and `publish` run the same checks is tested in test_publish_guarded.py."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from shop_analytics.checks import CheckResult, Status, default_checks, format_report, run_checks
from shop_analytics.cli import main
from shop_analytics.exit_codes import ExitCode
from shop_analytics.publish import check_build
from shop_analytics.warehouse import find_relations
from support.build_files import GOOD_MARTS, STAGING, make_marts_build

DOMAIN = [
    "similarities within [-1, 1]",
    "no recommended item already seen",
    "popularity counts <= distinct users",
    "purchase summary reconciles with staging",
]
COMMERCE = ["no over-reversed orders", "customer countries resolve", "exchange rates cover every order line"]
BREAKAGES = [
    ("UPDATE marts.rpt_user_similarity SET similarity = 1.5 WHERE user_id = 1", DOMAIN[0]),
    # NaN breaks two checks: the generic one and the domain one.
    (
        "UPDATE marts.rpt_user_similarity SET similarity = 'NaN'::DOUBLE WHERE user_id = 1",
        f"finite_floating_columns|{DOMAIN[0]}",
    ),
    ("INSERT INTO marts.rpt_recommendations VALUES (3, 13, 2)", DOMAIN[1]),
    ("UPDATE marts.rpt_item_popularity SET viewer_count = 4 WHERE item_id = 10", DOMAIN[2]),
    ("UPDATE marts.dim_customer_purchase_summary SET line_count = 3 WHERE customer_id = '1'", DOMAIN[3]),
    ("UPDATE marts.dim_customer_purchase_summary SET cancelled_order_count = 0 WHERE customer_id = '2'", DOMAIN[3]),
]
# Flagged rows are correct data: the commerce checks warn with examples, they never block.
FLAGS = [
    ("UPDATE marts.fct_orders SET is_over_reversed = true, returned_quantity = 2 WHERE order_id = 'O3'", COMMERCE[0]),
    ("UPDATE marts.dim_customers SET country_status = 'unknown', country_raw = 'Atlantis'", COMMERCE[1]),
    ("INSERT INTO marts.dim_customers VALUES ('3', NULL, 'missing')", COMMERCE[1]),
    ("UPDATE marts.fct_order_lines SET is_missing_rate = true, currency = 'SEK'", COMMERCE[2]),
]


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(STAGING)
    return con


def _statuses(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = ("marts",)) -> dict[str, Status]:
    relations = find_relations(con, schemas)
    return {r.name: r.status for r in run_checks(con, relations, default_checks())}


def test_missing_marts_are_not_applicable(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE marts.other AS SELECT 1 AS x")
    statuses = _statuses(con)
    assert {statuses[name] for name in DOMAIN + COMMERCE} == {Status.NOT_APPLICABLE}


def test_consistent_marts_pass(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(GOOD_MARTS)
    assert set(_statuses(con).values()) == {Status.PASS}


@pytest.mark.parametrize("breakage, check", BREAKAGES)
def test_each_breakage_fails_its_check(con: duckdb.DuckDBPyConnection, breakage: str, check: str) -> None:
    con.execute(GOOD_MARTS)
    con.execute(breakage)
    statuses = _statuses(con)
    assert [n for n, s in statuses.items() if s is Status.FAIL] == check.split("|")


@pytest.mark.parametrize("flag, check", FLAGS)
def test_each_commerce_flag_warns_with_examples(con: duckdb.DuckDBPyConnection, flag: str, check: str) -> None:
    con.execute(GOOD_MARTS)
    con.execute(flag)
    results = {r.name: r for r in run_checks(con, find_relations(con, ["marts"]), default_checks())}
    assert [n for n, r in results.items() if r.status is not Status.PASS] == [check]
    assert results[check].status is Status.WARN and results[check].count >= 1 and results[check].examples


def test_a_mart_that_is_not_checked_here_is_not_applicable(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(GOOD_MARTS)
    con.execute(BREAKAGES[0][0])
    con.execute("CREATE SCHEMA reference; CREATE TABLE reference.countries AS SELECT 'US' AS country_code")
    statuses = _statuses(con, ("reference",))  # e.g. `publish --schemas reference`
    assert statuses[DOMAIN[0]] is Status.NOT_APPLICABLE


def test_empty_relations_warn_no_input_rows_when_the_staging_input_is_empty_too() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE SCHEMA staging; CREATE SCHEMA marts; CREATE TABLE marts.fct_x (id INTEGER);"
        "CREATE TABLE lake_users (user_id INTEGER);"
        "CREATE VIEW staging.stg_shop__users AS SELECT * FROM lake_users"
    )
    [result] = run_checks(con, find_relations(con, ["marts"]), default_checks()[:1])
    assert (
        result.status is Status.WARN and "no input rows" in result.detail and "SHOP_ANALYTICS_LAKE_DIR" in result.detail
    )
    con.execute("INSERT INTO lake_users VALUES (1)")
    [result] = run_checks(con, find_relations(con, ["marts"]), default_checks()[:1])
    assert result.status is Status.WARN and result.examples == ("marts.fct_x",)


def test_report_lists_every_status_with_examples() -> None:
    report = format_report(
        [
            CheckResult.passed("a", "fine"),
            CheckResult.failure("b", "2 bad", 2, ["x=1", "x=2"]),
            CheckResult.warning("c", "odd", 1, ["y"]),
            CheckResult.not_applicable("d", "nothing"),
        ]
    )
    assert report.splitlines() == [
        "[     PASS     ] a: fine",
        "[     FAIL     ] b: 2 bad",
        "                 e.g. x=1",
        "                 e.g. x=2",
        "[     WARN     ] c: odd",
        "                 e.g. y",
        "[NOT APPLICABLE] d: nothing",
        "4 checks: 1 passed, 1 failed, 1 warned, 1 not applicable",
    ]


def test_check_passes_on_a_consistent_build_and_names_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_marts_build(tmp_path / "wh.duckdb")
    assert main(["check", "--warehouse", str(path)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.startswith("build: `dbt build` (invocation ") and "9 checks: 9 passed, 0 failed" in out
    checked = check_build(path)
    assert checked.verdict.complete and [r.name for r in checked.results] == [c.name for c in default_checks()]
