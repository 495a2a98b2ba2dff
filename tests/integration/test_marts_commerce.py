"""Commerce marts (orders, netting, currencies, countries) equal the plain-Python oracle on a hand-made lake.

The lake (tests/oracles/commerce_lake.py) holds every shape real order data brings: an order spanning
midnight, a cancellation on a later day, partial and split returns, identical lines under different line
numbers, a credit note, an over-reversal, mixed currencies with direct, inverse, triangulated, stale and
missing rates, country codes, aliases, names, an unknown and a missing country, guest orders, a v1
purchase, a return of an order the lake does not hold, a pre-2000 order, and a DST change day in
Europe/Berlin. Each time zone is built once (`dbt build` of the commerce marts and their parents,
so the marts' dbt tests run on this lake too).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from oracles import commerce
from oracles.commerce_lake import AUDIT, write_commerce_lake
from oracles.dbt_runs import assert_same_rows, build_per_zone
from support.pipeline import ROOT

MARTS = [
    "fct_order_lines",
    "fct_orders",
    "rpt_daily_revenue",
    "fct_same_day_repeat_purchases",
    "dim_customer_purchase_summary",
    "dim_customers",
    "dim_products",
    "rpt_ingest_quarantine",
]
UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")  # DST starts 2021-03-28, the busiest day of the lake


def _seed(name: str) -> list[dict]:
    with (ROOT / "seeds" / f"{name}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _surrogate(natural_key: str) -> int:
    """The documented surrogate key: the first 15 hex digits of md5(key) as an integer."""
    return int(hashlib.md5(natural_key.encode()).hexdigest()[:15], 16)


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("commerce")
    write_commerce_lake(root / "lake")
    return root


@pytest.fixture(scope="module")
def built(lake_root: Path) -> dict[str, Path]:
    """`dbt build` of the commerce marts and their parents (their dbt tests too) in each zone: zone key -> warehouse."""
    selection = " ".join(f"+{m}" for m in MARTS)
    return build_per_zone(lake_root, ["build", "--select", selection], {}, [UTC, BERLIN])


def _rows(warehouse: Path, model: str, columns: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"SELECT {columns} FROM marts.{model}").fetchall()


def _netted(lake_root: Path, zone: ZoneInfo) -> commerce.Netted:
    return commerce.net(commerce.read_commerce_lake(lake_root / "lake"), zone)


@pytest.mark.parametrize("zone", [UTC, BERLIN], ids=["UTC", "Europe-Berlin"])
def test_order_marts_match_oracle(lake_root: Path, built: dict[str, Path], zone: ZoneInfo) -> None:
    warehouse, netted = built[zone.key], _netted(lake_root, zone)
    assert_same_rows(_rows(warehouse, "fct_order_lines", commerce.ORDER_LINE_COLUMNS), commerce.order_lines(netted))
    assert_same_rows(_rows(warehouse, "fct_orders", commerce.ORDER_COLUMNS), commerce.order_rows(netted, zone))
    assert_same_rows(_rows(warehouse, "rpt_daily_revenue", "*"), commerce.daily_revenue(netted))


@pytest.mark.parametrize("zone", [UTC, BERLIN], ids=["UTC", "Europe-Berlin"])
def test_customer_marts_match_oracle(lake_root: Path, built: dict[str, Path], zone: ZoneInfo) -> None:
    warehouse = built[zone.key]
    lake = commerce.read_commerce_lake(lake_root / "lake")
    netted = commerce.net(lake, zone)
    countries, aliases = _seed("countries"), _seed("country_aliases")
    assert_same_rows(
        _rows(warehouse, "fct_same_day_repeat_purchases", commerce.REPEAT_COLUMNS),
        commerce.same_day_repeat_purchases(netted, zone),
    )
    assert_same_rows(
        _rows(warehouse, "dim_customer_purchase_summary", commerce.SUMMARY_COLUMNS),
        commerce.customer_purchase_summary(lake, netted, zone, countries, aliases),
    )
    assert_same_rows(
        _rows(warehouse, "dim_customers", "customer_id, country_raw, country_code, country_status"),
        commerce.customers(lake, countries, aliases),
    )


def test_surrogate_keys_are_md5_prefixes(built: dict[str, Path]) -> None:
    warehouse = built["UTC"]
    for model, natural, key in [
        ("dim_customers", "customer_id", "customer_key"),
        ("dim_products", "item_id", "item_key"),
        ("fct_orders", "order_id", "order_key"),
    ]:
        rows = _rows(warehouse, model, f"{natural}, {key}")
        assert rows and all(k == _surrogate(n) for n, k in rows), model
    # leading zeros are significant: '007' and '7' are two customers with two keys
    keys = dict(_rows(warehouse, "dim_customers", "customer_id, customer_key"))
    assert keys["007"] != keys["7"]


def test_products_flag_unknown_and_missing_categories(lake_root: Path, built: dict[str, Path]) -> None:
    lake = commerce.read_commerce_lake(lake_root / "lake")
    known = {row["category"] for row in _seed("categories")}
    expected = [
        (
            i,
            item["category"],
            "missing" if item["category"] is None else "valid" if item["category"] in known else "unknown",
        )
        for i, item in lake.items.items()
    ]
    assert_same_rows(_rows(built["UTC"], "dim_products", "item_id, category, category_status"), expected)


def test_ingest_quarantine_report_matches_audit(built: dict[str, Path]) -> None:
    expected = [
        (source, batch, reason, rows, rows_in, quarantined, status)
        for source, batch, status, rows_in, _, quarantined, reasons, _, _ in AUDIT
        for reason, rows in reasons
    ]
    columns = "source_name, batch_id, reason, quarantined_rows, batch_rows_in, batch_rows_quarantined, batch_status"
    assert_same_rows(_rows(built["UTC"], "rpt_ingest_quarantine", columns), expected)


def test_edge_lake_holds_the_cases_it_claims(lake_root: Path) -> None:
    """Guards the hand-made data: hand-derived facts of the netting, currency and country rules."""
    zone_rows = {}
    for zone in (UTC, BERLIN):
        netted = _netted(lake_root, zone)
        zone_rows[zone.key] = netted
        statuses = {o.order_id: o.status for o in commerce.orders(netted, zone)}
        assert statuses["O1"] == "partially_reversed"  # 8 of 12 units cancelled a few days later
        assert statuses["O3"] == statuses["O8c"] == "cancelled"
        assert statuses["O4"] == "returned"  # returned in two parts on two later days
        assert statuses["O5"] == "completed"  # a guest order
        assert {line.fx_method for line in netted.lines} == {
            "same_currency",
            "direct",
            "inverse",
            "triangulated",
            "missing",
        }
    utc = zone_rows["UTC"]
    o1 = {line.line_number: line for line in utc.lines if line.order_id == "O1"}
    # the item-matched cancellation of 8 units fills line 1 (6 units) then line 3 (2 of 4)
    assert [(q, a) for _, q, a, _, _ in o1[1].pieces] == [(6, Decimal("15.3000"))]
    assert [(q, a) for _, q, a, _, _ in o1[3].pieces] == [(2, Decimal("5.1000"))]
    # O1 spans midnight UTC but stays on its first line's date
    assert {o1[1].ordered_at.date(), o1[2].ordered_at.date()} == {dt.date(2021, 3, 26), dt.date(2021, 3, 27)}
    assert {line.activity_date for line in o1.values()} == {dt.date(2021, 3, 26)}
    # CHF has a rate, but older than the 7-day window: missing, not silently stale
    assert next(line for line in utc.lines if line.order_id == "O6").fx_method == "missing"
    # the guest order at 22:30 UTC on the DST change day is the next day in Berlin
    o5 = {z: next(line for line in n.lines if line.order_id == "O5").activity_date for z, n in zone_rows.items()}
    assert o5 == {"UTC": dt.date(2021, 3, 28), "Europe/Berlin": dt.date(2021, 3, 29)}
    # customer 7: two v2 orders and a v1 purchase that day; its cancelled order does not count
    repeat = {(r[0], r[1]): r[2] for r in commerce.same_day_repeat_purchases(utc, UTC)}
    assert repeat[("7", dt.date(2021, 3, 28))] == 3
    assert next(line for line in utc.lines if line.order_id == "CN1").is_credit_note
    assert next(line for line in utc.lines if line.order_id == "R-X").is_credit_note  # unknown original order
    # the pre-2000 order lands on 1999-12-31 in UTC and on 2000-01-01 in Berlin
    o0 = {z: next(line for line in n.lines if line.order_id == "O0").activity_date for z, n in zone_rows.items()}
    assert o0 == {"UTC": dt.date(1999, 12, 31), "Europe/Berlin": dt.date(2000, 1, 1)}
    countries = {
        u: s
        for u, _, _, s in commerce.customers(
            commerce.read_commerce_lake(lake_root / "lake"), _seed("countries"), _seed("country_aliases")
        )
    }
    assert countries == {
        "C001": "valid",
        "C002": "alias",
        "C003": "alias",
        "C004": "unknown",
        "C005": "missing",
        "007": "valid",
        "7": "alias",
        "C008": "valid",
    }
