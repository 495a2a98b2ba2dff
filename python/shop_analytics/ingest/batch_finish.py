"""A gated batch written out: admitted rows to the lake, rejected rows to quarantine, then committed."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from shop_analytics.ingest.batch_commit import commit_batch
from shop_analytics.ingest.batch_prepare import StagedBatch
from shop_analytics.ingest.examples import reason_examples
from shop_analytics.ingest.reading import (
    BatchRelation,
)
from shop_analytics.ingest.report import (
    INGESTED,
    BatchReport,
    is_over_threshold,
)
from shop_analytics.ingest.run_state import GateRun
from shop_analytics.quality.keys import (
    keys_select_sql,
)
from shop_analytics.quality.namespace import GATE_KEY, GATE_KEY_HASH, REASONS, ROW_NUMBER
from shop_analytics.quality.raw_contract import Source
from shop_analytics.quality.split import admitted_sql, quarantined_sql
from shop_analytics.settings import (
    SourceIngestSettings,
)
from shop_analytics.sql import one_row, one_value, quote_ident, quote_literal

_PLAIN_TYPE = re.compile(r"[A-Z][A-Z0-9_ ]*(\([0-9]+(, ?[0-9]+)?\))?")


def missing_columns(gate: GateRun, source: Source, loaded: BatchRelation) -> list[str]:
    """Typed NULLs for the contract columns an older-shaped batch lacks, so every lake file has them all.

    Only plain type names are written out (a nested type would need its text spliced into SQL);
    readers fill any other missing column by name.
    """
    present = set(loaded.data_columns)
    return [
        f"CAST(NULL AS {c.type.strip().upper()}) AS {quote_ident(c.name)}"
        for c in gate.contracts[source.name].all_columns
        if c.name not in present and _PLAIN_TYPE.fullmatch(c.type.strip().upper())
    ]


def key_array(con: duckdb.DuckDBPyConnection, sql: str, key: str) -> np.ndarray:
    """The non-NULL values of column `key` of query `sql`, as a numpy array (the Bloom filter's input)."""
    column = (
        con.execute(f"SELECT {quote_ident(key)} AS key FROM ({sql}) WHERE {quote_ident(key)} IS NOT NULL")
        .to_arrow_table()
        .column("key")
    )
    return column.to_numpy() if len(column) else np.empty(0, dtype=np.int64)


def finish_batch(gate: GateRun, item: StagedBatch, view: str, reasons: str, lo: int, lookup: Any) -> BatchReport:
    """Write one batch's admitted and rejected rows, then commit keys, files, contract and audit together."""
    source, con, batch, loaded, check = item.batch.source, gate.con, item.batch, item.loaded, item.check
    gate.where = f"{source.name} batch {batch.batch_id}"
    scratch = gate.publisher.scratch(source.name, batch.batch_id)
    columns = ", ".join([quote_ident(c) for c in loaded.data_columns] + missing_columns(gate, source, loaded))
    admitted = f"SELECT {columns} FROM ({admitted_sql(view, reasons)})"
    rows_admitted = _write_admitted(gate, source, batch.batch_id, admitted, scratch)
    keep = ", ".join(quote_ident(c) for c in (*loaded.data_columns, *loaded.raw_columns))
    # The row number in quarantine is the row's position within its own batch.
    rejected = (
        f"SELECT {ROW_NUMBER} - {lo} AS {ROW_NUMBER}, {keep}, {REASONS} "
        f"FROM ({quarantined_sql(view, reasons)}) ORDER BY {ROW_NUMBER}"
    )
    rows_quarantined = _write_rejected_rows(
        gate, source, batch.batch_id, rejected, scratch, _rows_with_reasons(gate, reasons, lo, item.rows)
    )
    if item.rows != rows_admitted + rows_quarantined:
        raise RuntimeError(
            f"{source.name} batch {batch.batch_id} does not reconcile: in {item.rows}, "
            f"admitted {rows_admitted}, quarantined {rows_quarantined}"
        )
    by_reason = dict(
        con.execute(
            f"SELECT reason, count(*) FROM {quote_ident(reasons)} WHERE {ROW_NUMBER} >= ? AND {ROW_NUMBER} < ? "
            f"GROUP BY reason ORDER BY reason",
            [lo, lo + item.rows],
        ).fetchall()
    )
    # The admitted keys are computed once: the Bloom filter and the catalog both take them.
    con.execute(f"CREATE OR REPLACE TEMP TABLE gate_batch_keys AS {keys_select_sql(source, admitted)}")
    keys_sql = "SELECT key, key_text FROM gate_batch_keys"
    keys = key_array(con, keys_sql, "key")
    maybe_here = seen_here = 0
    if lookup is not None and lookup.maybe.size:
        hashed = quote_ident(GATE_KEY_HASH if source.composite_key else source.key)
        exact = quote_ident(GATE_KEY if source.composite_key else source.key)
        maybe_here, seen_here = one_row(
            con,
            f"SELECT count(*) FILTER ({hashed} IN (SELECT key FROM gate_maybe_seen)), "
            f"count(*) FILTER ({exact} IN (SELECT key FROM gate_seen_keys)) FROM {quote_ident(view)}",
        )
    message = "; ".join([check.message(), *loaded.notes, *_settings_notes(item.options)])
    share = gate.settings.max_quarantine_share
    share = item.options.max_quarantine_share if share is None else share
    report = BatchReport(
        source.name,
        batch.batch_id,
        INGESTED,
        item.rows,
        rows_admitted,
        rows_quarantined,
        by_reason,
        0.0,
        check.version,
        check.status,
        message,
        int(maybe_here),
        int(seen_here),
        over_threshold=is_over_threshold(item.rows, rows_quarantined, share),
        max_quarantine_share=share,
        examples=reason_examples(con, view, reasons, lo, item.rows, loaded.raw_columns, by_reason),
    )
    files = gate.publisher.publish(con, source.name, batch.batch_id, scratch)
    report.seconds = round(time.perf_counter() - item.started, 3)
    audit = {
        **item.audit,
        "rows_in": item.rows,
        "rows_admitted": rows_admitted,
        "rows_quarantined": rows_quarantined,
        "quarantined_by_reason": json.dumps(by_reason, sort_keys=True),
        "contract_version": check.version,
        "seconds": report.seconds,
        "status": INGESTED,
        "contract_status": check.status,
        "message": message,
    }
    commit_batch(
        gate,
        batch,
        files,
        audit,
        keys_sql=keys_sql,
        new_version=check.new_version,
    )
    if source.is_fact:
        gate.seen_filter(source).add(keys)
    else:
        gate.references_stale = True
    return report


def _settings_notes(options: SourceIngestSettings) -> list[str]:
    defaults = SourceIngestSettings()
    notes = []
    if options.timestamp_format != defaults.timestamp_format:
        notes.append(f"timestamps read as {options.timestamp_format}")
    if options.time_zone != defaults.time_zone:
        notes.append(f"naive local times read in {options.time_zone}")
    return notes


def _write_admitted(gate: GateRun, source: Source, batch_id: str, admitted: str, scratch: Path) -> int:
    out = scratch / "lake" / source.name
    out.mkdir(parents=True)
    if source.is_fact:
        time_col = quote_ident(source.event_time or "")
        pattern = quote_literal(f"batch_{batch_id}_{{i}}")
        rows = (
            one_value(
                gate.con,
                f"COPY (SELECT *, CAST({time_col} AS DATE) AS event_date FROM ({admitted}) ORDER BY {time_col}) "
                f"TO {quote_literal(str(out))} (FORMAT parquet, PARTITION_BY (event_date), FILENAME_PATTERN {pattern}, "
                f"OVERWRITE_OR_IGNORE true)",
            )
            or 0
        )
    else:
        rows = one_value(
            gate.con,
            f"COPY ({admitted} ORDER BY {quote_ident(source.key)}) "
            f"TO {quote_literal(str(out / f'batch_{batch_id}.parquet'))} (FORMAT parquet)",
        )
    return int(rows)


def _rows_with_reasons(gate: GateRun, reasons: str, lo: int, rows: int) -> int:
    """How many of the rows numbered lo .. lo + rows - 1 have at least one reason (the reasons table is small)."""
    return int(
        one_value(
            gate.con,
            f"SELECT count(DISTINCT {ROW_NUMBER}) FROM {quote_ident(reasons)} "
            f"WHERE {ROW_NUMBER} >= ? AND {ROW_NUMBER} < ?",
            [lo, lo + rows],
        )
    )


def _write_rejected_rows(
    gate: GateRun, source: Source, batch_id: str, rejected: str, scratch: Path, expected: int
) -> int:
    """Write the rejected rows (if any) to the batch's quarantine file; the rows COPY wrote."""
    if not expected:
        return 0
    out = scratch / "quarantine" / source.name / batch_id
    out.mkdir(parents=True)
    rows = one_value(gate.con, f"COPY ({rejected}) TO {quote_literal(str(out / 'rejected.parquet'))} (FORMAT parquet)")
    return int(rows or 0)
