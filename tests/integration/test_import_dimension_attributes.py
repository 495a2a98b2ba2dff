"""A derived users/items attribute comes from a value the gate accepts, so no customer's or product's lines are lost.

The rule (docs/import.md, "Derived dimensions"): a defect in a dimension attribute never
removes that customer's or product's facts. Before, the first line's price or time was
copied; when the gate refused it (a zero or sub-cent price, a local time in a DST gap, a
time before the window) the whole product or customer was quarantined and every one of
its order lines with it, as unknown_item / unknown_user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shop_analytics.ingest import ingest
from shop_analytics.settings import DataLayout
from support.import_support import batch_rows, run_import
from support.pipeline import ingest_settings

# Hand-made: Z's first line is a zero-price adjustment, S's first line is sub-cent, F has only zero
# prices; customer "gap" first buys inside New York's spring-forward gap (2011-03-13 02:00-03:00),
# customer "old" in 1965 (before the gate's window, which starts 1970-01-01), written after a later line.
LINES = """inv,sku,qty,at,price,cust
o1,Z,1,2011-02-01 10:00,0,c1
o2,Z,2,2011-02-02 10:00,2.95,c1
o3,S,1,2011-02-03 10:00,0.001,c1
o4,S,1,2011-02-04 10:00,1.25,c1
o5,S,3,2011-02-05 10:00,1.30,c1
o6,F,1,2011-02-06 10:00,0,c1
o7,A,1,2011-03-13 02:30,1.00,gap
o8,A,1,2011-04-03 10:00,1.00,gap
o9,A,2,2011-04-04 10:00,1.00,gap
o11,A,1,2011-05-01 10:00,1.00,old
o10,A,1,1965-06-01 10:00,1.00,old
"""
MAPPING: dict[str, Any] = {
    "source": "order_lines",
    "columns": {
        "order_id": "inv",
        "item_id": "sku",
        "quantity": "qty",
        "ordered_at": "at",
        "unit_price": "price",
        "user_id": "cust",
    },
    "constants": {"currency": "USD", "line_type": "sale"},
    "derive": {"line_number": "order_appearance", "line_amount": "quantity_times_unit_price"},
    "timestamp": {"time_zone": "America/New_York"},
    "dimensions": {
        "users": {"constants": {"country_code": "US"}, "first_event_time": True},
        "items": {"columns": {"price": "price"}, "constants": {"price_currency": "USD"}},
    },
}


def _import(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "lines.csv"
    path.write_text(LINES)
    result = run_import(tmp_path, path, MAPPING)
    return {b.source: b for b in result.written}


def test_each_attribute_comes_from_a_value_the_gate_accepts(tmp_path: Path) -> None:
    written = _import(tmp_path)
    assert batch_rows(written["items"].folder) == [
        {"item_id": k, "name": None, "category": None, "page_url_path": None, "price": p, "price_currency": "USD",
         "created_at": None}
        for k, p in (("Z", "2.95"), ("S", "1.25"), ("F", None), ("A", "1.00"))
    ]  # fmt: skip
    assert batch_rows(written["users"].folder) == [
        {"user_id": "c1", "country_code": "US", "signup_at": "2011-02-01 10:00"},
        {"user_id": "gap", "country_code": "US", "signup_at": "2011-04-03 10:00"},
        {"user_id": "old", "country_code": "US", "signup_at": "2011-05-01 10:00"},
    ]


def test_skipped_and_empty_attributes_are_counted_with_an_example(tmp_path: Path) -> None:
    written = _import(tmp_path)
    assert written["items"].notes == (
        "2 item_id value(s) have more than one price in the file; the first one the gate accepts is used",
        "2 item_id value(s) have a first price the gate would refuse (e.g. item_id 'Z': '0', invalid_value:price); "
        "the first one it accepts is used",
        "1 item_id value(s) have no price the gate would accept (e.g. item_id 'F': '0', invalid_value:price): "
        "price left empty",
    )
    assert written["users"].notes == (
        "2 user_id value(s) have an earliest signup_at the gate would refuse (e.g. user_id 'gap': "
        "'2011-03-13 02:30', invalid_local_time:signup_at); the earliest one it accepts is used",
    )


def test_every_valid_line_of_those_products_and_customers_is_admitted(tmp_path: Path) -> None:
    _import(tmp_path)
    layout = DataLayout(tmp_path)  # the import wrote tmp_path/landing
    reports = {r.source: r for r in ingest(layout, ingest_settings())}
    assert {s: (r.rows_admitted, r.rows_quarantined) for s, r in reports.items()} == {
        "users": (3, 0),
        "items": (4, 0),
        "order_lines": (8, 3),  # only the three lines that are themselves wrong: o3, o7, o10
    }
    assert reports["order_lines"].quarantined_by_reason == {
        "invalid_precision:unit_price": 1,  # o3: 0.001 USD
        "invalid_precision:line_amount": 1,
        "invalid_local_time:ordered_at": 1,  # o7: in the DST gap
        "timestamp_out_of_range:ordered_at": 1,  # o10: 1965
    }


def test_a_constant_price_the_gate_refuses_is_left_empty_and_said(tmp_path: Path) -> None:
    """`price: "0"` for every product: the gate would quarantine every product, and every line as unknown_item."""
    mapping = {
        **MAPPING,
        "dimensions": {**MAPPING["dimensions"], "items": {"constants": {"price": "0", "price_currency": "USD"}}},
    }
    path = tmp_path / "lines.csv"
    path.write_text(LINES)
    written = {b.source: b for b in run_import(tmp_path, path, mapping).written}
    assert {row["price"] for row in batch_rows(written["items"].folder)} == {None}
    assert written["items"].notes == (
        "4 item_id value(s) have no price the gate would accept (e.g. item_id 'Z': '0', invalid_value:price): "
        "price left empty",
    )
    reports = {r.source: r for r in ingest(DataLayout(tmp_path), ingest_settings())}
    assert (reports["items"].rows_admitted, reports["items"].rows_quarantined) == (4, 0)
    assert "unknown_item:item_id" not in reports["order_lines"].quarantined_by_reason
