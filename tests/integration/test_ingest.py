"""Ingest: counts reconcile, quarantine reasons match the generator's ground truth, re-runs are no-ops."""

from __future__ import annotations

import collections
import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest import BatchReport, audit_rows, ingest
from shop_analytics.settings import DataLayout
from support.pipeline import Pipeline, ingest_settings

_settings = ingest_settings
# Six monthly batches per source for the re-run tests: what they check holds batch by batch, and
# every batch costs ingest time (36 of them made these the slowest ingest tests).
SIX_MONTHS = dt.date(2018, 7, 1)
CHANGED_BATCH = "order_lines/batch_date=2018-09-01"


@pytest.fixture(scope="module")
def ingested_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[BatchReport]]:
    """A generated landing (seed 3) after one ingest, and that ingest's reports; tests work on copies."""
    root = tmp_path_factory.mktemp("ingested_once")
    generate(GeneratorConfig(scale=0.002, seed=3, start=SIX_MONTHS), DataLayout(root).landing, progress=False)
    return root, ingest(DataLayout(root), _settings(root))


def _copy(root: Path, tmp_path: Path) -> DataLayout:
    shutil.copytree(root, tmp_path / "data")
    return DataLayout(tmp_path / "data")


def test_audit_reconciles_and_matches_manifest(pipeline: Pipeline) -> None:
    audit = audit_rows(pipeline.layout)
    assert audit
    by_source: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for row in audit:
        assert row["rows_in"] == row["rows_admitted"] + row["rows_quarantined"]
        by_source[row["source"]]["rows_in"] += row["rows_in"]
        by_source[row["source"]]["admitted"] += row["rows_admitted"]
        by_source[row["source"]]["quarantined"] += row["rows_quarantined"]
    con = duckdb.connect()
    for source, entry in pipeline.manifest["sources"].items():
        got = by_source[source]
        assert got["rows_in"] == entry["rows"]
        assert got["admitted"] + got["quarantined"] == entry["rows"]
        # The manifest counts dirty rows per defect kind; a row may carry several reasons
        # ('<kind>:<column>', e.g. two columns of one defect), so rows are counted per kind
        # from the quarantine files' reasons, not reasons from the audit.
        files = sorted((pipeline.layout.quarantine / source).glob("*/rejected.parquet"))
        got_kinds = dict(
            con.execute(
                "select split_part(reason, ':', 1) as kind, count(distinct row_id) from ("
                "  select row_id, unnest(reasons) as reason from ("
                "    select row_number() over () as row_id, __gate_reasons as reasons from read_parquet($files)"
                "  )"
                ") group by kind",
                {"files": [str(f) for f in files]},
            ).fetchall()
            if files
            else []
        )
        # The manifest's `dirty` counts are exactly what a correct gate quarantines, per kind.
        expected_kinds = {k: v for k, v in entry["dirty"].items() if v}
        assert got_kinds == expected_kinds, source


def test_lake_and_quarantine_hold_every_row(pipeline: Pipeline) -> None:
    con = duckdb.connect()
    lake, quarantine = pipeline.layout.lake, pipeline.layout.quarantine
    for source, entry in pipeline.manifest["sources"].items():
        if entry["rows"] == 0 and not (lake / source).exists():
            continue  # a contract v2 source this generator does not write
        pattern = (
            f"{lake}/{source}/event_date=*/*.parquet"
            if source not in ("users", "items")
            else f"{lake}/{source}/*.parquet"
        )
        admitted = con.execute(f"SELECT count(*) FROM read_parquet('{pattern}')").fetchone()[0]
        rejected = 0
        if any((quarantine / source).glob("*/rejected.parquet")):
            rejected = con.execute(
                f"SELECT count(*) FROM read_parquet('{quarantine}/{source}/*/rejected.parquet')"
            ).fetchone()[0]
        assert admitted + rejected == entry["rows"], source


