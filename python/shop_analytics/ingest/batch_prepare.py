"""One landing batch up to the row gate: skip, refuse, reject whole, or read and pass the schema contract."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass
from typing import Any

import duckdb

from shop_analytics.ingest import catalog
from shop_analytics.ingest.batch_reject import empty_batch, reject_batch
from shop_analytics.ingest.batches import (
    BATCH_SETTINGS,
    EMPTY,
    MIXED,
    NOT_REGULAR,
    LandingBatch,
    NotRegularFileError,
    open_regular,
)
from shop_analytics.ingest.errors import is_operational
from shop_analytics.ingest.reading import (
    BatchRejectedError,
    BatchRelation,
    ReadOptions,
    count_rows,
    drop_relations,
    load_batch,
)
from shop_analytics.ingest.report import (
    CONFLICT,
    REFUSED,
    REJECTED,
    SKIPPED,
    BatchReport,
)
from shop_analytics.ingest.run_state import GateRun
from shop_analytics.quality.contracts import ContractCheck, check_schema
from shop_analytics.settings import (
    BATCH_KEYS,
    IngestConfigError,
    SourceIngestSettings,
    batch_settings,
)
from shop_analytics.sql import one_value, quote_ident


@dataclass(frozen=True)
class StagedBatch:
    """A readable batch whose schema the contract accepted, waiting for the row gate."""

    batch: LandingBatch
    loaded: BatchRelation
    check: ContractCheck
    audit: dict[str, Any]
    started: float
    rows: int
    options: SourceIngestSettings  # the source's settings with the batch's _batch.yml applied


def prepare_batch(gate: GateRun, batch: LandingBatch, relation: str) -> BatchReport | StagedBatch:
    """Skip, refuse, reject (whole batch) or stage one batch: hash, read, schema contract."""
    source, con = batch.source, gate.con
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    twin = catalog.case_twin(con, source.name, batch.batch_id)
    if twin is not None:
        return BatchReport(
            source.name,
            batch.batch_id,
            REFUSED,
            rule="batch_id_case_collision",
            message=(
                f"batch id {batch.batch_id!r} differs only in case from the ingested batch {twin!r}; on a "
                f"case-insensitive file system they would share files. Land it under another id."
            ),
        )
    try:
        content_hash: str | None = batch.content_hash()
        not_regular = _irregular_message(batch) if batch.irregular else None
    except NotRegularFileError as exc:  # swapped for a symlink or FIFO after the scan
        content_hash, not_regular = None, str(exc)
    previous = catalog.previous_batch(con, source.name, batch.batch_id)
    if previous is not None and previous[0] == content_hash:
        return BatchReport(source.name, batch.batch_id, SKIPPED)
    if previous is not None and previous[1] != REJECTED:  # a rejected batch may be re-delivered under its id
        return BatchReport(
            source.name,
            batch.batch_id,
            CONFLICT,
            rule="conflict",
            message=(
                f"batch {batch.batch_id} was already ingested with content hash {previous[0]}; the folder "
                f"{batch.folder} now holds content hash {content_hash or '(unhashable: ' + str(not_regular) + ')'}. "
                f"Ingested batches are immutable: restore the original files, or land the corrected data under a "
                f"new batch id. Nothing was changed."
            ),
        )
    audit = {
        "source": source.name,
        "batch_id": batch.batch_id,
        "content_hash": content_hash or "",
        "files": len(batch.files),
        "started_at": started_at,
        "file_format": batch.file_format,
    }
    if not_regular is not None:
        return reject_batch(gate, batch, audit, started, NOT_REGULAR, None, not_regular, [])
    try:
        options = _batch_options(gate, batch)
    except IngestConfigError as exc:
        return reject_batch(gate, batch, audit, started, "invalid_batch_settings", None, str(exc), [])
    if batch.file_format == EMPTY:
        return empty_batch(gate, batch, audit, started)
    contract = gate.contracts[source.name]
    try:
        if batch.file_format == MIXED:
            raise BatchRejectedError(
                "mixed_formats",
                f"{batch.folder}: a batch holds files of one format "
                f"(.parquet, .csv or .json); found {[p.name for p in batch.files]}",
            )
        loaded = load_batch(con, batch, relation, contract, ReadOptions(options.timestamp_format, options.time_zone))
        rows = _count(con, relation)
    except BatchRejectedError as exc:
        drop_relations(con, [relation, f"{relation}__files"])
        return reject_batch(
            gate,
            batch,
            audit,
            started,
            exc.rule,
            None,
            str(exc),
            [asdict(v) for v in exc.violations],
            count_rows(con, batch),
        )
    except duckdb.Error as exc:  # e.g. a file that fails only when its data pages are read
        if is_operational(exc):
            raise
        drop_relations(con, [relation, f"{relation}__files"])
        return reject_batch(
            gate,
            batch,
            audit,
            started,
            "unreadable_file",
            None,
            f"cannot read {batch.folder}: {str(exc).splitlines()[0]}",
            [],
        )
    check = check_schema(contract, loaded.columns)
    if not check.accepted:
        drop_relations(con, loaded.relations)
        violations = [asdict(v) for v in check.violations]
        return reject_batch(
            gate, batch, audit, started, check.violations[0].rule, check, check.message(), violations, rows
        )
    if check.new_version is not None:  # registered in the catalog with this batch's commit
        gate.contracts[source.name] = contract.with_version(check.new_version)
    return StagedBatch(batch, loaded, check, audit, started, rows, options)


def _batch_options(gate: GateRun, batch: LandingBatch) -> SourceIngestSettings:
    """The source's settings from ingest.yml, with the batch's own _batch.yml applied if it has one."""
    base = gate.config.for_source(batch.source.name)
    if batch.settings_file is None:
        return base
    where = f"{batch.source.name} batch {batch.batch_id}: {BATCH_SETTINGS}"
    try:
        with open_regular(batch.settings_file) as handle:
            text = handle.read(1 << 20)
    except NotRegularFileError as exc:
        raise IngestConfigError(f"{where}: {exc}") from exc
    options = batch_settings(base, text, where)
    if options.default_currency not in gate.currencies:
        raise IngestConfigError(
            f"{where}: default_currency {options.default_currency!r} is not in the currencies seed "
            f"(keys a batch may set: {', '.join(BATCH_KEYS)})"
        )
    return options


def _irregular_message(batch: LandingBatch) -> str:
    return (
        f"{batch.source.name} batch {batch.batch_id}: {batch.folder} holds entries that are not regular files: "
        f"{', '.join(batch.irregular)}. Landing takes regular files only; symlinks, folders, FIFOs and "
        f"devices are never followed or read."
    )


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    return int(one_value(con, f"SELECT count(*) FROM {quote_ident(relation)}"))
