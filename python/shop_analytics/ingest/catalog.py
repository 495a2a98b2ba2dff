"""The ingest catalog: a DuckDB file with the audit, admitted keys, key filters, batch files and contract versions.

The gate works in an in-memory DuckDB (GX must not hold a file) and attaches the
catalog as ``cat``; dbt never opens it. Every value goes in as a prepared parameter.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb

from shop_analytics.ingest import seen
from shop_analytics.quality.contracts import ContractVersion
from shop_analytics.quality.schema_policy import Column
from shop_analytics.sql import quote_literal

DB = "cat"
_DDL = """
-- seq: commit sequence per source (the Bloom filter checkpoint covers seq <= covered_seq).
CREATE TABLE IF NOT EXISTS {db}.seen_keys (source VARCHAR NOT NULL, key BIGINT NOT NULL, seq BIGINT NOT NULL DEFAULT 0);
-- Files of a batch that are being renamed into place but are not (or no longer) committed:
-- the exact paths, relative to the data root. The next run deletes those not in batch_files.
CREATE TABLE IF NOT EXISTS {db}.publish_intents (source VARCHAR NOT NULL, batch_id VARCHAR NOT NULL,
                                                 paths VARCHAR[], PRIMARY KEY (source, batch_id));
-- Every lake and quarantine file of a committed batch, relative to the data root.
CREATE TABLE IF NOT EXISTS {db}.batch_files (source VARCHAR NOT NULL, batch_id VARCHAR NOT NULL,
                                             path VARCHAR NOT NULL);
-- Contract versions accepted at run time (the maintainers' versions are in contracts/*.yml).
CREATE TABLE IF NOT EXISTS {db}.contract_versions (
    source VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    columns VARCHAR NOT NULL,  -- JSON list of {{name, type, nullable}}
    changes VARCHAR NOT NULL,  -- JSON list of what changed from the previous version
    accepted_at TIMESTAMP NOT NULL,
    first_batch VARCHAR NOT NULL,
    PRIMARY KEY (source, version)
);
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
    "ALTER TABLE {db}.publish_intents ADD COLUMN IF NOT EXISTS paths VARCHAR[]",
    # Raw contract v2: text keys (natural and composite) next to their 64-bit hash in `key`.
    "ALTER TABLE {db}.seen_keys ADD COLUMN IF NOT EXISTS key_text VARCHAR",
    "ALTER TABLE {db}.ingest_audit ADD COLUMN IF NOT EXISTS committed_at TIMESTAMP",
    "ALTER TABLE {db}.ingest_audit ADD COLUMN IF NOT EXISTS commit_seq BIGINT",
)
AUDIT_COLUMNS = (
    "source",
    "batch_id",
    "content_hash",
    "files",
    "rows_in",
    "rows_admitted",
    "rows_quarantined",
    "quarantined_by_reason",
    "contract_version",
    "started_at",
    "seconds",
    "status",
    "file_format",
    "contract_status",
    "message",
    "committed_at",
    "commit_seq",
)