def test_lake_partitions_match_event_dates(pipeline: Pipeline) -> None:
    con = duckdb.connect()
    mismatched = con.execute(
        f"SELECT count(*) FROM read_parquet('{pipeline.layout.lake}/page_views/*/*.parquet', hive_partitioning = true) "
        "WHERE CAST(viewed_at AS DATE) <> event_date"
    ).fetchone()[0]
    assert mismatched == 0


def test_reingest_same_content_is_a_no_op(ingested_once: tuple[Path, list[BatchReport]], tmp_path: Path) -> None:
    root, first = ingested_once
    layout = _copy(root, tmp_path)
    lake_files = sorted(p.relative_to(layout.root) for p in layout.lake.rglob("*.parquet"))
    second = ingest(layout, _settings(layout.root))
    assert {r.status for r in first} == {"ingested"}
    assert {r.status for r in second} == {"skipped"}
    assert sorted(p.relative_to(layout.root) for p in layout.lake.rglob("*.parquet")) == lake_files


def test_changed_content_under_same_batch_id_is_refused(
    ingested_once: tuple[Path, list[BatchReport]], tmp_path: Path
) -> None:
    layout = _copy(ingested_once[0], tmp_path)
    other = tmp_path / "other"
    generate(GeneratorConfig(scale=0.002, seed=4, start=SIX_MONTHS), other, progress=False)
    shutil.rmtree(layout.landing / CHANGED_BATCH)
    shutil.copytree(other / CHANGED_BATCH, layout.landing / CHANGED_BATCH)
    reports = [r for r in ingest(layout, _settings(layout.root)) if r.status != "skipped"]
    assert [(r.source, r.batch_id, r.status) for r in reports] == [("order_lines", "2018-09-01", "conflict")]
    assert "already ingested with content hash" in reports[0].message


def test_csv_landing_gives_the_same_lake_as_parquet(tmp_path: Path) -> None:
    counts: dict[str, list] = {}
    for fmt in ("parquet", "csv"):
        layout = DataLayout(tmp_path / fmt)
        config = GeneratorConfig(scale=0.002, seed=5, file_format=fmt, start=SIX_MONTHS)
        generate(config, layout.landing, progress=False)
        ingest(layout, _settings(tmp_path))
        con = duckdb.connect()
        counts[fmt] = con.execute(
            f"SELECT * FROM read_parquet('{layout.lake}/order_lines/*/*.parquet', hive_partitioning = true) "
            "ORDER BY order_id, line_number"
        ).fetchall()
    assert len(counts["parquet"]) > 100
    assert counts["csv"] == counts["parquet"]


def test_quarantined_rows_carry_machine_readable_reasons(pipeline: Pipeline) -> None:
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT __gate_reasons FROM read_parquet('{pipeline.layout.quarantine}/*/*/rejected.parquet')"
    ).fetchall()
    assert rows
    kinds = {
        "null_key",
        "invalid_value",
        "duplicate_event_id",
        "unknown_user",
        "unknown_item",
        "timestamp_out_of_range",
        "missing_value",
        "invalid_type",
        "duplicate_in_lake",
        "invalid_precision",
        "invalid_key",
        "invalid_local_time",
        "unknown_currency",
        "unknown_order",
        "inconsistent_order",
    }
    for (reasons,) in rows:
        assert reasons, "every quarantined row has at least one reason"
        for reason in reasons:
            kind, column = reason.split(":", 1)
            assert kind in kinds and column


def test_audit_records_contract_version_and_status(pipeline: Pipeline) -> None:
    audit = audit_rows(pipeline.layout)
    assert {row["status"] for row in audit} == {"ingested"}
    # The generator writes contract v2 (text keys; items with name and price_currency); the legacy
    # purchases' integer keys match v2 too (an integer key is accepted as its exact text). Sources
    # new in v2 are at their first version.
    assert {row["source"]: row["contract_version"] for row in audit} == {
        "users": 2,
        "items": 2,
        "page_views": 2,
        "purchases": 2,
        "ratings": 2,
        "order_lines": 1,
        "exchange_rates": 1,
    }
    assert {row["contract_status"] for row in audit} == {"accepted"}
