"""The ingest process's memory budget, and the share of it DuckDB may use."""

from __future__ import annotations

import re

# What the process holds outside DuckDB's buffer manager: Python, pyarrow and Great
# Expectations (about 540 MiB once GX has run), the key filter of the source being gated
# (about 120 MB at 100M ids) and DuckDB's own allocations outside its limit. Measured as RSS
# less duckdb_memory() while DuckDB sat at its limit: 536-606 MiB at scale 30 and 727 MiB at
# scale 100 (bench/RESULTS.md, ingest). This much of the budget is kept from DuckDB.
PROCESS_RESERVE_BYTES = 768 * 1024**2
MIN_DUCKDB_BYTES = 256 * 1024**2

_UNITS = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*")


class MemoryLimitError(ValueError):
    """A memory limit that is not a size such as 2GB, 1.5GiB or 800MB."""


def parse_size(text: str) -> int:
    """Bytes in a size written as DuckDB writes them: 2GB (10^9), 2GiB (2^30), 800MB, 512MiB."""
    match = _SIZE.fullmatch(text)
    if not match or match.group(2).upper() not in _UNITS:
        raise MemoryLimitError(f"memory limit {text!r} is not a size such as 2GB, 1.5GiB or 800MB")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def duckdb_memory_limit(budget: str) -> str:
    """DuckDB's memory_limit for a process that must stay within `budget`: the budget less a fixed reserve."""
    total = parse_size(budget)
    if total < MIN_DUCKDB_BYTES + PROCESS_RESERVE_BYTES:
        raise MemoryLimitError(
            f"memory limit {budget!r} is below the ingest minimum of "
            f"{(MIN_DUCKDB_BYTES + PROCESS_RESERVE_BYTES) // 1024**2} MiB "
            f"({PROCESS_RESERVE_BYTES // 1024**2} MiB for Python and Great Expectations, "
            f"{MIN_DUCKDB_BYTES // 1024**2} MiB for DuckDB)"
        )
    return f"{(total - PROCESS_RESERVE_BYTES) // 1024**2}MiB"
