"""The gate's local-time conversion against Python's zoneinfo, every 15 minutes of a year in zones with odd DST."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import duckdb
import pyarrow as pa
import pytest

from shop_analytics.ingest.conversions import create_time_macros, local_exists_sql, local_to_utc_sql

ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Chatham",
    "Asia/Tokyo",
)


def _oracle(local: dt.datetime, zone: zoneinfo.ZoneInfo) -> tuple[dt.datetime, bool]:
    """(UTC instant with the earlier reading of an ambiguous time, whether the local time exists)."""
    instant = local.replace(tzinfo=zone, fold=0).astimezone(dt.UTC).replace(tzinfo=None)
    back = instant.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)
    return instant, back == local


@pytest.mark.parametrize("name", ZONES)
def test_local_times_match_zoneinfo(name: str) -> None:
    zone = zoneinfo.ZoneInfo(name)
    start = dt.datetime(2024, 1, 1)
    locals_ = [start + dt.timedelta(minutes=15 * i) for i in range(366 * 96)]
    con = duckdb.connect()
    create_time_macros(con)
    con.register("t", pa.table({"l": pa.array(locals_, pa.timestamp("us"))}))
    got = con.execute(
        f"SELECT l, {local_to_utc_sql('l', name)}, {local_exists_sql('l', name)} FROM t ORDER BY l"
    ).fetchall()
    gaps = ambiguous = 0
    for local, instant, exists in got:
        expected, real = _oracle(local, zone)
        assert exists == real, (name, local)
        if real:
            assert instant == expected, (name, local, instant, expected)
            later = local.replace(tzinfo=zone, fold=1).astimezone(dt.UTC).replace(tzinfo=None)
            ambiguous += later != expected
        gaps += not real
    if name != "Asia/Tokyo":  # the test must have met both kinds of DST day
        assert gaps and ambiguous, (name, gaps, ambiguous)
    else:
        assert gaps == ambiguous == 0
