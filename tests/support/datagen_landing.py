"""Read a generated landing folder back with DuckDB, independently of the generator's code."""

from __future__ import annotations

from pathlib import Path

import duckdb

# ISO 4217 minor units of the currencies the tests meet (from the standard, not the generator).
MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}


def _files(root: Path, source: str) -> tuple[str, str] | None:
    """The glob of `source`'s data files and their reader ('parquet' or 'csv'), or None if absent."""
    for ext in ("parquet", "csv"):
        if any((root / source).glob(f"*/*.{ext}")):
            return f"{root}/{source}/*/*.{ext}", ext
    return None


def landing_connection(root: Path) -> duckdb.DuckDBPyConnection:
    """A connection with one view per generated source (plus `filename` and `batch_date` columns)."""
    con = duckdb.connect()
    for source in ("users", "items", "page_views", "ratings", "order_lines", "exchange_rates", "purchases"):
        found = _files(root, source)
        if found is None:
            continue
        pattern, ext = found
        # CSV keys are text: read every column as written, no type sniffing of ids.
        reader = (
            f"read_parquet('{pattern}', hive_partitioning = true, filename = true)"
            if ext == "parquet"
            else f"read_csv('{pattern}', hive_partitioning = true, filename = true, all_varchar = true)"
        )
        con.execute(f"CREATE VIEW {source}_raw AS SELECT * FROM {reader}")
    ratings = _files(root, "ratings")
    if ratings is not None and ratings[1] == "csv":  # epoch seconds (the generator's epoch-second CSV source)
        con.execute("""
            CREATE VIEW ratings AS SELECT CAST(rating_id AS BIGINT) rating_id,
                make_timestamp(CAST(rated_at AS BIGINT) * 1000000) rated_at,
                user_id, item_id, CAST(rating AS SMALLINT) rating, batch_date, filename
            FROM ratings_raw""")
    for source in ("users", "items", "page_views", "ratings", "order_lines", "exchange_rates", "purchases"):
        if _files(root, source) and not _has_view(con, source):
            con.execute(f"CREATE VIEW {source} AS SELECT * FROM {source}_raw")
    return con


def _has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name]).fetchone()[0])


def minor_units_sql(column: str) -> str:
    """SQL for the ISO 4217 minor units of the currency in `column` (2 unless listed in MINOR_UNITS)."""
    cases = " ".join(f"WHEN '{code}' THEN {digits}" for code, digits in MINOR_UNITS.items())
    return f"(CASE {column} {cases} ELSE 2 END)"
