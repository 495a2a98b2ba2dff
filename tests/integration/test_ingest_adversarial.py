"""Issue #14, ingest side: every hostile or unlucky input of the issue's table, with its exact outcome.

Each case copies a committed baseline (tests/support/handmade_landing.py: users, items and the
purchases batch ``2018-12-01_1`` with one quarantined row), lands one crafted input,
runs ``shop-analytics ingest`` (in-process; in a subprocess where it is killed), and
checks: the exit code and the message (source, batch, column, rule), what was admitted,
that rows in = admitted + quarantined, and that every earlier lake and quarantine file
is byte-identical. docs/quality_gate.md lists the cases.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shop_analytics.exit_codes import ExitCode
from support.handmade_landing import (
    COMMITTED_ID,
    NEW_ID,
    Copy,
    assert_accounted,
    assert_untouched,
    audit,
    build_baseline,
    copy_baseline,
    csv_bytes,
    expected_batch_files,
    lake_rows,
    land,
    purchases_table,
    quarantined_rows,
    ratings_table,
    run_cli,
    run_cli_subprocess,
)
from support.pipeline import ROOT

OK, REJECTED, THRESHOLD, OPERATIONAL = (
    ExitCode.OK,
    ExitCode.DATA_REJECTED,
    ExitCode.QUARANTINE_THRESHOLD,
    ExitCode.OPERATIONAL,
)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("adversarial") / "data"
    build_baseline(root)
    return root


@pytest.fixture()
def data(baseline: Path, tmp_path: Path) -> Copy:
    return copy_baseline(baseline, tmp_path / "data")


@pytest.fixture()
def alarm() -> Iterator[None]:
    """Fail instead of hanging (a FIFO opened for reading blocks until a writer comes)."""

    def _timeout(signum: int, frame: object) -> None:
        raise TimeoutError("ingest hung")

    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(120)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _reason(root: Path, source: str, batch_id: str) -> dict:
    return json.loads((root / "quarantine" / source / batch_id / "reason.json").read_text())


def _ingested_new(data: Copy, source: str = "purchases", batch_id: str = NEW_ID) -> dict:
    """The new batch is ingested, its files are its own, and its rows are accounted for; return its audit row."""
    new = assert_untouched(data.before, data.root)
    assert new and expected_batch_files(source, batch_id, new), sorted(new)
    row = assert_accounted(data.root, source, batch_id)
    assert row["status"] == "ingested"
    return row


# --- 1. a committed batch deleted by id prefix, or by the id `*` -----------------------------------


def test_interrupted_batch_x_never_touches_committed_batch_x_1(data: Copy) -> None:
    # The committed batch is 2018-12-01_1; batch 2018-12-01 is killed after its first rename.
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": purchases_table(100)})
    killed = run_cli_subprocess(data.root, {"SHOP_ANALYTICS_INGEST_CRASH_AFTER_RENAMES": "1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    code, out, err = run_cli(data.root)
    assert code == OK, err
    _ingested_new(data)
    assert len(lake_rows(data.root, "purchases", COMMITTED_ID)) == 20
    assert len(lake_rows(data.root, "purchases", NEW_ID)) == 20


@pytest.mark.parametrize("batch_id", ["*", "?", "[0-9]*", "2018-12-01*"])
def test_glob_characters_in_batch_id_are_refused(data: Copy, batch_id: str) -> None:
    folder = land(data.root, "purchases", batch_id, {"part-0.parquet": purchases_table(100)})
    # Even if it were killed mid-publish and redone, nothing may match the committed files.
    first = run_cli_subprocess(data.root, {"SHOP_ANALYTICS_INGEST_CRASH_AFTER_RENAMES": "1"})
    assert first.returncode == REJECTED, first.stderr[-2000:]
    code, out, err = run_cli(data.root)
    assert code == REJECTED
    assert f"folder {folder.name!r}" in err and "is not valid: a batch id is" in err and "REFUSED" in err
    assert assert_untouched(data.before, data.root) == {}
    assert (folder / "part-0.parquet").exists()  # left in landing, not lost


# --- 2. SQL, a bare quote and a 244-character name as batch ids ------------------------------------

HOSTILE_IDS = {
    "sql": "x' (FORMAT parquet); COPY (SELECT 42 AS pwned) TO 'pwned.csv' (FORMAT csv); --",
    "quote": "'",
    "244_chars": "2018-" + "a" * 239,
    "newline": "2019-01-01\nDROP TABLE x",
}


@pytest.mark.parametrize("name", HOSTILE_IDS, ids=list(HOSTILE_IDS))
def test_hostile_batch_ids_are_refused_alone(
    data: Copy, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where a relative COPY ... TO 'pwned.csv' would land
    batch_id = HOSTILE_IDS[name]
    land(data.root, "purchases", batch_id, {"part-0.parquet": purchases_table(100)})
    land(data.root, "purchases", "2019-02-01", {"part-0.parquet": purchases_table(200)})
    land(data.root, "ratings", "2019-02-01", {"part-0.parquet": ratings_table(1)})
    for _ in range(2):  # and on every later run: the other batches are never blocked
        code, out, err = run_cli(data.root)
        assert code == REJECTED, err
        assert "REFUSED purchases" in err and "is not valid: a batch id is 1 to 64 letters" in err
        assert "Traceback" not in err
    assert not list(tmp_path.rglob("pwned*"))
    assert {k: r["status"] for k, r in audit(data.root).items() if k[1] == "2019-02-01"} == {
        ("purchases", "2019-02-01"): "ingested",
        ("ratings", "2019-02-01"): "ingested",
    }
    assert_accounted(data.root, "purchases", "2019-02-01")
    assert not any(batch_id in p for p in assert_untouched(data.before, data.root))


def test_quoting_helper_round_trips_hostile_text_and_paths(tmp_path: Path) -> None:
    from shop_analytics.sql import quote_ident, quote_literal

    con = duckdb.connect()
    hostile = ["'", "''", "x'); DROP TABLE t; --", '"', 'a"b', "\\'", "\n';\n", "é'ü", "{i}", "%s ?"]
    for text in hostile:
        assert con.execute(f"SELECT {quote_literal(text)}").fetchone() == (text,)
        assert con.execute(f"SELECT 1 AS {quote_ident(text)}").description[0][0] == text
    # COPY ... TO takes no parameters: the quoted path is written exactly, and nothing else runs.
    folder = tmp_path / "it's'); COPY (SELECT 1) TO 'pwned.csv'; --"
    folder.mkdir()
    target = folder / "out.parquet"
    con.execute(f"COPY (SELECT 1 AS x) TO {quote_literal(str(target))} (FORMAT parquet)")
    assert [p.name for p in folder.iterdir()] == ["out.parquet"] and not list(tmp_path.rglob("pwned*"))


def test_data_dir_with_quotes_and_sql_in_its_path(baseline: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "o'brien'); SELECT 1; --" / "data"
    hostile.parent.mkdir()
    data = copy_baseline(baseline, hostile)
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": purchases_table(100)})
    code, out, err = run_cli(data.root)
    assert code == OK, err
    _ingested_new(data)


# --- 3. batch ids `..`, `.` and empty -----------------------------------------------------------------


@pytest.mark.parametrize("batch_id", ["..", ".", ""], ids=["dotdot", "dot", "empty"])
def test_dot_and_empty_batch_ids_are_refused_and_nothing_is_deleted(data: Copy, batch_id: str) -> None:
    bad = purchases_table(100, amount=[-1.0] * 20)  # every row would be quarantined
    land(data.root, "purchases", batch_id, {"part-0.parquet": bad})
    code, out, err = run_cli(data.root)
    assert code == REJECTED and "REFUSED" in err and "is not valid" in err
    assert assert_untouched(data.before, data.root) == {}
    assert len(quarantined_rows(data.root, "purchases", COMMITTED_ID)) == 1


# --- 4. extra columns named like the gate's working columns ---------------------------------------


def _with_defect(kind: str) -> pa.Table:
    """21 rows: 20 clean and one defect the gate must catch (or, for 'dup', a copy of a row)."""
    base = purchases_table(100)
    if kind == "unknown_user":
        return pa.concat_tables([base, purchases_table(500, 1, user_id=[999])])
    if kind == "unknown_item":
        return pa.concat_tables([base, purchases_table(500, 1, item_id=[999])])
    if kind == "replay":  # purchase 5 is in the committed batch
        return pa.concat_tables([base, purchases_table(5, 1)])
    if kind == "dup":
        return pa.concat_tables([base, base.slice(3, 1)])
    raise ValueError(kind)


@pytest.mark.parametrize(
    "column, defect, reason",
    [
        ("user_id__known", "unknown_user", "unknown_user:user_id"),
        ("item_id__known", "unknown_item", "unknown_item:item_id"),
        ("purchase_id__unseen", "replay", "duplicate_in_lake:purchase_id"),
        ("purchase_id__occurrence", "dup", "duplicate_event_id:purchase_id"),
        ("_gate_cast_ok__user_id", "unknown_user", "unknown_user:user_id"),
    ],
)
def test_columns_named_like_old_helper_columns_cannot_switch_the_gate_off(
    data: Copy, column: str, defect: str, reason: str
) -> None:
    table = _with_defect(defect)
    table = table.append_column(column, pa.array([1] * table.num_rows, pa.uint8()))
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": table})
    code, out, err = run_cli(data.root)
    assert code == OK, err  # 1 of 21 rows quarantined: under the 5% threshold
    row = _ingested_new(data)
    assert (row["rows_in"], row["rows_quarantined"]) == (21, 1)
    assert json.loads(row["quarantined_by_reason"]) == {reason: 1}
    assert row["contract_status"] == "new_version"  # the column itself is a legal new column
    assert {r[column] for r in lake_rows(data.root, "purchases", NEW_ID)} == {1}


def test_csv_column_named_like_the_old_cast_flag_cannot_admit_bad_text(data: Copy) -> None:
    table = purchases_table(100, n=21)
    cells = {name: [str(v) for v in table.column(name).to_pylist()] for name in table.column_names}
    cells["amount"][4] = "twelve"
    cells["_gate_cast_ok__amount"] = ["1"] * 21
    land(data.root, "purchases", NEW_ID, {"part-0.csv": csv_bytes(cells)})
    code, out, err = run_cli(data.root)
    assert code == OK, err
    row = _ingested_new(data)
    assert json.loads(row["quarantined_by_reason"]) == {"invalid_type:amount": 1, "missing_value:amount": 1}
    [bad] = quarantined_rows(data.root, "purchases", NEW_ID)
    assert bad["__gate_raw__amount"] == "twelve" and bad["__gate_row_number"] == 4


@pytest.mark.parametrize(
    "column", ["__gate_row_number", "__gate_known__user_id", "__GATE_reasons", "__gate_raw__amount"]
)
def test_columns_in_the_gate_namespace_reject_the_batch(data: Copy, column: str) -> None:
    table = purchases_table(100).append_column(column, pa.array([1] * 20))
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": table})
    code, out, err = run_cli(data.root)
    assert code == REJECTED
    reason = _reason(data.root, "purchases", NEW_ID)
    assert (reason["rule"], reason["column"]) == ("reserved_column", column)
    assert f"REJECTED purchases batch {NEW_ID}" in err and "[reserved_column]" in err and column in err
    assert lake_rows(data.root, "purchases", NEW_ID) == []
    assert audit(data.root)[("purchases", NEW_ID)]["rows_quarantined"] == 20


# --- 5. reserved and partition names, and case-insensitive duplicates ------------------------------


@pytest.mark.parametrize(
    "column, rule",
    [
        ("event_date", "reserved_column"),
        ("EVENT_DATE", "reserved_column"),
        ("filename", "reserved_column"),
        ("file_row_number", "reserved_column"),
        ("batch_id", "reserved_column"),
        ("is_late_arriving", "reserved_column"),
        ("Amount", "duplicate_column"),
        ("PURCHASE_ID", "duplicate_column"),
        ("coupon code", "invalid_column_name"),
        ("x'; DROP TABLE t; --", "invalid_column_name"),
    ],
)
def test_reserved_duplicate_and_invalid_column_names_reject_the_batch(data: Copy, column: str, rule: str) -> None:
    table = purchases_table(100)
    values = pa.array([dt.date(2030, 1, 1)] * 20) if column.lower() == "event_date" else pa.array(["x"] * 20)
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": table.append_column(column, values)})
    code, out, err = run_cli(data.root)
    assert code == REJECTED
    reason = _reason(data.root, "purchases", NEW_ID)
    assert (reason["rule"], reason["column"]) == (rule, column)
    assert f"[{rule}]" in err and NEW_ID in err
    assert assert_untouched(data.before, data.root).keys() == {
        f"quarantine/purchases/{NEW_ID}/files/part-0.parquet",
        f"quarantine/purchases/{NEW_ID}/reason.json",
        f"lake/_ingest_audit/batch_purchases__{NEW_ID}.parquet",  # rejected batches are audited too
    }
    assert not list((data.root / "lake").rglob("event_date=2030-01-01"))


def test_csv_header_with_a_repeated_name_is_rejected_not_renamed(data: Copy) -> None:
    table = purchases_table(100)
    cells = {name: [str(v) for v in table.column(name).to_pylist()] for name in table.column_names}
    text = csv_bytes(cells).decode().splitlines()
    text[0] += ",AMOUNT"
    text[1:] = [line + ",0.01" for line in text[1:]]
    land(data.root, "purchases", NEW_ID, {"part-0.csv": ("\n".join(text) + "\n").encode()})
    code, out, err = run_cli(data.root)
    assert code == REJECTED
    assert (_reason(data.root, "purchases", NEW_ID)["rule"], _reason(data.root, "purchases", NEW_ID)["column"]) == (
        "duplicate_column",
        "AMOUNT",
    )


# --- 6. an extra column `row_number` ------------------------------------------------------------------


def test_extra_column_row_number_is_just_a_new_column(data: Copy) -> None:
    table = purchases_table(100).append_column("row_number", pa.array(range(500, 520), pa.int64()))
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": table})
    code, out, err = run_cli(data.root)
    assert code == OK, err
    row = _ingested_new(data)
    assert (row["rows_admitted"], row["contract_status"], row["contract_version"]) == (20, "new_version", 3)
    assert sorted(r["row_number"] for r in lake_rows(data.root, "purchases", NEW_ID)) == list(range(500, 520))


# --- 7. timestamps with offsets convert to UTC exactly ---------------------------------------------

OFFSETS = [  # (text, UTC value)
    ("2018-06-01T10:00:00+05:00", dt.datetime(2018, 6, 1, 5, 0)),
    ("2018-06-01 10:00:00Z", dt.datetime(2018, 6, 1, 10, 0)),
    ("2018-06-01T10:00z", dt.datetime(2018, 6, 1, 10, 0)),
    ("2018-06-01T02:30:00+05:30", dt.datetime(2018, 5, 31, 21, 0)),  # a different UTC date
    ("2018-06-01 10:00-03:30", dt.datetime(2018, 6, 1, 13, 30)),
    ("2018-06-01 10:00:00.123456+0100", dt.datetime(2018, 6, 1, 9, 0, 0, 123456)),
    ("2018-06-01 23:30:00-01", dt.datetime(2018, 6, 2, 0, 30)),
    ("2018-06-01 10:00:00", dt.datetime(2018, 6, 1, 10, 0)),  # no offset: UTC
    (" 2018-06-01 10:00:00 ", dt.datetime(2018, 6, 1, 10, 0)),
    ("2018-06-01", dt.datetime(2018, 6, 1)),
]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_timestamps_with_offsets_convert_to_utc(data: Copy, fmt: str) -> None:
    n = len(OFFSETS)
    table = purchases_table(100, n=n)
    cells = {name: [str(v) for v in table.column(name).to_pylist()] for name in table.column_names}
    cells["purchased_at"] = [text for text, _ in OFFSETS]
    if fmt == "csv":
        content = csv_bytes(cells)
    else:
        content = "\n".join(json.dumps({k: cells[k][i] for k in cells}) for i in range(n)).encode()
    land(data.root, "purchases", NEW_ID, {f"part-0.{fmt}": content})
    code, out, err = run_cli(data.root)
    assert code == OK, err
    row = _ingested_new(data)
    assert row["rows_admitted"] == n
    got = {r["purchase_id"]: (r["purchased_at"], r["event_date"]) for r in lake_rows(data.root, "purchases", NEW_ID)}
    for i, (text, utc) in enumerate(OFFSETS):
        assert got[100 + i] == (utc, utc.date()), text


@pytest.mark.parametrize(
    "text",
    [
        "2018-06-01 10:00:00.1234567",
        "2018-06-01 10:00 Europe/Paris",
        "2018-06-01T10:00:00+25:00",
        "01/06/2018 10:00",
        "2018-06-01 10:00:00+05:61",
        "1527847200",
        "2018-02-30 10:00:00",
    ],
)
def test_timestamps_that_do_not_convert_exactly_are_quarantined_with_their_text(data: Copy, text: str) -> None:
    table = purchases_table(100, n=21)
    cells = {name: [str(v) for v in table.column(name).to_pylist()] for name in table.column_names}
    cells["purchased_at"][7] = text
    land(data.root, "purchases", NEW_ID, {"part-0.csv": csv_bytes(cells)})
    code, out, err = run_cli(data.root)
    assert code == OK, err
    row = _ingested_new(data)
    assert json.loads(row["quarantined_by_reason"]) == {"invalid_type:purchased_at": 1, "missing_value:purchased_at": 1}
    [bad] = quarantined_rows(data.root, "purchases", NEW_ID)
    assert (bad["purchase_id"], bad["__gate_raw__purchased_at"]) == (107, text)


def test_parquet_timestamp_with_time_zone_converts_to_utc(data: Copy) -> None:
    table = purchases_table(100)
    local = pa.array(
        [
            dt.datetime(2018, 6, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
            + dt.timedelta(hours=i)
            for i in range(20)
        ],
        pa.timestamp("us", tz="Asia/Kolkata"),
    )
    table = table.set_column(1, pa.field("purchased_at", local.type), local)
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": table})
    code, out, err = run_cli(data.root)
    assert code == OK, err
    row = _ingested_new(data)
    assert row["contract_version"] == 2 and "converted to TIMESTAMP (UTC)" in row["message"]
    got = sorted(r["purchased_at"] for r in lake_rows(data.root, "purchases", NEW_ID))
    assert got == [dt.datetime(2018, 6, 1, 4, 30) + dt.timedelta(hours=i) for i in range(20)]


# --- 8. fractional or out-of-range numbers are not rounded --------------------------------------------


@pytest.mark.parametrize(
    "source, column, text",
    [
        # (user_id and item_id are text keys since contract v2: '42.7' is a key, unknown;
        # tests/integration/test_gate_v2_keys.py)
        ("purchases", "quantity", "1.5"),
        ("purchases", "purchase_id", "1e3"),
        ("purchases", "quantity", "99999999999"),
        ("ratings", "rating", "3.5"),
        ("ratings", "rating", "4.0"),
    ],
)
def test_fractional_and_out_of_range_numbers_are_quarantined_not_rounded(
    data: Copy, source: str, column: str, text: str
) -> None:
    table = purchases_table(100, n=10) if source == "purchases" else ratings_table(100, n=10)
    cells = {name: [str(v) for v in table.column(name).to_pylist()] for name in table.column_names}
    cells[column][2] = text
    land(data.root, source, NEW_ID, {"part-0.csv": csv_bytes(cells)})
    code, out, err = run_cli(data.root)
    assert code == THRESHOLD  # 1 of 10 rows is over the 5% threshold
    assert f"QUARANTINE THRESHOLD {source} batch {NEW_ID}: 1 of 10 rows (10.0%)" in err
    assert f"invalid_type:{column} 1" in err
    row = _ingested_new(data, source)
    assert (row["rows_in"], row["rows_admitted"], row["rows_quarantined"]) == (10, 9, 1)
    assert f"invalid_type:{column}" in json.loads(row["quarantined_by_reason"])
    [bad] = quarantined_rows(data.root, source, NEW_ID)
    assert bad[f"__gate_raw__{column}"] == text and bad["__gate_row_number"] == 2
    assert 2 not in [r[table.column_names[0]] - 100 for r in lake_rows(data.root, source, NEW_ID)]


# --- 9. BACKWARD_TRANSITIVE: old shapes keep working after new versions -------------------------


def _shape(name: str, first_id: int) -> pa.Table:
    table = purchases_table(first_id)
    if "coupon" in name:
        table = table.append_column("coupon_code", pa.array(["SPRING"] * 20))
    if "bigint" in name:
        i = table.schema.get_field_index("quantity")
        table = table.set_column(i, "quantity", table.column(i).cast(pa.int64()))
    return table


@pytest.mark.parametrize(
    "first, second, status, version",
    [
        # Contract v2 (text keys) is the maintainers' newest version: integer-keyed batches of the
        # v1 shape match it, and versions accepted at run time start at 3.
        ("coupon", "v1", "ingested", 2),  # the case: a new nullable column, then the old shape
        ("bigint", "v1", "ingested", 2),  # widening INTEGER -> BIGINT, then the old shape
        ("coupon+bigint", "v1", "ingested", 2),
        ("coupon", "coupon+bigint", "ingested", 4),  # compatible with v1, v2 and v3: a new version
        ("coupon", "bigint", "rejected", None),  # drops v3's coupon_code: removed_column
        ("bigint", "coupon", "rejected", None),  # narrows v3's quantity: narrowing
    ],
)
def test_schema_evolution_matrix(data: Copy, first: str, second: str, status: str, version: int | None) -> None:
    contracts = {p.name: p.read_bytes() for p in (ROOT / "contracts").iterdir()}
    land(data.root, "purchases", "2019-01-01", {"part-0.parquet": _shape(first, 100)})
    assert run_cli(data.root)[0] == OK
    land(data.root, "purchases", "2019-02-01", {"part-0.parquet": _shape(second, 200)})
    code, out, err = run_cli(data.root)
    row = audit(data.root)[("purchases", "2019-02-01")]
    assert (row["status"], row["contract_version"]) == (status, version), row["message"]
    assert code == (OK if status == "ingested" else REJECTED)
    assert_accounted(data.root, "purchases", "2019-02-01")
    # The first shape is still admitted too, as its own version.
    land(data.root, "purchases", "2019-03-01", {"part-0.parquet": _shape(first, 300)})
    assert run_cli(data.root)[0] == OK
    assert audit(data.root)[("purchases", "2019-03-01")]["contract_version"] == 3
    assert {p.name: p.read_bytes() for p in (ROOT / "contracts").iterdir()} == contracts  # the repo is not written
    con = duckdb.connect(str(data.root / "ingest_catalog.duckdb"), read_only=True)
    versions = con.execute(
        "SELECT version, first_batch FROM contract_versions WHERE source = 'purchases' ORDER BY version"
    ).fetchall()
    con.close()
    assert versions == [(3, "2019-01-01")] + ([(4, "2019-02-01")] if version == 4 else [])


def test_old_csv_shape_after_a_new_parquet_column(data: Copy) -> None:
    land(data.root, "purchases", "2019-01-01", {"part-0.parquet": _shape("coupon", 100)})
    assert run_cli(data.root)[0] == OK
    land(data.root, "purchases", "2019-02-01", {"part-0.csv": csv_bytes(purchases_table(200))})
    assert run_cli(data.root)[0] == OK
    row = assert_accounted(data.root, "purchases", "2019-02-01")
    assert (row["status"], row["contract_version"], row["rows_admitted"]) == ("ingested", 2, 20)


# --- 10. the same batch id with new content ------------------------------------------------------------


def test_changed_batch_is_a_conflict_alone_and_the_rest_goes_on(data: Copy) -> None:
    folder = data.root / "landing" / "purchases" / f"batch_date={COMMITTED_ID}"
    old_hash = audit(data.root)[("purchases", COMMITTED_ID)]["content_hash"]
    pq.write_table(purchases_table(1, n=5), folder / "part-0.parquet")
    land(data.root, "purchases", "2019-02-01", {"part-0.parquet": purchases_table(200)})
    land(data.root, "ratings", "2019-02-01", {"part-0.parquet": ratings_table(1)})
    for _ in range(2):
        code, out, err = run_cli(data.root)
        assert code == REJECTED
        assert f"CONFLICT purchases batch {COMMITTED_ID}" in err and old_hash in err
        assert "land the corrected data under a new batch id" in err
    new_hash = re.search(r"now holds content hash ([0-9a-f]{64})", err)
    assert new_hash and new_hash.group(1) != old_hash
    for source in ("purchases", "ratings"):
        assert assert_accounted(data.root, source, "2019-02-01")["status"] == "ingested"
    assert audit(data.root)[("purchases", COMMITTED_ID)]["content_hash"] == old_hash
    assert expected_batch_files(
        "purchases", "2019-02-01", [p for p in assert_untouched(data.before, data.root) if "purchases" in p]
    )


# --- 11. a file still being uploaded ---------------------------------------------------------------


def test_batch_without_marker_is_pending_until_complete(data: Copy) -> None:
    full = csv_bytes(purchases_table(100, n=40))
    lines = full.splitlines(keepends=True)
    folder = land(data.root, "purchases", NEW_ID, {"part-0.csv": b"".join(lines[:15])}, marker=False)
    code, out, err = run_cli(data.root)
    assert code == OK and f"PENDING purchases batch {NEW_ID}: waiting for the completion marker _SUCCESS" in out
    assert assert_untouched(data.before, data.root) == {} and ("purchases", NEW_ID) not in audit(data.root)
    (folder / "part-0.csv").write_bytes(full)  # the upload finishes, then the marker
    (folder / "_SUCCESS").touch()
    code, out, err = run_cli(data.root)
    assert code == OK, err
    assert _ingested_new(data)["rows_admitted"] == 40


def test_quiet_period_opt_in_for_producers_without_markers(data: Copy) -> None:
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": purchases_table(100)}, marker=False)
    code, out, err = run_cli(data.root, "--quiet-seconds", "3600")
    assert code == OK and "less than the quiet period of 3600 s" in out
    assert ("purchases", NEW_ID) not in audit(data.root)
    time.sleep(1.2)  # the folder must look unchanged for one second
    code, out, err = run_cli(data.root, "--quiet-seconds", "1")
    assert code == OK, err
    assert _ingested_new(data)["rows_admitted"] == 20


def test_quiet_period_counts_every_change_in_the_folder(tmp_path: Path) -> None:
    from shop_analytics.ingest.batches import scan
    from shop_analytics.quality.raw_contract import PURCHASES

    folder = land(tmp_path, "purchases", NEW_ID, {"part-0.parquet": purchases_table(1)}, marker=False)
    landing = tmp_path / "landing"
    now = time.time()
    assert [f.status for f in scan(landing, (PURCHASES,), None, now + 10).findings] == ["pending"]
    assert [b.batch_id for b in scan(landing, (PURCHASES,), 5, now + 10).batches["purchases"]] == [NEW_ID]
    os.utime(folder / "part-0.parquet", (now - 3600, now - 3600))  # an old mtime does not hide a fresh write
    assert [f.status for f in scan(landing, (PURCHASES,), 5, now + 1).findings] == ["pending"]
    (folder / ".part-1.parquet.tmp").write_bytes(b"x")  # a hidden temp file being written counts too
    assert [f.status for f in scan(landing, (PURCHASES,), 5, time.time() + 2).findings] == ["pending"]


def test_generator_and_importer_write_the_marker_last(tmp_path: Path) -> None:
    from shop_analytics.datagen import GeneratorConfig, generate
    from shop_analytics.importing import import_file

    generate(GeneratorConfig(scale=0.001, seed=1), tmp_path / "generated", progress=False)
    csv = tmp_path / "ratings.csv"
    csv.write_text("user,item,stars,ts\n1,2,5,2018-06-01 10:00:00\n2,2,3,2018-06-02 10:00:00\n")
    mapping = Path(__file__).resolve().parents[2] / "examples" / "mappings" / "ratings_simple.yml"
    import_file(csv, mapping, "ratings", tmp_path / "byo" / "landing", "b1")
    for landing, batches in ((tmp_path / "generated", 5), (tmp_path / "byo" / "landing", 3)):
        folders = sorted(landing.glob("*/batch_date=*"))
        assert len(folders) >= batches
        for folder in folders:
            marker = folder / "_SUCCESS"
            assert marker.is_file() and marker.stat().st_size == 0, folder
            data = [p for p in folder.iterdir() if p.name != "_SUCCESS"]
            assert data and marker.stat().st_mtime_ns >= max(p.stat().st_mtime_ns for p in data), folder


# --- 12. symlinks, FIFOs and devices in landing ---------------------------------------------------------


def _assert_nowhere(root: Path, secret: bytes) -> None:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert secret not in path.read_bytes(), path


@pytest.mark.parametrize("target", ["secret_file", "proc_environ"])
def test_symlinked_data_file_is_never_followed(
    data: Copy, tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = b"TOP-SECRET-CANARY-7f3a"
    monkeypatch.setenv("SHOP_TEST_CANARY", secret.decode())
    outside = tmp_path / "secret.csv"
    outside.write_bytes(b"purchase_id\n" + secret + b"\n")
    folder = land(data.root, "purchases", NEW_ID, {"part-0.csv": csv_bytes(purchases_table(100))})
    os.symlink(outside if target == "secret_file" else "/proc/self/environ", folder / "part-1.csv")
    code, out, err = run_cli(data.root)
    assert code == REJECTED
    reason = _reason(data.root, "purchases", NEW_ID)
    assert reason["rule"] == "not_a_regular_file" and reason["not_regular"] == ["part-1.csv (symbolic link)"]
    assert "never followed" in err and NEW_ID in err
    assert reason["files"] == ["part-0.csv"]  # the regular file is kept; the link is not copied
    _assert_nowhere(data.root, secret)
    assert lake_rows(data.root, "purchases", NEW_ID) == []


def test_symlinked_batch_folder_is_rejected_unread(data: Copy, tmp_path: Path) -> None:
    elsewhere = land(tmp_path / "other", "purchases", "x", {"part-0.parquet": purchases_table(100)})
    (data.root / "landing" / "purchases").mkdir(parents=True, exist_ok=True)
    os.symlink(elsewhere, data.root / "landing" / "purchases" / f"batch_date={NEW_ID}")
    code, out, err = run_cli(data.root)
    assert code == REJECTED
    reason = _reason(data.root, "purchases", NEW_ID)
    assert (reason["rule"], reason["files"]) == ("not_a_regular_file", [])
    assert lake_rows(data.root, "purchases", NEW_ID) == []
    assert audit(data.root)[("purchases", NEW_ID)]["status"] == "rejected"


def test_symlinked_source_folder_is_reported_and_not_followed(data: Copy, tmp_path: Path) -> None:
    land(tmp_path / "other", "ratings", "2019-01-01", {"part-0.parquet": ratings_table(1)})
    os.symlink(tmp_path / "other" / "landing" / "ratings", data.root / "landing" / "ratings")
    code, out, err = run_cli(data.root)
    assert code == REJECTED and "the source folder is a symbolic link" in err and "not followed" in err
    assert assert_untouched(data.before, data.root) == {}
    assert not any(k[0] == "ratings" for k in audit(data.root))


@pytest.mark.parametrize("kind", ["fifo", "hidden_symlink", "marker_symlink", "subfolder"])
def test_special_entries_in_a_batch_reject_it_without_hanging(
    data: Copy, tmp_path: Path, kind: str, alarm: None
) -> None:
    folder = land(data.root, "purchases", NEW_ID, {"part-0.parquet": purchases_table(100)})
    if kind == "fifo":
        os.mkfifo(folder / "part-1.parquet")
    elif kind == "hidden_symlink":
        os.symlink("/etc/passwd", folder / ".cache")
    elif kind == "marker_symlink":
        (folder / "_SUCCESS").unlink(missing_ok=True)
        os.symlink("/etc/hostname", folder / "_SUCCESS")
    else:
        (folder / "nested").mkdir()
        pq.write_table(purchases_table(300), folder / "nested" / "part-9.parquet")
    code, out, err = run_cli(data.root)
    assert code == REJECTED
    reason = _reason(data.root, "purchases", NEW_ID)
    assert reason["rule"] == "not_a_regular_file" and reason["files"] == ["part-0.parquet"]
    assert lake_rows(data.root, "purchases", NEW_ID) == []
    assert stat.S_ISREG((data.root / "quarantine" / "purchases" / NEW_ID / "files" / "part-0.parquet").lstat().st_mode)


# --- 13. money precision --------------------------------------------------------------------------------


def test_sub_cent_amounts_are_quarantined_and_float_noise_is_not(data: Copy) -> None:
    amounts = [0.004, 0.1 + 0.2, 19.99, 0.01, 1e6, 12.345] + [9.99] * 35
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": purchases_table(100, n=41, amount=amounts)})
    code, out, err = run_cli(data.root)
    assert code == OK, err  # 2 of 41 rows: under the 5% threshold
    row = _ingested_new(data)
    assert json.loads(row["quarantined_by_reason"]) == {"invalid_precision:amount": 2}
    assert sorted(r["amount"] for r in quarantined_rows(data.root, "purchases", NEW_ID)) == [0.004, 12.345]


def test_sub_cent_price_is_quarantined(data: Copy) -> None:
    from support.handmade_landing import items_table

    items = items_table(21)
    prices = items.column("price").to_pylist()
    prices[20] = 0.004
    items = items.set_column(3, "price", pa.array(prices))
    land(data.root, "items", "2019-01-01", {"part-0.parquet": items})
    code, out, err = run_cli(data.root)
    assert code == OK, err
    row = assert_accounted(data.root, "items", "2019-01-01")
    assert json.loads(row["quarantined_by_reason"]) == {"invalid_precision:price": 1}


def test_staging_casts_money_to_the_gates_scale() -> None:
    from shop_analytics.quality.money import MAX_SCALE, MONEY_COLUMNS

    # The gate guarantees whole minor units of each row's currency, at most MAX_SCALE decimals. Staging
    # casts each money column to that scale, directly or through macro money_decimal (macros/exact_money.sql).
    macros = (ROOT / "macros" / "exact_money.sql").read_text()
    money_decimal = macros[macros.index("{% macro money_decimal(") :]
    money_decimal = money_decimal[: money_decimal.index("{%- endmacro %}")]
    macro_scales = {int(s) for s in re.findall(r"as\s+decimal\(\s*\d+\s*,\s*(\d+)\s*\)", money_decimal, re.I)}
    assert macro_scales == {MAX_SCALE}, macro_scales
    for source, columns in MONEY_COLUMNS.items():
        sql = (ROOT / "models" / "staging" / f"stg_shop__{source}.sql").read_text()
        for column in columns:
            casts = re.findall(rf"cast\(\s*{column}\s+as\s+decimal\(\s*\d+\s*,\s*(\d+)\s*\)\s*\)", sql, re.I)
            casts += [str(MAX_SCALE)] * len(re.findall(rf"money_decimal\(\s*'{column}'\s*\)", sql))
            assert casts and {int(s) for s in casts} == {MAX_SCALE}, (source, column, casts)


def test_reserved_names_cover_every_column_staging_adds() -> None:
    from shop_analytics.quality.namespace import RESERVED_NAMES
    from shop_analytics.quality.raw_contract import ALL_SOURCES

    for source in ALL_SOURCES:
        model = ROOT / "models" / "staging" / f"stg_shop__{source.name}.sql"
        sql = model.read_text()
        aliases = {a.lower() for a in re.findall(r"\bas\s+([a-z_][a-z0-9_]*)\s*(?:,|$)", sql, re.I | re.M)}
        added = (
            aliases
            - {f.name for f in source.schema}
            - {"source", "renamed", "latest_snapshot", "deduplicated", "trusted_unique"}
        )
        assert added <= RESERVED_NAMES, (source.name, sorted(added - RESERVED_NAMES))


# --- 14. disk full, permissions, a held lock: exit 4, one line, nothing half-committed ---------------


@pytest.mark.parametrize("point", ["written", "intent", "rename:1", "rename:2", "renamed", "committed"])
def test_disk_full_is_an_operational_error_and_a_rerun_converges(
    data: Copy, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = pa.concat_tables([purchases_table(100), purchases_table(900, 1, amount=[-1.0])])
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": table})
    monkeypatch.setenv("SHOP_ANALYTICS_INGEST_FAIL_AT", point)
    code, out, err = run_cli(data.root)
    assert code == OPERATIONAL
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"shop-analytics ingest: operational error: purchases batch {NEW_ID}: disk full")
    monkeypatch.delenv("SHOP_ANALYTICS_INGEST_FAIL_AT")
    code, out, err = run_cli(data.root)
    assert code == OK, err
    row = _ingested_new(data)
    assert (row["rows_admitted"], row["rows_quarantined"]) == (20, 1)
    assert len(lake_rows(data.root, "purchases", COMMITTED_ID)) == 20


def test_permission_denied_is_an_operational_error(data: Copy, monkeypatch: pytest.MonkeyPatch) -> None:
    from shop_analytics.ingest import lake_files

    land(data.root, "purchases", NEW_ID, {"part-0.parquet": purchases_table(100)})

    def denied(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dst))

    monkeypatch.setattr(lake_files.os, "replace", denied)
    code, out, err = run_cli(data.root)
    assert code == OPERATIONAL and "Traceback" not in err
    assert f"purchases batch {NEW_ID}: Permission denied: {data.root}/lake/purchases/" in err
    monkeypatch.undo()
    assert run_cli(data.root)[0] == OK
    _ingested_new(data)


def test_real_write_failure_from_the_os_is_an_operational_error(data: Copy) -> None:
    # RLIMIT_FSIZE makes the kernel refuse to grow any file past 2 MB (EFBIG): a real I/O failure
    # without root. The catalog (its Bloom filters are megabytes) cannot grow, so a catalog write
    # fails after the batch's files were renamed into place (at its commit, or at the key filter's
    # checkpoint after it, depending on sizes).
    n = 5_000
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": purchases_table(10_000, n=n)})
    done = run_cli_subprocess(data.root, {"SHOP_TEST_FSIZE_LIMIT": str(2 << 20)})
    assert done.returncode == OPERATIONAL, (done.stdout[-2000:], done.stderr[-2000:])
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"operational error: purchases batch {NEW_ID}: " in done.stderr and "File too large" in done.stderr
    assert expected_batch_files("purchases", NEW_ID, assert_untouched(data.before, data.root))
    assert run_cli(data.root)[0] == OK  # rolls back what was not committed and carries on
    assert _ingested_new(data)["rows_admitted"] == n


def test_held_catalog_lock_is_an_operational_error(data: Copy) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(120)",
            str(data.root / "ingest_catalog.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        land(data.root, "purchases", NEW_ID, {"part-0.parquet": purchases_table(100)})
        code, out, err = run_cli(data.root)
        assert code == OPERATIONAL and "Traceback" not in err
        assert "ingest_catalog.duckdb is locked by another process" in err
    finally:
        holder.kill()
        holder.wait()
    assert run_cli(data.root)[0] == OK
    _ingested_new(data)


# --- exit codes: the most severe outcome wins -------------------------------------------------------------


def test_exit_code_order_operational_over_threshold_over_rejected(data: Copy, monkeypatch: pytest.MonkeyPatch) -> None:
    land(data.root, "purchases", "2019-01-01", {"part-0.parquet": purchases_table(100).drop_columns(["amount"])})
    code, _, err = run_cli(data.root)
    assert code == REJECTED and "[removed_column]" in err
    land(data.root, "purchases", "2019-02-01", {"part-0.parquet": purchases_table(200, amount=[-1.0] * 20)})
    land(data.root, "ratings", "2019-02-01", {"part-0.parquet": ratings_table(1)})
    land(data.root, "purchases", "bad id", {"part-0.parquet": purchases_table(300)})
    code, _, err = run_cli(data.root)
    assert code == THRESHOLD  # a 100% quarantined batch beats the refused id
    assert "QUARANTINE THRESHOLD purchases batch 2019-02-01: 20 of 20 rows (100.0%)" in err
    assert "invalid_value:amount 20" in err
    land(data.root, "ratings", "2019-03-01", {"part-0.parquet": ratings_table(100)})
    monkeypatch.setenv("SHOP_ANALYTICS_INGEST_FAIL_AT", "rename")
    assert run_cli(data.root)[0] == OPERATIONAL


def test_max_quarantine_share_is_configurable(data: Copy) -> None:
    land(data.root, "purchases", NEW_ID, {"part-0.parquet": purchases_table(100, n=10, amount=[-1.0] + [1.0] * 9)})
    assert run_cli(data.root, "--max-quarantine-share", "0.2")[0] == OK
    land(data.root, "purchases", "2019-01-01", {"part-0.parquet": purchases_table(200, n=10, amount=[-1.0] * 10)})
    assert run_cli(data.root, "--max-quarantine-share", "1")[0] == THRESHOLD  # all rows lost: always counted