def attach(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Attach the catalog file to `con` as ``cat`` and create or migrate its tables."""
    con.execute(f"ATTACH {quote_literal(str(path))} AS {DB}")
    con.execute(_DDL.format(db=DB))
    con.execute(seen.CATALOG_DDL.format(db=DB))
    for statement in (*_MIGRATIONS, *seen.CATALOG_MIGRATIONS):
        con.execute(statement.format(db=DB))


def previous_batch(con: duckdb.DuckDBPyConnection, source: str, batch_id: str) -> tuple[str, str] | None:
    """(content_hash, status) of an earlier ingest of this batch id, if any."""
    row = con.execute(
        f"SELECT content_hash, status FROM {DB}.ingest_audit WHERE source = ? AND batch_id = ?", [source, batch_id]
    ).fetchone()
    return (row[0], row[1]) if row else None


def case_twin(con: duckdb.DuckDBPyConnection, source: str, batch_id: str) -> str | None:
    """An audited batch id of `source` that equals `batch_id` except in case, if any."""
    row = con.execute(
        f"SELECT batch_id FROM {DB}.ingest_audit WHERE source = ? AND lower(batch_id) = lower(?) "
        f"AND batch_id <> ? LIMIT 1",
        [source, batch_id, batch_id],
    ).fetchone()
    return str(row[0]) if row else None


def intents(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[str] | None]]:
    """Every (source, batch_id, paths) whose files are not, or no longer, committed.

    paths is None for an intent written before intents recorded their paths.
    """
    return [
        (str(s), str(b), None if p is None else [str(x) for x in p])
        for s, b, p in con.execute(
            f"SELECT source, batch_id, paths FROM {DB}.publish_intents ORDER BY source, batch_id"
        ).fetchall()
    ]


def record_intent(con: duckdb.DuckDBPyConnection, source: str, batch_id: str, paths: list[str]) -> None:
    """Record the exact files about to be renamed into place for `batch_id` (or left to delete after its commit)."""
    con.execute(f"INSERT OR REPLACE INTO {DB}.publish_intents VALUES (?, ?, ?)", [source, batch_id, paths])


def clear_intent(con: duckdb.DuckDBPyConnection, source: str, batch_id: str) -> None:
    """Forget the intent of `batch_id`."""
    con.execute(f"DELETE FROM {DB}.publish_intents WHERE source = ? AND batch_id = ?", [source, batch_id])


def batch_files(con: duckdb.DuckDBPyConnection, source: str, batch_id: str) -> list[str]:
    """The committed files of `batch_id`, relative to the data root."""
    return [
        str(r[0])
        for r in con.execute(
            f"SELECT path FROM {DB}.batch_files WHERE source = ? AND batch_id = ? ORDER BY path", [source, batch_id]
        ).fetchall()
    ]


def replace_batch_files(con: duckdb.DuckDBPyConnection, source: str, batch_id: str, paths: list[str]) -> None:
    """Set the committed files of `batch_id` (inside its commit transaction)."""
    con.execute(f"DELETE FROM {DB}.batch_files WHERE source = ? AND batch_id = ?", [source, batch_id])
    if paths:
        con.execute(f"INSERT INTO {DB}.batch_files SELECT ?, ?, unnest(?::VARCHAR[])", [source, batch_id, paths])


def accepted_versions(con: duckdb.DuckDBPyConnection, source: str) -> list[ContractVersion]:
    """Contract versions of `source` accepted at run time, oldest first."""
    rows = con.execute(
        f"SELECT version, columns, changes FROM {DB}.contract_versions WHERE source = ? ORDER BY version", [source]
    ).fetchall()
    return [
        ContractVersion(
            int(v),
            tuple(Column(c["name"], c["type"], bool(c["nullable"])) for c in json.loads(cols)),
            tuple(json.loads(changes)),
        )
        for v, cols, changes in rows
    ]


def register_version(con: duckdb.DuckDBPyConnection, source: str, version: ContractVersion, batch_id: str) -> None:
    """Record a contract version accepted with `batch_id` (inside that batch's commit transaction)."""
    columns = json.dumps([{"name": c.name, "type": c.type, "nullable": c.nullable} for c in version.columns])
    con.execute(
        f"INSERT INTO {DB}.contract_versions VALUES (?, ?, ?, ?, ?, ?)",
        [
            source,
            version.version,
            columns,
            json.dumps(list(version.changes)),
            dt.datetime.now(dt.UTC).replace(tzinfo=None),
            batch_id,
        ],
    )


def insert_keys(con: duckdb.DuckDBPyConnection, source: str, select_sql: str) -> None:
    """Append admitted keys (`select_sql` yields `key` BIGINT and `key_text` VARCHAR) under the next commit sequence."""
    con.execute(
        f"INSERT INTO {DB}.seen_keys (source, key, seq, key_text) SELECT ?, key, (SELECT coalesce(max(seq), 0) + 1 "
        f"FROM {DB}.seen_keys WHERE source = ?), key_text FROM ({select_sql})",
        [source, source],
    )


def next_commit_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The commit sequence number the next audited batch gets (across sources)."""
    row = con.execute(f"SELECT coalesce(max(commit_seq), 0) + 1 FROM {DB}.ingest_audit").fetchone()
    return int(row[0]) if row else 1


def insert_audit(con: duckdb.DuckDBPyConnection, values: dict[str, Any]) -> None:
    """One audit row (keys = AUDIT_COLUMNS), replacing an earlier rejected attempt of the same batch."""
    con.execute(
        f"DELETE FROM {DB}.ingest_audit WHERE source = ? AND batch_id = ?", [values["source"], values["batch_id"]]
    )
    names = ", ".join(AUDIT_COLUMNS)
    con.execute(
        f"INSERT INTO {DB}.ingest_audit ({names}) VALUES ({', '.join('?' for _ in AUDIT_COLUMNS)})",
        [values[c] for c in AUDIT_COLUMNS],
    )


def audit_rows(catalog: Path) -> list[dict[str, Any]]:
    """The ingest audit as dicts (read-only; safe while nothing is ingesting)."""
    if not catalog.exists():
        return []
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        cursor = con.execute("SELECT * FROM ingest_audit ORDER BY source, batch_id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()
