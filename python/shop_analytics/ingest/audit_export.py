"""The ingest audit, exported to the lake for the warehouse: one small Parquet file per batch.

``lake/_ingest_audit/batch_<source>__<batch_id>.parquet`` holds the batch's audit row
(AUDIT_SCHEMA): what came in, what was admitted and quarantined (per reason), under
which contract version, and when it was committed. It is written after the batch's
catalog commit, to a hidden file in the same folder and renamed into place, so a reader
sees the old file or the new one, never a partial one. A run first writes the files an
interrupted run committed but did not export (export_missing). Batches that ingest
refused (left in landing) get a file with status ``refused`` and no commit sequence
when their source and id are valid and no committed batch owns that file name.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from shop_analytics.ingest.report import BatchReport
from shop_analytics.quality.raw_contract import Source, batch_id_problem

AUDIT_FOLDER = "_ingest_audit"
AUDIT_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("rows_in", pa.int64(), nullable=False),
        pa.field("rows_admitted", pa.int64(), nullable=False),
        pa.field("rows_quarantined", pa.int64(), nullable=False),
        pa.field(
            "quarantined_by_reason",
            pa.list_(pa.struct([pa.field("reason", pa.string()), pa.field("rows", pa.int64())])),
            nullable=False,
        ),
        pa.field("contract_version", pa.int32()),
        pa.field("committed_at", pa.timestamp("us")),
        pa.field("commit_seq", pa.int64()),
    ]
)
_COLUMNS = [f.name for f in AUDIT_SCHEMA]


def audit_path(lake: Path, source: str, batch_id: str) -> Path:
    """Where the audit file of one batch goes; `source` and `batch_id` must already be validated."""
    problem = batch_id_problem(batch_id)
    if problem is not None:
        raise ValueError(problem)
    return lake / AUDIT_FOLDER / f"batch_{source}__{batch_id}.parquet"


def export_audit(con: duckdb.DuckDBPyConnection, db: str, lake: Path, source: str, batch_id: str) -> None:
    """Write the committed audit row of (`source`, `batch_id`) from catalog `db` to its file, atomically."""
    rows = _catalog_rows(con, db, "WHERE source = ? AND batch_id = ?", [source, batch_id])
    for row in rows:
        _write(lake, row)


def export_missing(con: duckdb.DuckDBPyConnection, db: str, lake: Path) -> int:
    """Write the audit files of committed batches that have none (an interrupted run); return how many."""
    folder = lake / AUDIT_FOLDER
    present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    written = 0
    for row in _catalog_rows(con, db, "", []):
        if (
            batch_id_problem(row["batch_id"]) is None
            and audit_path(lake, row["source"], row["batch_id"]).name not in present
        ):
            _write(lake, row)
            written += 1
    return written


def export_refused(
    con: duckdb.DuckDBPyConnection, db: str, lake: Path, report: BatchReport, known: Iterable[Source]
) -> bool:
    """Write a 'refused' audit file for a refused batch when that can be done safely; True if written."""
    if report.source not in {s.name for s in known} or not report.batch_id or batch_id_problem(report.batch_id):
        return False
    taken = con.execute(
        f"SELECT count(*) FROM {db}.ingest_audit WHERE source = ? AND lower(batch_id) = lower(?)",
        [report.source, report.batch_id],
    ).fetchone()
    if taken and taken[0]:
        return False  # a committed batch owns this name (or one differing only in case)
    _write(
        lake,
        {
            "source": report.source,
            "batch_id": report.batch_id,
            "status": report.status,
            "rows_in": report.rows_in,
            "rows_admitted": 0,
            "rows_quarantined": 0,
            "quarantined_by_reason": "{}",
            "contract_version": None,
            "committed_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            "commit_seq": None,
        },
    )
    return True


def _catalog_rows(con: duckdb.DuckDBPyConnection, db: str, where: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM {db}.ingest_audit {where} ORDER BY source, batch_id", params
    )
    return [dict(zip(_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def _write(lake: Path, row: dict[str, Any]) -> None:
    path = audit_path(lake, row["source"], row["batch_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    reasons = json.loads(row["quarantined_by_reason"] or "{}")
    values = {
        **row,
        "quarantined_by_reason": [{"reason": k, "rows": int(v)} for k, v in sorted(reasons.items())],
        "committed_at": row["committed_at"],
    }
    table = pa.Table.from_pylist([{c: values[c] for c in _COLUMNS}], schema=AUDIT_SCHEMA)
    tmp = path.with_name(f".{path.name}.tmp")  # hidden: readers of *.parquet never see it
    with tmp.open("wb") as handle:
        pq.write_table(table, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
