"""One catalog transaction per batch: admitted keys, files, contract version and audit row, all or nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import PurePosixPath
from typing import Any

import duckdb

from shop_analytics.ingest import catalog
from shop_analytics.ingest.audit_export import export_audit
from shop_analytics.ingest.batches import (
    LandingBatch,
    walk_regular,
)
from shop_analytics.ingest.run_state import DB, GateRun


def commit_batch(
    gate: GateRun,
    batch: LandingBatch,
    files: list[str],
    audit: dict[str, Any],
    keys_sql: str | None = None,
    new_version: Any = None,
) -> None:
    """One catalog transaction: admitted keys, the batch's files, a new contract version, the audit row."""
    con, source = gate.con, batch.source
    garbage = sorted(set(_committed_files(gate, batch)) - set(files))  # e.g. an earlier rejection's quarantine
    con.execute("BEGIN TRANSACTION")
    try:
        if keys_sql is not None:
            catalog.insert_keys(con, source.name, keys_sql)
        catalog.replace_batch_files(con, source.name, batch.batch_id, files)
        catalog.record_intent(con, source.name, batch.batch_id, garbage)
        if new_version is not None:
            catalog.register_version(con, source.name, new_version, batch.batch_id)
        catalog.insert_audit(
            con,
            {
                **audit,
                "committed_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                "commit_seq": catalog.next_commit_seq(con),
            },
        )
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        gate.filters.pop(source.name, None)  # reload the committed filter next time
        raise
    gate.publisher.finish(con, source.name, batch.batch_id, garbage)
    export_audit(con, DB, gate.layout.lake, source.name, batch.batch_id)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # A COMMIT that failed (e.g. the disk filled while writing the catalog) has already ended the
    # transaction, or invalidated the database: the original error is the one worth reporting.
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _committed_files(gate: GateRun, batch: LandingBatch) -> list[str]:
    files = catalog.batch_files(gate.con, batch.source.name, batch.batch_id)
    if files or catalog.previous_batch(gate.con, batch.source.name, batch.batch_id) is None:
        return files
    # Committed before batch files were recorded: only a rejected batch can come back, and its
    # files are exactly those under its own quarantine folder (the id is valid, so one exact folder).
    root = gate.layout.root
    return [
        PurePosixPath(p.relative_to(root)).as_posix()
        for p in walk_regular(gate.layout.quarantine / batch.source.name / batch.batch_id)
    ]
