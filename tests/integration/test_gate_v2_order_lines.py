"""Contract v2 order lines at the gate: keys, duplicates, currencies and minor units, orders and their reversals."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from support.gate_v2_data import build_v2_baseline, ingest, land_lines, line
from support.handmade_landing import (
    assert_accounted,
    copy_baseline,
    csv_bytes,
    lake_rows,
    land,
    purchases_table,
    quarantined_rows,
)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("v2_baseline") / "data"
    build_v2_baseline(root)
    return root


@pytest.fixture()
def root(baseline: Path, tmp_path: Path) -> Path:
    return copy_baseline(baseline, tmp_path / "data").root


def reasons_by_line(root: Path, batch_id: str) -> dict[tuple[str, int], list[str]]:
    """(order_id, line_number as read) -> reasons, for every quarantined line of a batch."""
    out = {}
    for row in quarantined_rows(root, "order_lines", batch_id):
        out[(row["order_id"], row["line_number"])] = row["__gate_reasons"]
    return out


def test_clean_lines_land_with_the_contract_types(root: Path) -> None:
    land_lines(
        root, "b1", [line("536365", 1), line("536365", 2, item="00042", unit_price="3.39", quantity=2, amount="6.78")]
    )
    code, out, err = ingest(root)
    assert code == 0, (out, err)
    row = assert_accounted(root, "order_lines", "b1")
    assert (row["rows_in"], row["rows_admitted"]) == (2, 2)
    files = sorted((root / "lake" / "order_lines").rglob("*.parquet"))
    described = duckdb.connect().execute(f"DESCRIBE SELECT * FROM read_parquet('{files[0]}')").fetchall()
    types = {r[0]: r[1] for r in described}
    assert types["order_id"] == "VARCHAR" and types["user_id"] == "VARCHAR" and types["item_id"] == "VARCHAR"
    assert types["line_number"] == types["quantity"] == types["original_line_number"] == "INTEGER"
    assert types["unit_price"] == types["line_amount"] == "DOUBLE"
    assert types["ordered_at"] == "TIMESTAMP"
    assert {r["item_id"] for r in lake_rows(root, "order_lines", "b1")} == {"85123A", "00042"}


def test_duplicate_lines_in_the_batch_and_in_the_lake(root: Path) -> None:
    land_lines(root, "b1", [line("A1", 1), line("A1", 1), line("A1", 2)])
    code, _, _ = ingest(root)
    assert code == 3  # one of three rows quarantined: over 5 %
    assert reasons_by_line(root, "b1") == {("A1", 1): ["duplicate_event_id:order_id+line_number"]}
    land_lines(root, "b2", [line("A1", 2), line("A1", 3), line("A10", 1)])
    ingest(root)
    # ("A1", 2) is in the lake; "A1"+"3" and "A10"+"1" share their characters but are other keys.
    assert reasons_by_line(root, "b2") == {("A1", 2): ["duplicate_in_lake:order_id+line_number"]}
    assert sorted((r["order_id"], r["line_number"]) for r in lake_rows(root, "order_lines", "b2")) == [
        ("A1", 3),
        ("A10", 1),
    ]


def test_currencies_and_minor_units(root: Path) -> None:
    lines = [
        line("J1", 1, currency="JPY", unit_price="100", user="7"),
        line("J2", 1, currency="JPY", unit_price="100.5", user="7"),
        line("B1", 1, currency="BHD", unit_price="1.234"),
        line("B2", 1, currency="BHD", unit_price="1.2345"),
        line("U1", 1, currency="USD", unit_price="0.004", amount="0.01"),
        line("X1", 1, currency="XYZ", unit_price="1.00"),
        line("C1", 1, currency="CLF", unit_price="1.2345"),
    ]
    land_lines(root, "b1", lines)
    ingest(root)
    assert reasons_by_line(root, "b1") == {
        ("J2", 1): ["invalid_precision:line_amount", "invalid_precision:unit_price"],
        ("B2", 1): ["invalid_precision:line_amount", "invalid_precision:unit_price"],
        ("U1", 1): ["invalid_precision:unit_price"],
        ("X1", 1): ["unknown_currency:currency"],
    }
    assert sorted(r["order_id"] for r in lake_rows(root, "order_lines", "b1")) == ["B1", "C1", "J1"]


def test_values_line_types_and_references(root: Path) -> None:
    lines = [
        line("V1", 1, quantity=0),
        line("V2", 1, unit_price="-1.00"),
        line("V3", 1, line_type="refund"),
        line("V4", 1, original_order_id="V1"),  # a sale does not reverse anything
        line("V5", 0),
        line("V6", 1, user="nobody"),
        line("V7", 1, item="85123a"),  # keys are case-sensitive
        line("V8", 1, user=None),  # a guest checkout
    ]
    land_lines(root, "b1", lines)
    ingest(root)
    assert reasons_by_line(root, "b1") == {
        ("V1", 1): ["invalid_value:quantity"],
        ("V2", 1): ["invalid_value:line_amount", "invalid_value:unit_price"],
        ("V3", 1): ["invalid_value:line_type"],
        ("V4", 1): ["invalid_value:original_order_id"],
        ("V5", 0): ["invalid_value:line_number"],
        ("V6", 1): ["unknown_user:user_id"],
        ("V7", 1): ["unknown_item:item_id"],
    }
    assert [r["order_id"] for r in lake_rows(root, "order_lines", "b1")] == ["V8"]


def test_inconsistent_orders_quarantine_every_line_of_the_order(root: Path) -> None:
    land_lines(
        root,
        "b1",
        [
            line("I1", 1, currency="GBP"),
            line("I1", 2, currency="USD", unit_price="3.00"),
            line("I2", 1, user="007"),
            line("I2", 2, user="7"),
            line("I3", 1, user=None),
            line("I3", 2, user="7"),
            line("OK", 1),
            line("OK", 2),
        ],
    )
    ingest(root)
    assert reasons_by_line(root, "b1") == {
        ("I1", 1): ["inconsistent_order:currency"],
        ("I1", 2): ["inconsistent_order:currency"],
        ("I2", 1): ["inconsistent_order:user_id"],
        ("I2", 2): ["inconsistent_order:user_id"],
        ("I3", 1): ["inconsistent_order:user_id"],
        ("I3", 2): ["inconsistent_order:user_id"],
    }


def test_cancellations_need_a_known_order(root: Path) -> None:
    land_lines(root, "b1", [line("S1", 1), line("S1", 2, quantity=3, amount="7.65")])
    ingest(root)
    cancel = {"line_type": "cancellation", "at": "2018-06-03T09:00:00"}
    land_lines(
        root,
        "b2",
        [
            line("C-S1", 1, original_order_id="S1", original_line_number=2, quantity=1, **cancel),  # in the lake
            line("S2", 1),
            line("R-S2", 1, line_type="return", original_order_id="S2"),  # earlier in the same batch
            line("C-X", 1, original_order_id="NOPE", **cancel),  # unknown
            line("S3", 1, quantity=0),  # quarantined, so S3 is not a known order
            line("C-S3", 1, original_order_id="S3", **cancel),
            line("CN", 1, line_type="return"),  # a credit note without a reference
            line("C-BAD", 1, original_line_number=1, **cancel),  # a line without its order
        ],
    )
    land_lines(root, "b3", [line("C-S2", 1, original_order_id="S2", **cancel)])  # a later batch of the same run
    ingest(root)
    assert reasons_by_line(root, "b2") == {
        ("C-X", 1): ["unknown_order:original_order_id"],
        ("S3", 1): ["invalid_value:quantity"],
        ("C-S3", 1): ["unknown_order:original_order_id"],
        ("C-BAD", 1): ["invalid_value:original_line_number"],
    }
    assert reasons_by_line(root, "b3") == {}
    assert sorted(r["order_id"] for r in lake_rows(root, "order_lines", "b2")) == ["C-S1", "CN", "R-S2", "S2"]


def test_a_cancellation_before_its_order_in_the_same_run_is_unknown(root: Path) -> None:
    cancel = {"line_type": "cancellation", "original_order_id": "LATE"}
    land_lines(root, "b1", [line("C-LATE", 1, **cancel)])
    land_lines(root, "b2", [line("LATE", 1)])
    ingest(root)
    assert reasons_by_line(root, "b1") == {("C-LATE", 1): ["unknown_order:original_order_id"]}
    assert len(lake_rows(root, "order_lines", "b2")) == 1


def test_legacy_purchases_are_admitted_next_to_order_lines(root: Path) -> None:
    # Contract v1: integer ids; user 7 and item 42 exist as the text keys '7' and '42'.
    table = purchases_table(
        5000, 2, user_id=[7, 7], item_id=[42, 42], purchased_at=[__import__("datetime").datetime(2018, 6, 1)] * 2
    )
    land(root, "purchases", "p1", {"part-0.parquet": table})
    returned = {"line_type": "return", "user": "7", "item": "42"}
    land_lines(
        root,
        "b1",
        [
            line("C-5000", 1, original_order_id="purchase:5000", **returned),  # the legacy purchase 5000
            line("C-5001", 1, original_order_id="5001", **returned),  # no v2 order 5001: unknown
            line("5000", 1, user="7", item="42"),  # a v2 order numbered like a purchase: its own order
            line("purchase:5001", 1, user="7", item="42"),  # the migrated orders' id space
            line("purchase:5001x", 1, user="7", item="42"),  # not of that form: an ordinary id
        ],
    )
    ingest(root)  # exits non-zero: 2 of 5 lines quarantined is above the default threshold
    rows = lake_rows(root, "purchases", "p1")
    assert [(r["user_id"], r["item_id"]) for r in rows] == [("7", "42"), ("7", "42")]
    assert sorted(r["order_id"] for r in lake_rows(root, "order_lines", "b1")) == ["5000", "C-5000", "purchase:5001x"]
    assert reasons_by_line(root, "b1") == {
        ("C-5001", 1): ["unknown_order:original_order_id"],
        ("purchase:5001", 1): ["invalid_key:order_id"],
    }


def test_exchange_rates(root: Path) -> None:
    rows = {
        "rate_date": ["2018-06-01", "2018-06-01", "2018-06-01", "2018-06-01", "2018-06-02", "1969-12-31"],
        "currency": ["GBP", "GBP", "EUR", "XYZ", "GBP", "GBP"],
        "base_currency": ["USD", "USD", "EUR", "USD", "USD", "USD"],
        "rate": ["1.3", "1.31", "1", "2", "-1", "1.3"],
    }
    land(root, "exchange_rates", "r1", {"part-0.csv": csv_bytes(rows)})
    ingest(root)
    found = {r["__gate_row_number"]: r["__gate_reasons"] for r in quarantined_rows(root, "exchange_rates", "r1")}
    assert found == {
        1: ["duplicate_event_id:rate_date+currency+base_currency"],
        2: ["invalid_value:base_currency"],
        3: ["unknown_currency:currency"],
        4: ["invalid_value:rate"],
        5: ["timestamp_out_of_range:rate_date"],
    }
    admitted = lake_rows(root, "exchange_rates", "r1")
    assert [(str(r["rate_date"]), r["currency"], r["rate"]) for r in admitted] == [("2018-06-01", "GBP", 1.3)]


def test_long_exchange_rates_are_admitted_as_the_nearest_double(root: Path) -> None:
    # Real rate files: tiny rates of small-unit currencies, large ones, 15 to 20 decimals, and one
    # with more significant digits than a DOUBLE holds (docs/raw_data_contract.md: its nearest DOUBLE).
    texts = [
        "0.00000012345678901234",
        "16300.5",
        "0.000061347811416827",
        "0.046512345678901",
        "1.2345678901234567890123",
    ]
    rows = {
        "rate_date": ["2018-06-01"] * len(texts),
        "currency": ["VND", "USD", "IDR", "MXN", "EUR"],
        "base_currency": ["USD", "IDR", "USD", "EUR", "USD"],
        "rate": texts,
    }
    land(root, "exchange_rates", "r1", {"part-0.csv": csv_bytes(rows)})
    code, out, err = ingest(root)
    assert code == 0, (out, err)
    assert quarantined_rows(root, "exchange_rates", "r1") == []
    admitted = {r["currency"]: r["rate"] for r in lake_rows(root, "exchange_rates", "r1")}
    assert admitted == dict(zip(rows["currency"], map(float, texts), strict=True))
    assert repr(admitted["VND"]) == "1.2345678901234e-07"  # 14 significant digits: every one kept
