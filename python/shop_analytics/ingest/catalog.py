"""The ingest catalog: a DuckDB file with the audit, the admitted keys and the key filters.

The gate works in an in-memory DuckDB (GX must not hold a file) and attaches the
catalog as ``cat``; dbt never opens it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from shop_analytics.ingest import seen

DB = "cat"
_DDL = """
-- seq: commit sequence per source (the Bloom filter checkpoint covers seq <= covered_seq).
CREATE TABLE IF NOT EXISTS {db}.seen_keys (source VARCHAR NOT NULL, key BIGINT NOT NULL, seq BIGINT NOT NULL DEFAULT 0);
-- Batches whose files are being renamed into the lake but not yet committed: a later
-- run must first remove what such an attempt left behind.
CREATE TABLE IF NOT EXISTS {db}.publish_intents (source VARCHAR NOT NULL, batch_id VARCHAR NOT NULL,
                                                 PRIMARY KEY (source, batch_id));
CREATE TABLE IF NOT EXISTS {db}.ingest_audit (
    source VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    files INTEGER NOT NULL,
    rows_in BIGINT NOT NULL,
    rows_admitted BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    quarantined_by_reason VARCHAR NOT NULL,
    contract_version INTEGER,
    started_at TIMESTAMP NOT NULL,
    seconds DOUBLE NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'ingested',
    file_format VARCHAR,
    contract_status VARCHAR,
    message VARCHAR,
    PRIMARY KEY (source, batch_id)
);
"""
# Catalogs written before the quality gate lack these columns.
_MIGRATIONS = (
    "ALTER TABLE {db}.seen_keys ADD COLUMN IF NOT EXISTS seq BIGINT DEFAULT 0",
    "ALTER TABLE {db}.ingest_audit ADD COLUMN IF NOT EXISTS status VARCHAR DEFAULT 'ingested'",
    "ALTER TABLE {db}.ingest_audit ADD COLUMN IF NOT EXISTS file_format VARCHAR",
    "ALTER TABLE {db}.ingest_audit ADD COLUMN IF NOT EXISTS contract_status VARCHAR",
    "ALTER TABLE {db}.ingest_audit ADD COLUMN IF NOT EXISTS message VARCHAR",
    "ALTER TABLE {db}.ingest_audit ALTER COLUMN contract_version DROP NOT NULL",
)
AUDIT_COLUMNS = ("source", "batch_id", "content_hash", "files", "rows_in", "rows_admitted", "rows_quarantined",
                 "quarantined_by_reason", "contract_version", "started_at", "seconds", "status", "file_format",
                 "contract_status", "message")


def attach(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Attach the catalog file to `con` as ``cat`` and create or migrate its tables."""
    con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS {DB}")
    con.execute(_DDL.format(db=DB))
    con.execute(seen.CATALOG_DDL.format(db=DB))
    for statement in _MIGRATIONS:
        con.execute(statement.format(db=DB))


def previous_batch(con: duckdb.DuckDBPyConnection, source: str, batch_id: str) -> tuple[str, str] | None:
    """(content_hash, status) of an earlier ingest of this batch id, if any."""
    row = con.execute(f"SELECT content_hash, status FROM {DB}.ingest_audit WHERE source = ? AND batch_id = ?",
                      [source, batch_id]).fetchone()
    return (row[0], row[1]) if row else None


def begin_publish(con: duckdb.DuckDBPyConnection, source: str, batch_id: str) -> bool:
    """Record that `batch_id`'s files are about to be published; True if an earlier attempt was interrupted."""
    row = con.execute(f"SELECT 1 FROM {DB}.publish_intents WHERE source = ? AND batch_id = ?",
                      [source, batch_id]).fetchone()
    if row is None:
        con.execute(f"INSERT INTO {DB}.publish_intents VALUES (?, ?)", [source, batch_id])
    return row is not None


def end_publish(con: duckdb.DuckDBPyConnection, source: str, batch_id: str) -> None:
    """Clear the intent (inside the batch's commit transaction)."""
    con.execute(f"DELETE FROM {DB}.publish_intents WHERE source = ? AND batch_id = ?", [source, batch_id])


def insert_keys(con: duckdb.DuckDBPyConnection, source: str, select_sql: str) -> None:
    """Append admitted keys (`select_sql` yields one column `key`) under the next commit sequence number."""
    con.execute(f"INSERT INTO {DB}.seen_keys SELECT ?, key, (SELECT coalesce(max(seq), 0) + 1 FROM {DB}.seen_keys "
                f"WHERE source = ?) FROM ({select_sql})", [source, source])


def insert_audit(con: duckdb.DuckDBPyConnection, values: dict) -> None:
    """One audit row (keys = AUDIT_COLUMNS), replacing an earlier rejected attempt of the same batch."""
    con.execute(f"DELETE FROM {DB}.ingest_audit WHERE source = ? AND batch_id = ?",
                [values["source"], values["batch_id"]])
    names = ", ".join(AUDIT_COLUMNS)
    con.execute(f"INSERT INTO {DB}.ingest_audit ({names}) VALUES ({', '.join('?' for _ in AUDIT_COLUMNS)})",
                [values[c] for c in AUDIT_COLUMNS])


def audit_rows(catalog: Path) -> list[dict]:
    """The ingest audit as dicts (read-only; safe while nothing is ingesting)."""
    if not catalog.exists():
        return []
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        cursor = con.execute("SELECT * FROM ingest_audit ORDER BY source, batch_id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        con.close()
