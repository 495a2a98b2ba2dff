"""The ingest memory budget: sizes as DuckDB writes them, and DuckDB's share of the budget."""

from __future__ import annotations

import duckdb
import pytest

from shop_analytics.ingest.memory import (
    MIN_DUCKDB_BYTES,
    PROCESS_RESERVE_BYTES,
    MemoryLimitError,
    duckdb_memory_limit,
    parse_size,
)


@pytest.mark.parametrize("text", ["2GB", "1.5GiB", "800MB", "512MiB", "3 GB", "4gb", "1000000000B", "10TB"])
def test_sizes_are_read_as_duckdb_reads_them(text: str) -> None:
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{text}'")
    # DuckDB shows the limit truncated to one decimal of a binary unit, e.g. 2GB as "1.8 GiB".
    shown, unit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0].split()
    per_unit = parse_size(f"1{unit}")
    assert float(shown) <= parse_size(text) / per_unit < float(shown) + 0.1


@pytest.mark.parametrize("text", ["", "lots", "2 G B", "-1GB", "2PB", "1e9", "GB", "1073741824"])
def test_a_size_that_is_not_one_is_refused_by_name(text: str) -> None:
    with pytest.raises(MemoryLimitError, match="is not a size"):
        parse_size(text)


def test_duckdb_gets_the_budget_less_the_reserve() -> None:
    limit = duckdb_memory_limit("2GiB")
    assert parse_size(limit) == 2 * 1024**3 - PROCESS_RESERVE_BYTES


def test_a_budget_below_the_minimum_is_refused() -> None:
    too_small = f"{(MIN_DUCKDB_BYTES + PROCESS_RESERVE_BYTES) // 1024**2 - 1}MiB"
    with pytest.raises(MemoryLimitError, match="below the ingest minimum"):
        duckdb_memory_limit(too_small)
    assert parse_size(duckdb_memory_limit(f"{(MIN_DUCKDB_BYTES + PROCESS_RESERVE_BYTES) // 1024**2}MiB")) == (
        MIN_DUCKDB_BYTES
    )
