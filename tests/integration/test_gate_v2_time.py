"""Contract v2 timestamps: offsets, epoch seconds and milliseconds, local times with DST, configurable windows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from support.gate_v2_data import build_v2_baseline, ingest, land_lines, line, write_config
from support.handmade_landing import copy_baseline, csv_bytes, lake_rows, land, quarantined_rows


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("v2_time") / "data"
    build_v2_baseline(root)
    return root


@pytest.fixture()
def root(baseline: Path, tmp_path: Path) -> Path:
    return copy_baseline(baseline, tmp_path / "data").root


def admitted_times(root: Path, batch_id: str) -> dict[str, dt.datetime]:
    return {r["order_id"]: r["ordered_at"] for r in lake_rows(root, "order_lines", batch_id)}


def quarantine_reasons(root: Path, batch_id: str, source: str = "order_lines") -> dict[str, list[str]]:
    key = "order_id" if source == "order_lines" else "rating_id"
    return {r[key]: r["__gate_reasons"] for r in quarantined_rows(root, source, batch_id)}


def test_iso_offsets_are_converted_to_utc(root: Path) -> None:
    lines = [
        line("O1", 1, at="2018-06-01T10:00:00+02:00"),
        line("O2", 1, at="2018-06-01 10:00:00Z"),
        line("O3", 1, at="2018-06-01T10:00:00-0530"),
        line("O4", 1, at="2018-06-01T10:00:00"),  # naive: the source's zone, UTC by default
    ]
    land_lines(root, "b1", lines)
    code, out, err = ingest(root)
    assert code == 0, (out, err)
    assert admitted_times(root, "b1") == {
        "O1": dt.datetime(2018, 6, 1, 8),
        "O2": dt.datetime(2018, 6, 1, 10),
        "O3": dt.datetime(2018, 6, 1, 15, 30),
        "O4": dt.datetime(2018, 6, 1, 10),
    }


def test_epoch_seconds_from_a_batch_settings_file(root: Path) -> None:
    lines = [line("E1", 1, at="1527847200"), line("E2", 1, at="1527847200.5"), line("E3", 1, at="2018-06-01")]
    land_lines(root, "b1", lines, settings={"timestamp_format": "epoch_s"})
    ingest(root)
    assert admitted_times(root, "b1") == {
        "E1": dt.datetime(2018, 6, 1, 10),
        "E2": dt.datetime(2018, 6, 1, 10, 0, 0, 500000),
    }
    assert quarantine_reasons(root, "b1") == {"E3": ["invalid_type:ordered_at", "missing_value:ordered_at"]}


def test_epoch_milliseconds_in_parquet_from_ingest_yml(root: Path) -> None:
    ratings = pa.table(
        {
            "rating_id": [1, 2],
            "rated_at": pa.array([1527847200000, 1527847200123], pa.int64()),
            "user_id": ["007", "7"],
            "item_id": ["42", "42"],
            "rating": pa.array([5, 4], pa.int16()),
        }
    )
    land(root, "ratings", "r1", {"part-0.parquet": ratings})
    config = write_config(root, sources={"ratings": {"timestamp_format": "epoch_ms"}})
    code, out, err = ingest(root, config)
    assert code == 0, (out, err)
    times = sorted(r["rated_at"] for r in lake_rows(root, "ratings", "r1"))
    assert times == [dt.datetime(2018, 6, 1, 10), dt.datetime(2018, 6, 1, 10, 0, 0, 123000)]


def test_epoch_values_in_an_iso_source_name_the_column(root: Path) -> None:
    ratings = pa.table(
        {
            "rating_id": [1],
            "rated_at": pa.array([1527847200], pa.int64()),
            "user_id": ["007"],
            "item_id": ["42"],
            "rating": pa.array([5], pa.int16()),
        }
    )
    land(root, "ratings", "r1", {"part-0.parquet": ratings})
    code, _, err = ingest(root)
    assert code == 1
    assert "ratings batch r1" in err and "'rated_at'" in err and "timestamp_format: epoch_s" in err
    land_lines(root, "b2", [line("T1", 1, at="1527847200")])
    code, _, err = ingest(root)
    assert code == 3
    # source, batch, rule:column and the value as delivered
    assert "order_lines batch b2" in err and "invalid_type:ordered_at" in err and "'1527847200'" in err


def test_local_times_on_dst_change_days(root: Path) -> None:
    lines = [
        line("SUMMER", 1, at="2024-07-01 12:00:00"),
        line("GAP", 1, at="2024-03-31 02:30:00"),  # clocks jump from 02:00 to 03:00: this time never happened
        line("AFTER-GAP", 1, at="2024-03-31 03:00:00"),
        line("AMBIGUOUS", 1, at="2024-10-27 02:30:00"),  # happened twice: the earlier instant (CEST) wins
        line("AFTER", 1, at="2024-10-27 03:00:00"),
        line("OFFSET", 1, at="2024-03-31T02:30:00+01:00"),  # an explicit offset is never local time
    ]
    land_lines(root, "b1", lines, settings={"time_zone": "Europe/Berlin"})
    ingest(
        root,
        write_config(root, {"earliest": "2000-01-01"}),
    )
    assert admitted_times(root, "b1") == {
        "SUMMER": dt.datetime(2024, 7, 1, 10),
        "AFTER-GAP": dt.datetime(2024, 3, 31, 1),
        "AMBIGUOUS": dt.datetime(2024, 10, 27, 0, 30),
        "AFTER": dt.datetime(2024, 10, 27, 2),
        "OFFSET": dt.datetime(2024, 3, 31, 1, 30),
    }
    assert quarantine_reasons(root, "b1") == {"GAP": ["invalid_local_time:ordered_at"]}
    assert quarantined_rows(root, "order_lines", "b1")[0]["__gate_raw__ordered_at"] == "2024-03-31 02:30:00"


def test_local_times_in_parquet_with_a_declared_zone(root: Path) -> None:
    ratings = pa.table(
        {
            "rating_id": [1, 2],
            "rated_at": [dt.datetime(2024, 3, 10, 2, 30), dt.datetime(2024, 11, 3, 1, 30)],
            "user_id": ["007", "7"],
            "item_id": ["42", "42"],
            "rating": pa.array([5, 4], pa.int16()),
        }
    )
    land(root, "ratings", "r1", {"part-0.parquet": ratings})
    ingest(root, write_config(root, sources={"ratings": {"time_zone": "America/New_York"}}))
    assert [r["rated_at"] for r in lake_rows(root, "ratings", "r1")] == [dt.datetime(2024, 11, 3, 5, 30)]
    assert quarantine_reasons(root, "r1", "ratings") == {1: ["invalid_local_time:rated_at"]}


def test_pre_2000_history_and_configurable_windows(root: Path) -> None:
    ratings = {
        "rating_id": ["1", "2", "3", "4"],
        "rated_at": ["1997-08-01 12:00:00", "1969-12-31 23:59:59", "1990-01-01 00:00:00", "2999-01-01 00:00:00"],
        "user_id": ["007"] * 4,
        "item_id": ["42"] * 4,
        "rating": ["5"] * 4,
    }
    land(root, "ratings", "r1", {"part-0.csv": csv_bytes(ratings)})
    ingest(root)  # the default window starts on 1970-01-01
    assert sorted(r["rating_id"] for r in lake_rows(root, "ratings", "r1")) == [1, 3]
    assert quarantine_reasons(root, "r1", "ratings") == {
        2: ["timestamp_out_of_range:rated_at"],
        4: ["timestamp_out_of_range:rated_at"],
    }
    land(root, "ratings", "r2", {"part-0.csv": csv_bytes({**ratings, "rating_id": ["11", "12", "13", "14"]})})
    ingest(root, write_config(root, sources={"ratings": {"earliest": "1995-01-01", "max_future": "2000 days"}}))
    assert sorted(r["rating_id"] for r in lake_rows(root, "ratings", "r2")) == [11]
