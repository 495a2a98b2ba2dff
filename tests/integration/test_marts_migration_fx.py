"""Purchase marts of a shop migrating from contract v1 to v2, with long exchange rates (oracles/migration_fx_lake).

Two real-data edges the generator never makes: a v2 order id equal to a v1 purchase id (two orders, never
merged; each reversal nets the one it names), and rates with up to 20 decimals, tiny and large, on amounts
where rounding a rate to 12 places would change the money. One `dbt build` (the dbt tests too) in UTC.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from oracles import commerce
from oracles.dbt_runs import assert_same_rows, build_per_zone
from oracles.migration_fx_lake import write_migration_fx_lake

UTC = ZoneInfo("UTC")
MARTS = ["fct_order_lines", "fct_orders", "rpt_daily_revenue", "fct_same_day_repeat_purchases"]
GRID = Decimal("0.0001")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(lake, warehouse): the lake and one `dbt build` of the marts and their parents, dbt tests (unique keys) too."""
    root = tmp_path_factory.mktemp("migration_fx")
    write_migration_fx_lake(root / "lake")
    selection = " ".join(f"+{m}" for m in MARTS)
    return root / "lake", build_per_zone(root, ["build", "--select", selection], {}, [UTC])[UTC.key]


def _query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_marts_match_oracle(built: tuple[Path, Path]) -> None:
    lake, warehouse = built
    netted = commerce.net(commerce.read_commerce_lake(lake), UTC)
    marts = {m: f"SELECT {{}} FROM marts.{m}" for m in MARTS}
    assert_same_rows(
        _query(warehouse, marts["fct_order_lines"].format(commerce.ORDER_LINE_COLUMNS)), commerce.order_lines(netted)
    )
    assert_same_rows(
        _query(warehouse, marts["fct_orders"].format(commerce.ORDER_COLUMNS)), commerce.order_rows(netted, UTC)
    )
    assert_same_rows(_query(warehouse, marts["rpt_daily_revenue"].format("*")), commerce.daily_revenue(netted))
    assert_same_rows(
        _query(warehouse, marts["fct_same_day_repeat_purchases"].format(commerce.REPEAT_COLUMNS)),
        commerce.same_day_repeat_purchases(netted, UTC),
    )


def test_v2_order_ids_never_meet_v1_purchase_ids(built: tuple[Path, Path]) -> None:
    warehouse = built[1]
    orders = {
        order_id: (key, customer, status, lines)
        for order_id, key, customer, status, lines in _query(
            warehouse, "SELECT order_id, order_key, customer_id, order_status, line_count FROM marts.fct_orders"
        )
    }

    def surrogate(natural_key: str) -> int:
        return int(hashlib.md5(natural_key.encode()).hexdigest()[:15], 16)

    # the v2 order 5001 (two lines, one returned) and the purchase 5001 (cancelled by 'purchase:5001')
    assert orders["5001"] == (surrogate("5001"), "U2", "partially_reversed", 2)
    assert orders["purchase:5001"] == (surrogate("purchase:5001"), "U1", "cancelled", 1)
    assert orders["77"] == (surrogate("77"), "U3", "completed", 1)
    assert orders["purchase:77"] == (surrogate("purchase:77"), "U1", "completed", 1)
    credit_notes = _query(warehouse, "SELECT order_id FROM marts.fct_order_lines WHERE is_credit_note")
    assert credit_notes == []  # both reversals found the order they name


def test_long_rates_convert_exactly(built: tuple[Path, Path]) -> None:
    warehouse = built[1]
    amounts = dict(
        _query(warehouse, "SELECT order_id, line_amount_reporting FROM marts.fct_order_lines WHERE line_number = 1")
    )

    def exact(amount: str, rate: str) -> Decimal:
        """The rate as written times the amount, rounded half away from zero to 4 places once."""
        return (Decimal(amount) * Decimal(rate)).quantize(GRID, rounding=ROUND_HALF_UP)

    # direct rates with 20 and 19 decimals: exact
    assert amounts["FX-VND"] == exact("987654321098", "0.00000012345678901234")
    assert amounts["FX-IRR"] == exact("9876543210987.65", "0.0000237512345678901")
    # inverse and triangulated rates are DOUBLE quotients: within one step of the 4th decimal of the exact quotient
    idr = (Decimal("12345678901.23") / Decimal("16300.5")).quantize(GRID, rounding=ROUND_HALF_UP)
    assert abs(amounts["FX-IDR"] - idr) <= GRID
    mxn = (Decimal("1234567890.12") * Decimal("0.046512345678901") / Decimal("0.8")).quantize(
        GRID, rounding=ROUND_HALF_UP
    )
    assert abs(amounts["FX-MXN"] - mxn) <= GRID
