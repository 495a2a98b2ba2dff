"""Bad-input catalogue: each kind of bad landing batch gets a specific error or quarantine reason.

Every case lands one crafted batch next to an already ingested users/items baseline,
runs ingest, and checks the specific outcome plus the invariants: rows in = rows in
the lake + rows in quarantine, rejected batches are copied whole with a reason.json,
and no scratch or partial file is left anywhere. docs/quality_gate.md lists the cases.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest import BatchReport, IngestSettings, audit_rows, ingest
from shop_analytics.quality.raw_contract import COMPLETION_MARKER
from shop_analytics.settings import DataLayout
from support.handmade_landing import land
from support.pipeline import ingest_settings

NEW_BATCH = "2018-12-31"  # a batch id after every generated one


@dataclass(frozen=True)
class Base:
    """An ingested users/items baseline plus clean purchase rows to craft batches from."""

    root: Path
    purchases: pa.Table  # clean rows: known users and items, plausible times and values


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    root = tmp_path_factory.mktemp("bad_inputs_base")
    layout = DataLayout(root)
    generate(
        # Six monthly batches per source (July to December 2018): every case copies this baseline.
        GeneratorConfig(
            scale=0.002, seed=3, dirty_rate=0.0, late_rate=0.0, legacy_purchases=True, start=dt.date(2018, 7, 1)
        ),
        layout.landing,
        progress=False,
    )
    purchases = pq.read_table(sorted((layout.landing / "purchases").glob("*/*.parquet"))[-1])
    for fact in ("page_views", "purchases", "ratings"):
        shutil.rmtree(layout.landing / fact)
    ingest(layout, _settings(root))
    return Base(root, purchases.slice(0, 20))


def _settings(root: Path, **kw: object) -> IngestSettings:
    return ingest_settings(root, **kw)


@dataclass
class Case:
    """A fresh copy of the baseline with helpers to land files and inspect the result."""

    layout: DataLayout
    base: Base

    def land(self, files: dict[str, bytes | pa.Table], source: str = "purchases", batch: str = NEW_BATCH) -> Path:
        return land(self.layout.root, source, batch, files)  # the completion marker last, as a producer must

    def ingest(self, **kw: object) -> list[BatchReport]:
        reports = ingest(self.layout, _settings(self.layout.root, **kw))
        _assert_nothing_half_written(self.layout)
        return [r for r in reports if r.status != "skipped"]

    def lake_rows(self, source: str = "purchases", batch: str = NEW_BATCH) -> int:
        files = list((self.layout.lake / source).rglob(f"batch_{batch}*.parquet"))
        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)

    def quarantine(self, source: str = "purchases", batch: str = NEW_BATCH) -> Path:
        return self.layout.quarantine / source / batch

    def rejected_rows(self, source: str = "purchases", batch: str = NEW_BATCH) -> list[dict]:
        path = self.quarantine(source, batch) / "rejected.parquet"
        return pq.read_table(path).to_pylist() if path.exists() else []


@pytest.fixture()
def case(base: Base, tmp_path: Path) -> Case:
    root = tmp_path / "data"
    shutil.copytree(base.root, root)
    return Case(DataLayout(root), base)


def _assert_nothing_half_written(layout: DataLayout) -> None:
    assert not layout.staging_area.exists(), "scratch area left behind"
    for path in layout.lake.rglob("*"):
        if path.is_file():
            assert path.suffix == ".parquet", path
            assert pq.ParquetFile(path).metadata.num_columns  # complete file: footer readable


def _reconciles(case: Case, report: BatchReport, source: str = "purchases", batch: str = NEW_BATCH) -> None:
    assert report.rows_in == report.rows_admitted + report.rows_quarantined
    assert case.lake_rows(source, batch) == report.rows_admitted
    assert len(case.rejected_rows(source, batch)) == (report.rows_quarantined if report.status == "ingested" else 0)


def _assert_batch_rejected(case: Case, report: BatchReport, rule: str, column: str | None = None) -> dict:
    assert report.status == "rejected", report
    folder = case.quarantine()
    reason = json.loads((folder / "reason.json").read_text())
    assert reason["rule"] == rule, reason
    if column:
        assert reason["column"] == column and column in report.message, (reason, report.message)
    landed = case.layout.landing / "purchases" / f"batch_date={NEW_BATCH}"
    for original in landed.iterdir():  # the whole batch is kept, byte for byte (the marker is not data)
        if original.name != COMPLETION_MARKER:
            assert (folder / "files" / original.name).read_bytes() == original.read_bytes()
    assert case.lake_rows() == 0
    audit = {(r["source"], r["batch_id"]): r for r in audit_rows(case.layout)}[("purchases", NEW_BATCH)]
    assert audit["status"] == "rejected" and audit["rows_admitted"] == 0
    return reason


def _one(reports: list[BatchReport]) -> BatchReport:
    assert len(reports) == 1, reports
    return reports[0]


def _csv(table: pa.Table, delimiter: str = ",") -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(delimiter=delimiter))
    return sink.getvalue().to_pybytes()


def _with(table: pa.Table, column: str, values: list) -> pa.Table:
    i = table.schema.get_field_index(column)
    return table.set_column(i, table.schema.field(i), pa.array(values, type=table.schema.field(i).type))


def _reasons(case: Case) -> set[str]:
    return {r for row in case.rejected_rows() for r in row["__gate_reasons"]}


# --- unreadable files: the whole batch is rejected with a specific rule -------------------


def test_corrupt_parquet(case: Case) -> None:
    case.land({"part-0.parquet": b"PAR1 this is not a parquet file at all" * 10})
    _assert_batch_rejected(case, _one(case.ingest()), "unreadable_file")


def test_truncated_parquet(case: Case) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(case.base.purchases, sink)
    data = sink.getvalue().to_pybytes()
    case.land({"part-0.parquet": data[: len(data) // 2]})
    _assert_batch_rejected(case, _one(case.ingest()), "unreadable_file")


def test_empty_file(case: Case) -> None:
    case.land({"part-0.parquet": b""})
    _assert_batch_rejected(case, _one(case.ingest()), "empty_file")


def test_empty_csv_file(case: Case) -> None:
    case.land({"part-0.csv": b""})
    _assert_batch_rejected(case, _one(case.ingest()), "empty_file")


def test_truncated_csv(case: Case) -> None:
    data = _csv(case.base.purchases)
    case.land({"part-0.csv": data[: len(data) - 25]})  # the last line stops mid-row
    _assert_batch_rejected(case, _one(case.ingest()), "unparsable_csv")


def test_non_utf8_text(case: Case) -> None:
    data = _csv(case.base.purchases).replace(b"\n", "\nÿ".encode("latin-1"), 2)
    case.land({"part-0.csv": data})
    report = _one(case.ingest())
    _assert_batch_rejected(case, report, "unreadable_file")
    assert "unicode" in report.message.lower() or "utf" in report.message.lower(), report.message


def test_mixed_formats_in_one_batch(case: Case) -> None:
    case.land({"part-0.parquet": case.base.purchases, "part-1.csv": _csv(case.base.purchases)})
    _assert_batch_rejected(case, _one(case.ingest()), "mixed_formats")


def test_files_of_one_batch_disagree_on_schema(case: Case) -> None:
    case.land(
        {
            "part-0.parquet": case.base.purchases,
            "part-1.parquet": case.base.purchases.append_column(
                "coupon", pa.array(["x"] * case.base.purchases.num_rows)
            ),
        }
    )
    _assert_batch_rejected(case, _one(case.ingest()), "files_disagree")


# --- text formats: sniffed, cast to contract types, bad values become row reasons ----------


def test_header_only_csv(case: Case) -> None:
    case.land({"part-0.csv": _csv(case.base.purchases.slice(0, 0))})
    report = _one(case.ingest())
    assert (report.status, report.rows_in, report.rows_admitted) == ("ingested", 0, 0)
    _reconciles(case, report)


def test_wrong_delimiter_is_sniffed(case: Case) -> None:
    case.land({"part-0.csv": _csv(case.base.purchases, delimiter=";")})
    report = _one(case.ingest())
    assert (report.status, report.rows_admitted) == ("ingested", case.base.purchases.num_rows)
    _reconciles(case, report)


def test_value_that_does_not_cast_is_invalid_type(case: Case) -> None:
    text = _csv(case.base.purchases).decode()
    lines = text.splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index('"amount"') if '"amount"' in header else header.index("amount")] = "twelve"
    lines[1] = ",".join(cells)
    case.land({"part-0.csv": ("\n".join(lines) + "\n").encode()})
    report = _one(case.ingest())
    assert report.quarantined_by_reason == {"invalid_type:amount": 1, "missing_value:amount": 1}
    row = case.rejected_rows()[0]
    assert row["__gate_raw__amount"] == "twelve"  # the original text is kept
    _reconciles(case, report)


def test_json_batch(case: Case) -> None:
    rows = case.base.purchases.to_pylist()
    text = "\n".join(json.dumps({**r, "purchased_at": r["purchased_at"].isoformat(sep=" ")}) for r in rows)
    case.land({"part-0.json": text.encode()})
    report = _one(case.ingest())
    assert (report.status, report.rows_admitted) == ("ingested", len(rows))
    _reconciles(case, report)


# --- values: row-level quarantine with a reason -------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_nan_and_infinite_amounts(case: Case, value: float) -> None:
    amounts = case.base.purchases.column("amount").to_pylist()
    amounts[3] = value
    case.land({"part-0.parquet": _with(case.base.purchases, "amount", amounts)})
    report = _one(case.ingest())
    assert report.quarantined_by_reason == {"invalid_value:amount": 1}
    _reconciles(case, report)


def test_dates_in_year_9999(case: Case) -> None:
    import datetime as dt

    times = case.base.purchases.column("purchased_at").to_pylist()
    times[0] = dt.datetime(9999, 12, 31, 23, 59)
    case.land({"part-0.parquet": _with(case.base.purchases, "purchased_at", times)})
    report = _one(case.ingest())
    assert report.quarantined_by_reason == {"timestamp_out_of_range:purchased_at": 1}
    _reconciles(case, report)


def test_huge_string(case: Case, base: Base) -> None:
    users = pq.read_table(sorted((case.layout.landing / "users").glob("*/*.parquet"))[0]).slice(0, 5)
    codes = users.column("country_code").to_pylist()
    codes[0] = "X" * 5_000_000
    case.land({"part-0.parquet": _with(users, "country_code", codes)}, source="users")
    report = _one(case.ingest())
    # Contract v2: a country is an attribute the warehouse flags, never a quarantine reason.
    assert report.quarantined_by_reason == {}
    assert report.rows_admitted == 5
    _reconciles(case, report, source="users")


def test_duplicate_event_within_batch(case: Case) -> None:
    table = pa.concat_tables([case.base.purchases, case.base.purchases.slice(0, 2)])
    case.land({"part-0.parquet": table})
    report = _one(case.ingest())
    assert report.quarantined_by_reason == {"duplicate_event_id:purchase_id": 2}
    _reconciles(case, report)


# --- batches: idempotency and duplicates across batches ------------------------------------


def test_duplicate_batch_is_skipped(case: Case) -> None:
    case.land({"part-0.parquet": case.base.purchases})
    first = _one(case.ingest())
    lake = sorted(case.layout.lake.rglob("*.parquet"))
    assert case.ingest() == []  # same content hash: skipped, nothing written
    assert sorted(case.layout.lake.rglob("*.parquet")) == lake
    assert first.rows_admitted == case.base.purchases.num_rows


def test_changed_content_under_same_batch_id(case: Case) -> None:
    folder = case.land({"part-0.parquet": case.base.purchases})
    case.ingest()
    pq.write_table(case.base.purchases.slice(0, 5), folder / "part-0.parquet")
    report = _one(case.ingest())
    assert (report.status, report.rule) == ("conflict", "conflict")
    assert case.lake_rows() == case.base.purchases.num_rows  # the ingested batch is untouched


def test_duplicate_event_across_batches(case: Case) -> None:
    case.land({"part-0.parquet": case.base.purchases})
    case.ingest()
    case.land({"part-0.parquet": case.base.purchases.slice(0, 7)}, batch="2019-01-01")
    report = _one(case.ingest())
    assert report.quarantined_by_reason == {"duplicate_in_lake:purchase_id": 7}
    assert report.seen_confirmed == 7
    _reconciles(case, report, batch="2019-01-01")


def test_unknown_source_folder(case: Case) -> None:
    folder = case.layout.landing / "refunds" / f"batch_date={NEW_BATCH}"
    folder.mkdir(parents=True)
    pq.write_table(case.base.purchases, folder / "part-0.parquet")
    reports = case.ingest()
    assert len(reports) == 1 and reports[0].status == "refused" and "unknown source folder" in reports[0].message
    assert (folder / "part-0.parquet").exists()  # left in landing, not lost
    assert not (case.layout.lake / "refunds").exists()


def test_badly_named_batch_folder(case: Case) -> None:
    folder = case.layout.landing / "purchases" / "2018-12-31"
    folder.mkdir(parents=True)
    pq.write_table(case.base.purchases, folder / "part-0.parquet")
    reports = case.ingest()
    assert len(reports) == 1 and reports[0].status == "refused" and "batch_date=" in reports[0].message
    assert (folder / "part-0.parquet").exists()


# --- schema evolution: accept rules ----------------------------------------------------------


def _contract_versions(case: Case) -> list[dict]:
    """The purchases contract versions accepted at run time (the ingest catalog), as dicts."""
    con = duckdb.connect(str(case.layout.catalog), read_only=True)
    try:
        rows = con.execute(
            "SELECT version, changes FROM contract_versions WHERE source = 'purchases' ORDER BY version"
        ).fetchall()
    finally:
        con.close()
    return [{"version": v, "changes": json.loads(changes)} for v, changes in rows]


def test_added_nullable_column_is_a_new_version(case: Case) -> None:
    coupons = pa.array(["SPRING"] * case.base.purchases.num_rows)
    case.land({"part-0.parquet": case.base.purchases.append_column("coupon_code", coupons)})
    report = _one(case.ingest())
    # v1 and v2 (text keys) are the maintainers'; run-time versions start at 3.
    assert (report.status, report.contract_status, report.contract_version) == ("ingested", "new_version", 3)
    assert _contract_versions(case)[-1]["changes"] == ["added nullable column coupon_code VARCHAR"]
    lake = duckdb.sql(
        f"SELECT DISTINCT coupon_code FROM read_parquet('{case.layout.lake}/purchases/*/batch_{NEW_BATCH}_*.parquet')"
    ).fetchall()
    assert lake == [("SPRING",)]
    _reconciles(case, report)


def test_widening_int_to_bigint(case: Case) -> None:
    table = case.base.purchases
    i = table.schema.get_field_index("quantity")
    case.land({"part-0.parquet": table.set_column(i, "quantity", table.column(i).cast(pa.int64()))})
    report = _one(case.ingest())
    assert (report.status, report.contract_status) == ("ingested", "new_version")
    assert _contract_versions(case)[-1]["changes"] == ["widened quantity INTEGER -> BIGINT"]


def test_widening_float_to_double(case: Case) -> None:
    table = case.base.purchases
    case.land({"part-0.parquet": table.append_column("discount", pa.array([0.1] * table.num_rows, pa.float32()))})
    assert _one(case.ingest()).contract_version == 3
    case.land(
        {"part-0.parquet": table.slice(0, 0).append_column("discount", pa.array([], pa.float64()))}, batch="2019-01-01"
    )
    report = _one(case.ingest())
    assert (report.status, report.contract_status, report.contract_version) == ("ingested", "new_version", 4)
    assert _contract_versions(case)[-1]["changes"] == ["widened discount FLOAT -> DOUBLE"]


# --- schema evolution: reject rules -----------------------------------------------------------


def test_removed_column(case: Case) -> None:
    case.land({"part-0.parquet": case.base.purchases.drop_columns(["quantity"])})
    _assert_batch_rejected(case, _one(case.ingest()), "removed_column", "quantity")


def test_renamed_column(case: Case) -> None:
    table = case.base.purchases
    case.land(
        {"part-0.parquet": table.rename_columns(["amount_usd" if n == "amount" else n for n in table.column_names])}
    )
    _assert_batch_rejected(case, _one(case.ingest()), "renamed_column", "amount")


def test_narrowing(case: Case) -> None:
    table = case.base.purchases
    i = table.schema.get_field_index("quantity")
    case.land({"part-0.parquet": table.set_column(i, "quantity", table.column(i).cast(pa.int16()))})
    _assert_batch_rejected(case, _one(case.ingest()), "narrowing", "quantity")


def test_type_family_change(case: Case) -> None:
    table = case.base.purchases
    i = table.schema.get_field_index("amount")
    case.land({"part-0.parquet": table.set_column(i, "amount", table.column(i).cast(pa.string()))})
    _assert_batch_rejected(case, _one(case.ingest()), "type_family_change", "amount")


def test_a_required_column_where_the_contract_allows_nulls_is_just_stricter(case: Case) -> None:
    # Contract v2: a batch that promises no NULLs is read as the version, not rejected
    # (nullable_to_required stays a rule between contract versions: tests/unit/test_contracts_policy.py).
    table = case.base.purchases
    schema = table.schema.set(0, pa.field("purchase_id", pa.int64(), nullable=False))
    case.land({"part-0.parquet": table.cast(schema)})
    report = _one(case.ingest())
    assert (report.status, report.contract_status, report.contract_version) == ("ingested", "accepted", 2)
    _reconciles(case, report)


def test_new_required_column(case: Case) -> None:
    table = case.base.purchases
    column = pa.array(["EUR"] * table.num_rows)
    schema = table.schema.append(pa.field("currency", pa.string(), nullable=False))
    case.land({"part-0.parquet": pa.Table.from_arrays([*table.columns, column], schema=schema)})
    _assert_batch_rejected(case, _one(case.ingest()), "new_required_column", "currency")


def test_rejected_batch_does_not_stop_the_others_unless_strict(case: Case) -> None:
    case.land({"part-0.parquet": case.base.purchases.drop_columns(["amount"])})
    case.land({"part-0.parquet": case.base.purchases}, batch="2019-01-01")
    reports = case.ingest()
    assert [r.status for r in reports] == ["rejected", "ingested"]


def test_strict_stops_at_the_first_rejected_batch(case: Case) -> None:
    case.land({"part-0.parquet": case.base.purchases.drop_columns(["amount"])})
    case.land({"part-0.parquet": case.base.purchases}, batch="2019-01-01")
    assert [r.status for r in case.ingest(strict=True)] == ["rejected"]
    assert case.lake_rows(batch="2019-01-01") == 0


def test_fixed_redelivery_of_a_rejected_batch_is_ingested(case: Case) -> None:
    folder = case.land({"part-0.parquet": case.base.purchases.drop_columns(["amount"])})
    assert _one(case.ingest()).status == "rejected"
    pq.write_table(case.base.purchases, folder / "part-0.parquet")
    report = _one(case.ingest())
    assert report.status == "ingested" and report.rows_admitted == case.base.purchases.num_rows
    assert not (case.quarantine() / "reason.json").exists()
