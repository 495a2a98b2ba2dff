"""Property-based tests (hypothesis): random batch ids, column names and values never delete or alter
committed data, never run SQL, and every row is accounted for.

The end-to-end properties run the real `shop-analytics ingest` on a copy of one shared
committed baseline (tests/support/handmade_landing.py) per example, so they keep max_examples
modest; the conversion properties run the conversion SQL alone, with many examples,
against oracles written from the documented rules (docs/quality_gate.md).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shop_analytics.ingest.conversions import text_to_type_sql
from shop_analytics.quality.namespace import NEW_COLUMN_NAME, RESERVED_NAMES
from shop_analytics.quality.raw_contract import BATCH_ID, PURCHASES
from support.handmade_landing import (
    COMMITTED_ID,
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
    run_cli,
)

E2E = settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UNIT = settings(max_examples=300, deadline=None, database=None)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("properties") / "data"
    build_baseline(root)
    return root


@contextmanager
def _copy(baseline: Path) -> Iterator[tuple[Path, dict[str, str], Path]]:
    with tempfile.TemporaryDirectory() as tmp:
        data = copy_baseline(baseline, Path(tmp) / "data")
        yield data.root, data.before, Path(tmp)


def _fits(name: str) -> bool:
    """A folder name the file system can hold."""
    return "/" not in name and "\x00" not in name and len(f"batch_date={name}".encode("utf-8", "surrogatepass")) <= 255


BATCH_IDS = st.one_of(
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), max_size=70),
    st.from_regex(BATCH_ID, fullmatch=True),
    st.sampled_from(
        [
            "..",
            ".",
            "",
            "*",
            "'",
            "-rf",
            ".hidden",
            "a" * 65,
            COMMITTED_ID,
            "2018-12-01_1 ",
            "x'); COPY (SELECT 1) TO 'pwned.csv'; --",
            "$(touch pwned)",
            "..\\..",
            "con",
            "ÄÖ",
        ]
    ),
)


@E2E
@given(batch_id=BATCH_IDS)
def test_random_batch_ids(baseline: Path, batch_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assume(_fits(batch_id))
    with _copy(baseline) as (root, before, tmp):
        monkeypatch.chdir(tmp)
        land(root, "purchases", batch_id, {"part-0.parquet": purchases_table(100)})
        code, out, err = run_cli(root)
        new = assert_untouched(before, root)
        rows = audit(root)
        assert ("purchases", COMMITTED_ID) in rows and rows[("purchases", COMMITTED_ID)]["status"] == "ingested"
        if batch_id == COMMITTED_ID:  # the same id with other content: a conflict, nothing changes
            assert code == 1 and "CONFLICT" in err and new == {}
        elif BATCH_ID.fullmatch(batch_id):
            assert code == 0, err
            assert new and expected_batch_files("purchases", batch_id, new)
            assert assert_accounted(root, "purchases", batch_id)["rows_admitted"] == 20
        else:
            assert code == 1 and "REFUSED" in err and new == {}
            assert len(rows) == 3
        assert not list(tmp.rglob("pwned*"))


COLUMN_NAMES = st.one_of(
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=70),
    st.from_regex(NEW_COLUMN_NAME, fullmatch=True),
    st.sampled_from(
        sorted(RESERVED_NAMES)
        + [
            "__gate_row_number",
            "__GATE_x",
            "AMOUNT",
            "amount",
            "row_number",
            "user_id__known",
            'a"b',
            "x'); DROP TABLE seen_keys; --",
            "",
        ]
    ),
)


def _expected_rule(name: str) -> str | None:
    """The documented naming rules, applied to one extra column next to the purchases contract columns."""
    folded = name.casefold()
    if folded in {f.name.casefold() for f in PURCHASES.schema}:
        return "duplicate_column"
    if folded.startswith("__gate_") or folded in RESERVED_NAMES:
        return "reserved_column"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
        return "invalid_column_name"
    return None


@E2E
@given(name=COLUMN_NAMES)
def test_random_extra_column_names(baseline: Path, name: str) -> None:
    with _copy(baseline) as (root, before, _):
        table = purchases_table(100)
        table = pa.Table.from_arrays([*table.columns, pa.array([7] * 20)], names=[*table.column_names, name])
        land(root, "purchases", "2019-01-01", {"part-0.parquet": table})
        code, out, err = run_cli(root)
        assert_untouched(before, root)
        row = assert_accounted(root, "purchases", "2019-01-01")
        rule = _expected_rule(name)
        if rule is None:
            assert (code, row["status"], row["rows_admitted"], row["contract_version"]) == (0, "ingested", 20, 3)
            assert {r[name] for r in lake_rows(root, "purchases", "2019-01-01")} == {7}
        else:
            assert (code, row["status"], row["rows_quarantined"]) == (1, "rejected", 20)
            assert f"[{rule}]" in row["message"], row["message"]
        assert len(audit(root)) == 4


# --- exact conversions, against oracles from the documented rules --------------------------------

_CON = duckdb.connect()


def _convert(text: str | None, type_name: str) -> object:
    return _CON.execute(f"SELECT {text_to_type_sql('CAST($1 AS VARCHAR)', type_name)}", [text]).fetchone()[0]


NUMBERISH = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text("0123456789+-.eE xX_,", max_size=12),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(-1000, 1000), st.integers(0, 99)),
)
RANGES = {"SMALLINT": 2**15, "INTEGER": 2**31, "BIGINT": 2**63}


@UNIT
@given(text=NUMBERISH, type_name=st.sampled_from(sorted(RANGES)))
def test_integer_text_converts_exactly_or_not_at_all(text: str, type_name: str) -> None:
    limit = RANGES[type_name]
    expected = None
    if re.fullmatch(r" *[+-]?[0-9]+ *", text) and -limit <= int(text.strip(" ")) < limit:
        expected = int(text.strip(" "))
    assert _convert(text, type_name) == expected


@UNIT
@given(text=NUMBERISH)
def test_double_text_converts_to_the_nearest_double_or_not_at_all(text: str) -> None:
    got = _convert(text, "DOUBLE")
    body = text.strip(" ")
    if re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", body):
        expected = float(body)
        assert got == expected or (math.isnan(expected) and math.isnan(got))
    elif re.fullmatch(r"[+-]?(?i:nan|inf|infinity)", body):
        assert got is not None
    else:
        assert got is None


OFFSETS = st.one_of(
    st.just(""),
    st.sampled_from(["Z", "z"]),
    st.builds(
        lambda s, h, m, sep: f"{s}{h:02d}{sep}{m:02d}",
        st.sampled_from("+-"),
        st.integers(0, 18),
        st.integers(0, 59),
        st.sampled_from(["", ":"]),
    ),
    st.builds(lambda s, h: f"{s}{h:02d}", st.sampled_from("+-"), st.integers(0, 18)),
)


@UNIT
@given(
    when=st.datetimes(dt.datetime(1900, 1, 2), dt.datetime(2099, 12, 30)),
    offset=OFFSETS,
    sep=st.sampled_from(["T", " ", "t"]),
    precision=st.sampled_from(["minutes", "seconds", "micro"]),
    pad=st.sampled_from(["", " "]),
)
def test_iso_timestamps_convert_to_utc(when: dt.datetime, offset: str, sep: str, precision: str, pad: str) -> None:
    if precision == "minutes":
        when = when.replace(second=0, microsecond=0)
        clock = when.strftime("%H:%M")
    elif precision == "seconds":
        when = when.replace(microsecond=0)
        clock = when.strftime("%H:%M:%S")
    else:
        clock = when.strftime("%H:%M:%S.%f").rstrip("0").rstrip(".") if when.microsecond else when.strftime("%H:%M:%S")
    text = f"{pad}{when.date().isoformat()}{sep}{clock}{offset}{pad}"
    minutes = 0
    if offset and offset not in "Zz":
        digits = offset[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
        minutes = -minutes if offset[0] == "-" else minutes
    assert _convert(text, "TIMESTAMP") == when - dt.timedelta(minutes=minutes), text


@UNIT
@given(text=st.text("0123456789-:T +Z.zx/", max_size=32))
def test_timestamp_junk_never_converts_to_a_guess(text: str) -> None:
    grammar = (
        r" *[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)? *"
        r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)? *"
    )
    got = _convert(text, "TIMESTAMP")
    if not re.fullmatch(grammar, text):
        assert got is None, text


# --- random values end to end: every row lands once, converted exactly or quarantined with its text ----

CELLS = st.one_of(
    st.text("0123456789+-.eE :TZ", max_size=10),
    st.integers(-5, 5).map(str),
    st.sampled_from(["", "1.5", "42.0", "2018-06-01T10:00:00+05:00", "2018-06-01", "nan", "9.999"]),
)


@E2E
@given(
    quantity=st.lists(CELLS, min_size=8, max_size=8),
    amount=st.lists(CELLS, min_size=8, max_size=8),
    purchased_at=st.lists(CELLS, min_size=8, max_size=8),
)
def test_random_values_are_admitted_exactly_or_quarantined_with_their_text(
    baseline: Path, quantity: list[str], amount: list[str], purchased_at: list[str]
) -> None:
    with _copy(baseline) as (root, before, _):
        table = purchases_table(100, n=8)
        cells: dict[str, list[str | None]] = {
            n: [str(v) for v in table.column(n).to_pylist()] for n in table.column_names
        }
        cells["quantity"], cells["amount"], cells["purchased_at"] = quantity, amount, purchased_at
        cells = {k: [v if v.strip(" ") else None for v in vs] for k, vs in cells.items()}
        land(root, "purchases", "2019-01-01", {"part-0.csv": csv_bytes(cells)})
        code, out, err = run_cli(root)
        assert code in (0, 3), err
        assert_untouched(before, root)
        assert_accounted(root, "purchases", "2019-01-01")
        admitted = {r["purchase_id"]: r for r in lake_rows(root, "purchases", "2019-01-01")}
        rejected = {r["purchase_id"]: r for r in quarantined_rows(root, "purchases", "2019-01-01")}
        assert sorted([*admitted, *rejected]) == list(range(100, 108))  # each row exactly once
        for i in range(8):
            pid = 100 + i
            texts = {
                "quantity": cells["quantity"][i],
                "amount": cells["amount"][i],
                "purchased_at": cells["purchased_at"][i],
            }
            converted = {
                "quantity": _convert(texts["quantity"], "INTEGER"),
                "amount": _convert(texts["amount"], "DOUBLE"),
                "purchased_at": _convert(texts["purchased_at"], "TIMESTAMP"),
            }
            if pid in admitted:
                for column, value in converted.items():
                    assert admitted[pid][column] == value, (column, texts[column])
            else:
                row = rejected[pid]
                for column, text in texts.items():
                    assert row[f"__gate_raw__{column}"] == text
                    bad_type = text is not None and converted[column] is None
                    assert (f"invalid_type:{column}" in row["__gate_reasons"]) == bad_type, (column, text)
