"""A landing batch as a DuckDB view with a deterministic row id, without copying the data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from shop_analytics.quality.namespace import ROW_NUMBER
from shop_analytics.sql import quote_ident, quote_literal


def batch_files(batch_dir: Path) -> list[Path]:
    """The Parquet part files of one batch folder, in name order (which is write order)."""
    files = sorted(Path(batch_dir).glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no .parquet files in batch folder {batch_dir}")
    return files


def create_batch_view(con: duckdb.DuckDBPyConnection, name: str, files: Sequence[Path]) -> str:
    """Create view `name` over `files` with a 0-based `row_number` column; return its name.

    row_number is the row's position in the batch (files in the given order, then file
    row order). It is computed from Parquet metadata, so it is the same in every query,
    which a ``row_number() OVER ()`` would not be under parallel scans. The view is not
    TEMP, so other connections to the same database (GX's) can see it.
    """
    if not files:
        raise ValueError(f"batch view {name!r} needs at least one file")
    paths = [str(Path(f).resolve()) for f in files]
    file_list = "[" + ", ".join(quote_literal(p) for p in paths) + "]"
    counts = dict(con.execute(f"SELECT file_name, num_rows FROM parquet_file_metadata({file_list})").fetchall())
    offsets, total = [], 0
    for path in paths:
        offsets.append(f"WHEN {quote_literal(path)} THEN {total}")
        total += int(counts[path])
    offset = f"CASE filename {' '.join(offsets)} END" if len(paths) > 1 else "0"
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(name)} AS "
        f"SELECT CAST({offset} + file_row_number AS BIGINT) AS {ROW_NUMBER}, "
        f"* EXCLUDE (filename, file_row_number) "
        f"FROM read_parquet({file_list}, filename = true, file_row_number = true, hive_partitioning = false)"
    )
    return name
