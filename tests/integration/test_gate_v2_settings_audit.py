"""ingest.yml and _batch.yml, quarantine thresholds and exit codes, and the ingest audit export to the lake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from shop_analytics.settings import IngestConfig, IngestConfigError, SourceIngestSettings, batch_settings
from support.gate_v2_data import build_v2_baseline, ingest, land_lines, line, write_config
from support.handmade_landing import copy_baseline, land


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("v2_settings") / "data"
    build_v2_baseline(root)
    return root


@pytest.fixture()
def root(baseline: Path, tmp_path: Path) -> Path:
    return copy_baseline(baseline, tmp_path / "data").root


def test_ingest_yml_defaults_sections_and_errors(tmp_path: Path) -> None:
    assert IngestConfig.load(None).for_source("ratings") == SourceIngestSettings()
    assert SourceIngestSettings().earliest == dt.date(1970, 1, 1)
    path = tmp_path / "ingest.yml"
    path.write_text(
        "defaults: {time_zone: Europe/London, max_quarantine_share: 0.2}\n"
        "sources: {ratings: {earliest: 1995-01-01, max_future: 12 hours, timestamp_format: epoch_s}}\n"
    )
    config = IngestConfig.load(path, ("ratings", "users"))
    ratings = config.for_source("ratings")
    assert (ratings.time_zone, ratings.earliest, ratings.max_future, ratings.timestamp_format) == (
        "Europe/London",
        dt.date(1995, 1, 1),
        dt.timedelta(hours=12),
        "epoch_s",
    )
    assert config.for_source("users").max_quarantine_share == 0.2
    bad = {
        "defaults: {time_zone: Mars/Olympus}": "not an IANA time zone",
        "defaults: {timestamp_format: unix}": "expected one of",
        "defaults: {earliest: yesterday}": "expected a date",
        "defaults: {max_future: soon}": "expected a duration",
        "defaults: {max_quarantine_share: 2}": "between 0 and 1",
        "defaults: {default_currency: usd}": "ISO 4217",
        "defaults: {colour: blue}": "unknown key",
        "sources: {orders: {}}": "unknown source",
        "other: 1": "unknown top-level key",
        "- a list": "expected a mapping",
    }
    for text, message in bad.items():
        path.write_text(text)
        with pytest.raises(IngestConfigError, match=message) as caught:
            IngestConfig.load(path, ("ratings",))
        assert str(path) in str(caught.value)


def test_batch_settings_may_override_only_how_data_reads() -> None:
    base = SourceIngestSettings(earliest=dt.date(1990, 1, 1))
    got = batch_settings(base, b"time_zone: Asia/Tokyo\ndefault_currency: JPY\n", "b/_batch.yml")
    assert (got.time_zone, got.default_currency, got.earliest) == ("Asia/Tokyo", "JPY", dt.date(1990, 1, 1))
    with pytest.raises(IngestConfigError, match=r"b/_batch.yml: unknown key\(s\) \['earliest'\]"):
        batch_settings(base, b"earliest: 1900-01-01\n", "b/_batch.yml")


def test_a_bad_batch_settings_file_rejects_the_batch(root: Path) -> None:
    land_lines(root, "b1", [line("A", 1)], settings={"time_zone": "Nowhere/Land"})
    code, _, err = ingest(root)
    assert code == 1
    assert "invalid_batch_settings" in (root / "quarantine" / "order_lines" / "b1" / "reason.json").read_text()
    assert "order_lines batch b1: _batch.yml: time_zone" in err


def test_the_batch_settings_file_is_part_of_the_batch_identity(root: Path) -> None:
    folder = land_lines(root, "b1", [line("A", 1)], settings={"time_zone": "UTC"})
    assert ingest(root)[0] == 0
    (folder / "_batch.yml").write_text("time_zone: Asia/Tokyo\n")
    code, _, err = ingest(root)
    assert code == 1 and "already ingested with content hash" in err


def test_thresholds_per_source_and_exit_codes(root: Path) -> None:
    lines = [line(f"T{i}", 1) for i in range(9)] + [line("T9", 1, quantity=0)]  # 10 % quarantined
    land_lines(root, "b1", lines)
    code, _, err = ingest(root, write_config(root, sources={"order_lines": {"max_quarantine_share": 0.2}}))
    assert code == 0, err
    land_lines(root, "b2", [line(f"U{i}", 1) for i in range(9)] + [line("U9", 1, quantity=0)])
    code, _, err = ingest(root)  # the default 5 %
    assert code == 3
    assert "order_lines batch b2: 1 of 10 rows (10.0%) quarantined, over the 5.0% threshold" in err
    assert "invalid_value:quantity 1 (e.g. row 9, quantity = '0')" in err


def test_a_fully_quarantined_batch_always_fails(root: Path) -> None:
    land_lines(root, "b1", [line("Z1", 1, currency="ZZZ"), line("Z2", 1, currency="ZZZ")])
    code, _, err = ingest(root, write_config(root, {"max_quarantine_share": 1.0}))
    assert code == 3
    assert "order_lines batch b1: 2 of 2 rows (100.0%) quarantined, every row" in err
    assert "unknown_currency:currency 2 (e.g. row 0, currency = 'ZZZ')" in err


def read_audit(root: Path, source: str, batch_id: str) -> dict:
    path = root / "lake" / "_ingest_audit" / f"batch_{source}__{batch_id}.parquet"
    rows = pq.read_table(path).to_pylist()
    assert len(rows) == 1
    return rows[0]


def test_the_audit_is_exported_per_batch(root: Path) -> None:
    users = read_audit(root, "users", "2018-01-01")
    assert (users["status"], users["rows_in"], users["rows_admitted"], users["quarantined_by_reason"]) == (
        "ingested",
        3,
        3,
        [],
    )
    land_lines(root, "b1", [line("A", 1), line("A", 1), line("B", 1, currency="XYZ")])
    land(root, "order_lines", "b2", {"part-0.csv": b"order_id\nX\n"})  # a batch the contract rejects whole
    ingest(root)
    ingested = read_audit(root, "order_lines", "b1")
    assert {
        k: ingested[k] for k in ("source", "batch_id", "status", "rows_in", "rows_admitted", "rows_quarantined")
    } == {
        "source": "order_lines",
        "batch_id": "b1",
        "status": "ingested",
        "rows_in": 3,
        "rows_admitted": 1,
        "rows_quarantined": 2,
    }
    assert ingested["quarantined_by_reason"] == [
        {"reason": "duplicate_event_id:order_id+line_number", "rows": 1},
        {"reason": "unknown_currency:currency", "rows": 1},
    ]
    assert ingested["contract_version"] == 1 and ingested["committed_at"] is not None
    rejected = read_audit(root, "order_lines", "b2")
    assert (rejected["status"], rejected["rows_in"], rejected["rows_quarantined"]) == ("rejected", 1, 1)
    # A batch rejected whole commits while being read, before the row gate commits b1.
    assert users["commit_seq"] < rejected["commit_seq"] < ingested["commit_seq"]
    assert not list((root / "lake" / "_ingest_audit").glob(".*"))  # no temporary file left


def test_missing_audit_files_are_written_by_the_next_run(root: Path) -> None:
    path = root / "lake" / "_ingest_audit" / "batch_items__2018-01-01.parquet"
    path.unlink()
    assert ingest(root)[0] == 0
    assert read_audit(root, "items", "2018-01-01")["rows_in"] == 3
