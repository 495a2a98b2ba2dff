"""What the mapping does to values: exact, explicit, and nothing dropped (a value it cannot convert is kept as is)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Any

from shop_analytics.importing import import_file
from support.import_support import (
    RETAIL_CSV,
    RETAIL_MAPPING,
    batch_rows,
    batch_settings,
    ratings_doc,
    retail_lines_oracle,
    run_import,
)


def _written(result: Any) -> dict[str, list[dict[str, Any]]]:
    return {b.source: batch_rows(b.folder) for b in result.written}


def test_retail_export_matches_a_hand_conversion(tmp_path: Path) -> None:
    result = import_file(RETAIL_CSV, RETAIL_MAPPING, "order_lines", tmp_path / "landing", "2011-12")
    written = _written(result)
    assert written["order_lines"] == retail_lines_oracle()
    # Dimensions: first values in file order, one row per key, guests (no customer) left out.
    assert written["users"][0] == {"user_id": "17850", "country_code": "United Kingdom", "signup_at": None}
    assert [u["user_id"] for u in written["users"]] == ["17850", "13047", "12583", "14527", "14911"]
    items = {i["item_id"]: i for i in written["items"]}
    assert items["04321"]["name"] == "TOY SOLDIER" and items["04321"]["price"] == "0.42"
    assert items["22752"]["name"] == "SET 7 BABUSHKA NESTING BOXES, RED"
    assert {i["price_currency"] for i in written["items"]} == {"GBP"}
    assert batch_settings(result.written[-1].folder) == {
        "timestamp_format": "iso8601",
        "time_zone": "Europe/London",
        "default_currency": "GBP",
    }
    assert [b.source for b in result.written] == ["users", "items", "order_lines"]


LINE_COLUMNS = {"order_id": "inv", "item_id": "sku", "quantity": "qty", "unit_price": "price", "ordered_at": "when"}


def _lines(tmp_path: Path, rows: list[str], **derive: Any) -> list[dict[str, Any]]:
    path = tmp_path / "lines.csv"
    path.write_text("inv,sku,qty,price,when,cust\n" + "\n".join(rows) + "\n", encoding="utf-8")
    doc = {
        "source": "order_lines",
        "columns": {**LINE_COLUMNS, "user_id": "cust"},
        "constants": {"currency": "EUR"},
        "derive": {
            "line_number": "order_appearance",
            "line_amount": "quantity_times_unit_price",
            "line_type": {"order_id_prefix": "C", "negative_quantity": True, **derive},
        },
    }
    return _written(run_import(tmp_path, path, doc))["order_lines"]


def test_reversals_amounts_and_line_numbers(tmp_path: Path) -> None:
    rows = _lines(
        tmp_path,
        [
            "A1,x,3,0.10,2020-01-01,c1",  # 0.30 exactly, not 0.30000000000000004
            "A2,y,-2,1.005,2020-01-02,c1",  # negative quantity: a cancellation of 2; sub-cent amount kept for the gate
            "A1,z,1,19.99,2020-01-01,c1",  # line 2 of A1, after another order
            "CA1,x,1,0.10,2020-01-03,c1",  # C prefix, positive quantity: a cancellation of 1
            "A3,x,two,1.00,2020-01-03,c2",  # not a number: quantity kept, no amount (the gate quarantines)
            "A3,x,1,1e2,2020-01-03,c2",  # scientific notation: not a plain decimal, no amount
            "A3,x,-0,1.00,2020-01-03,",  # -0: a 'cancellation' of 0, the gate's invalid_value
        ],
    )
    assert [(r["order_id"], r["line_number"]) for r in rows] == [
        ("A1", "1"),
        ("A2", "1"),
        ("A1", "2"),
        ("CA1", "1"),
        ("A3", "1"),
        ("A3", "2"),
        ("A3", "3"),
    ]
    assert [r["line_type"] for r in rows] == [
        "sale",
        "cancellation",
        "sale",
        "cancellation",
        "sale",
        "sale",
        "cancellation",
    ]
    assert [r["quantity"] for r in rows] == ["3", "2", "1", "1", "two", "1", "0"]
    assert [r["line_amount"] for r in rows] == ["0.3", "2.01", "19.99", "0.1", None, None, "0"]
    assert rows[6]["user_id"] is None


def test_returns_instead_of_cancellations(tmp_path: Path) -> None:
    rows = _lines(tmp_path, ["R1,x,-1,2.50,2020-01-01,c1"], **{"as": "return"})
    assert (rows[0]["line_type"], rows[0]["quantity"], rows[0]["line_amount"]) == ("return", "1", "2.5")


def _ratings_with_times(tmp_path: Path, times: list[str], timestamp: dict[str, str]) -> tuple[list[Any], Path]:
    path = tmp_path / "r.csv"
    path.write_text("user,item,stars,ts\n" + "".join(f"u{i},i{i},5,{t}\n" for i, t in enumerate(times)))
    result = run_import(tmp_path, path, ratings_doc(timestamp=timestamp))
    (batch,) = result.written
    return [r["rated_at"] for r in batch_rows(batch.folder)], batch.folder


def test_local_times_on_dst_days_are_declared_not_converted(tmp_path: Path) -> None:
    # Europe/Berlin 2021: 28 March 02:00-03:00 does not exist; 31 October 02:00-03:00 happens twice.
    times = ["28.03.2021 01:59:59", "28.03.2021 02:30:00", "31.10.2021 02:30:00", "31.10.2021 03:00:00", "junk"]
    got, folder = _ratings_with_times(tmp_path, times, {"format": "%d.%m.%Y %H:%M:%S", "time_zone": "Europe/Berlin"})
    # Exact ISO 8601 text of the local wall time; the gate applies the zone (a gap time is its to quarantine).
    assert got == ["2021-03-28T01:59:59", "2021-03-28T02:30:00", "2021-10-31T02:30:00", "2021-10-31T03:00:00", "junk"]
    assert batch_settings(folder) == {"timestamp_format": "iso8601", "time_zone": "Europe/Berlin"}
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    for text in got[:4]:  # every converted value is the same wall time the input says
        local = dt.datetime.fromisoformat(text).replace(tzinfo=zone)
        assert local.strftime("%d.%m.%Y %H:%M:%S") in times


def test_strptime_with_an_offset_gives_an_instant(tmp_path: Path) -> None:
    got, _ = _ratings_with_times(tmp_path, ["2021-03-28 02:30 +0530"], {"format": "%Y-%m-%d %H:%M %z"})
    assert got == ["2021-03-27T21:00:00+00"]


def test_epoch_columns_are_passed_through_with_their_format(tmp_path: Path) -> None:
    for unit in ("epoch_s", "epoch_ms"):
        folder = tmp_path / unit
        folder.mkdir()
        got, batch = _ratings_with_times(folder, ["1260759144", "1260759144123", "-1", "1.5", "x"], {"format": unit})
        assert got == ["1260759144", "1260759144123", "-1", "1.5", "x"]
        assert batch_settings(batch) == {"timestamp_format": unit}


def test_value_maps_apply_to_exact_text_and_leave_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user,item,stars,ts\n1,a,4.5,2020-01-01\n1,b,4.50,2020-01-01\n1,c,0.5,2020-01-01\n")
    values = {"rating": {"4.5": "5", "0.5": "1"}}
    (batch,) = run_import(tmp_path, path, ratings_doc(values=values)).written
    assert [r["rating"] for r in batch_rows(batch.folder)] == ["5", "4.50", "1"]  # 4.50 is not in the map


def test_event_ids_by_row_number_with_start_and_by_hash(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user,item,stars,ts\n1,a,4,2020-01-01\n1,b,4,2020-01-01\n1,a,4,2020-01-01\n")
    doc = ratings_doc(derive={"rating_id": {"method": "row_number", "start": 1000}})
    (batch,) = run_import(tmp_path, path, doc).written
    assert [r["rating_id"] for r in batch_rows(batch.folder)] == ["1000", "1001", "1002"]
    doc = ratings_doc(derive={"rating_id": {"method": "hash", "of": ["user_id", "item_id", "rated_at"]}})
    (batch,) = run_import(tmp_path, path, doc, batch_id="b2").written
    ids = [int(r["rating_id"]) for r in batch_rows(batch.folder)]
    assert ids[0] == ids[2] != ids[1]  # the same event, the same id: a re-import is a duplicate, not new data
    assert all(0 < i < 2**60 for i in ids)


def test_dimension_first_event_time_orders_by_time_not_text(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    # As text '2020-01-01T09:00:00+00:00' < '2020-01-01T10:00:00+05:00', but the latter is earlier.
    path.write_text(
        "user,item,stars,ts\n1,a,4,2020-01-01T09:00:00+00:00\n1,b,4,2020-01-01T10:00:00+05:00\n2,a,3,junk\n"
    )
    doc = ratings_doc(dimensions={"users": {"first_event_time": True, "constants": {"country_code": "DE"}}})
    written = _written(run_import(tmp_path, path, doc))
    assert written["users"] == [
        {"user_id": "1", "country_code": "DE", "signup_at": "2020-01-01T10:00:00+05:00"},
        {"user_id": "2", "country_code": "DE", "signup_at": None},
    ]


def test_dimension_first_event_time_skips_times_the_gate_refuses(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    # 1.2911919e12 is the smallest number, but epoch_ms text in scientific notation is refused by the gate
    # (invalid_type); -86400000 is 1969-12-31, before the gate's window (timestamp_out_of_range).
    path.write_text("user,item,stars,ts\n1,a,4,1291191960000\n1,b,4,1.2911919e12\n1,c,4,-86400000\n2,a,3,-1\n")
    doc = ratings_doc(
        timestamp={"format": "epoch_ms"},
        dimensions={"users": {"first_event_time": True, "constants": {"country_code": "DE"}}},
    )
    (users, _) = run_import(tmp_path, path, doc).written
    assert batch_rows(users.folder) == [
        {"user_id": "1", "country_code": "DE", "signup_at": "1291191960000"},
        {"user_id": "2", "country_code": "DE", "signup_at": None},
    ]
    assert users.notes == (
        "1 user_id value(s) have an earliest signup_at the gate would refuse (e.g. user_id '1': '1.2911919e12', "
        "invalid_type:signup_at); the earliest one it accepts is used",
        "1 user_id value(s) have no signup_at the gate would accept (e.g. user_id '2': '-1', "
        "timestamp_out_of_range:signup_at): signup_at left empty",
    )


def test_conflicting_dimension_values_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_text("user,item,stars,ts,country\n1,a,4,2020-01-01,FR\n1,b,4,2020-01-02,DE\n2,a,4,2020-01-02,\n")
    doc = ratings_doc(dimensions={"users": {"columns": {"country_code": "country"}}})
    result = run_import(tmp_path, path, doc)
    users = result.written[0]
    assert batch_rows(users.folder) == [
        {"user_id": "1", "country_code": "FR", "signup_at": None},
        {"user_id": "2", "country_code": None, "signup_at": None},
    ]
    assert users.notes == ("1 user_id value(s) have more than one country_code in the file; the first one is used",)


def test_exchange_rates_with_day_first_dates(tmp_path: Path) -> None:
    path = tmp_path / "fx.csv"
    path.write_text("day;cur;per_usd\n09/12/2011;GBP;1.5612\n31/02/2011;EUR;1.3\n")
    doc = {
        "source": "exchange_rates",
        "input": {"delimiter": ";"},
        "columns": {"rate_date": "day", "currency": "cur", "rate": "per_usd"},
        "constants": {"base_currency": "USD"},
        "timestamp": {"format": "%d/%m/%Y"},
    }
    rows = _written(run_import(tmp_path, path, doc))["exchange_rates"]
    assert rows == [
        {"rate_date": "2011-12-09", "currency": "GBP", "base_currency": "USD", "rate": "1.5612"},
        {"rate_date": "31/02/2011", "currency": "EUR", "base_currency": "USD", "rate": "1.3"},  # no such day: kept
    ]


def test_currency_from_a_column_through_a_value_map_and_hostile_constants(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_text(
        "inv,sku,qty,price,when,cur\nA1,x,1,2.50,2020-01-01,£\nA2,x,1,2.50,2020-01-01,¥\n", encoding="utf-8"
    )
    doc = {
        "source": "order_lines",
        "columns": {**LINE_COLUMNS, "currency": "cur"},
        "values": {"currency": {"£": "GBP"}},  # ¥ is not mapped: landed as is, the gate's unknown_currency
        "constants": {"line_type": "sale", "line_number": "1", "original_order_id": "O'Neil\"; DROP TABLE x; --"},
        "derive": {"line_amount": "quantity_times_unit_price"},
    }
    rows = _written(run_import(tmp_path, path, doc))["order_lines"]
    assert [r["currency"] for r in rows] == ["GBP", "¥"]
    assert {r["original_order_id"] for r in rows} == {"O'Neil\"; DROP TABLE x; --"}
