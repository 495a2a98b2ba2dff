"""Landing -> quality gate -> lake or quarantine, one batch at a time, idempotent and audited.

A run: scan landing (batches.py: ids validated, completion markers, regular files
only) -> roll back what an interrupted run left (lake_files.recover) -> per source,
dimensions first, per batch: content hash (skip if already ingested; conflict if an
ingested id changed) -> settings (ingest.yml for the source, the batch's _batch.yml
on top) -> read (reading.py: names checked, exact conversions, integer keys as text,
timestamps per the settings) ->
schema contract (quality.contracts: yml versions + versions accepted at run time,
BACKWARD_TRANSITIVE) -> event ids already in the lake (seen.py) -> GX suite
(quality.validate) -> admitted rows to the lake, rejected rows to
``quarantine/<source>/<batch>/rejected.parquet``, written in scratch and renamed into
place at exactly recorded paths (lake_files.py) -> one catalog transaction with the
admitted keys, the batch's files, a new contract version if any, and the audit row,
which is then exported to ``lake/_ingest_audit/`` (audit_export.py). A crash before
that commit means the batch is redone on the next run, and converges.

A batch rejected whole (unreadable, mixed formats, schema contract, reserved column
names, a file that is not a regular file) is copied to
``quarantine/<source>/<batch>/files/`` with a ``reason.json``, audited 'rejected', and
ingest goes on (``strict`` stops). Refused entries, conflicts and pending batches are
reported and left in landing. Disk, permission and lock failures raise
OperationalError naming the batch.

This module runs the loop; the steps are their own modules: run_state.py (settings and
per-run state), batch_prepare.py (hash, settings, read, schema contract), group_gate.py
(GX over a group of batches, gated as soon as the group is full), batch_finish.py (lake
and quarantine files), batch_commit.py (the catalog transaction), batch_reject.py
(batches rejected whole, empty batches), memory.py (the process's memory budget).
"""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

import duckdb
from tqdm import tqdm

from shop_analytics.ingest import catalog
from shop_analytics.ingest.audit_export import export_missing, export_refused
from shop_analytics.ingest.batch_prepare import StagedBatch, prepare_batch
from shop_analytics.ingest.batches import (
    Finding,
    LandingBatch,
    scan,
)
from shop_analytics.ingest.errors import OperationalError, describe, is_operational
from shop_analytics.ingest.group_gate import gate_group, joins_group
from shop_analytics.ingest.lake_files import BatchPublisher, FaultHooks, recover
from shop_analytics.ingest.memory import duckdb_memory_limit
from shop_analytics.ingest.report import (
    CONFLICT,
    REFUSED,
    REJECTED,
    BatchReport,
)
from shop_analytics.ingest.run_state import DB, GateRun, IngestSettings
from shop_analytics.quality.contracts import effective_contract
from shop_analytics.quality.currencies import load_currencies
from shop_analytics.quality.money import MAX_SCALE
from shop_analytics.quality.raw_contract import ALL_SOURCES, Source
from shop_analytics.settings import (
    DataLayout,
    IngestConfig,
    IngestConfigError,
    Settings,
)
from shop_analytics.sql import quote_literal

__all__ = ["IngestSettings", "audit_rows", "ingest"]


def ingest(
    layout: DataLayout, settings: IngestSettings | None = None, sources: tuple[Source, ...] = ALL_SOURCES
) -> list[BatchReport]:
    """Ingest every complete landing batch not yet in the catalog; dimensions first, then facts.

    Raises OperationalError (disk full, permissions, I/O, a locked catalog) naming what it
    was working on; FileNotFoundError if there is no landing folder.
    """
    settings = settings or IngestSettings()
    duckdb_memory_limit(settings.memory_limit)  # a bad budget fails before anything is read
    if not layout.landing.exists():
        raise FileNotFoundError(f"no landing folder at {layout.landing}; run `shop-analytics generate` first")
    currencies = load_currencies(settings.currencies_csv)
    config = settings.config or IngestConfig.load(
        Settings.from_env().ingest_config, tuple(source.name for source in ALL_SOURCES)
    )
    _check_currencies(config, currencies)
    now = (
        dt.datetime.combine(settings.today, dt.time())
        if settings.today
        else dt.datetime.now(dt.UTC).replace(tzinfo=None)
    )
    gate: GateRun | None = None
    try:
        landing = scan(layout.landing, sources, settings.quiet_seconds)
        for folder in (layout.lake, layout.quarantine):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(layout.staging_area, ignore_errors=True)
        layout.staging_area.mkdir(parents=True)
        con = duckdb.connect()  # in-memory: GX validates here and never holds a file
        try:
            gate = GateRun(
                con,
                layout,
                settings,
                config,
                currencies,
                now,
                BatchPublisher(layout.root, layout.staging_area / "scratch", FaultHooks.from_env()),
            )
            _open(gate)
            return _run(gate, landing.findings, landing.batches, sources)
        finally:
            con.close()
            shutil.rmtree(layout.staging_area, ignore_errors=True)
    except Exception as exc:
        if not is_operational(exc):
            raise
        where = gate.where if gate else f"landing {layout.landing}"
        raise OperationalError(f"{where}: {describe(exc)}") from exc


def _check_currencies(config: IngestConfig, currencies: dict[str, int | None]) -> None:
    for name, options in [("defaults", config.defaults), *config.sources.items()]:
        if options.default_currency not in currencies:
            raise IngestConfigError(
                f"{config.path} {name}: default_currency {options.default_currency!r} is not in the currencies seed"
            )


def _open(gate: GateRun) -> None:
    con, layout, settings = gate.con, gate.layout, gate.settings
    con.execute(f"SET memory_limit = {quote_literal(duckdb_memory_limit(settings.memory_limit))}")
    con.execute(f"SET temp_directory = {quote_literal(str(layout.staging_area / 'spill'))}")
    con.execute("SET preserve_insertion_order = false")
    gate.where = f"ingest catalog {layout.catalog}"
    try:
        catalog.attach(con, layout.catalog)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise OperationalError(
                f"ingest catalog {layout.catalog} is locked by another process (is another "
                f"ingest running, or a DuckDB shell holding it open?): {describe(exc)}"
            ) from exc
        raise
    gate.where = "recovering interrupted batches"
    for source, batch_id, removed in recover(con, layout.root):
        if removed:
            tqdm.write(f"RECOVERED {source} batch {batch_id}: removed {removed} file(s) of an interrupted run")
    gate.where = "ingest audit export"
    export_missing(con, DB, layout.lake)
    # Plain (not TEMP) tables: GX's own connection to this in-memory database must see them.
    con.execute("CREATE OR REPLACE TABLE gate_currencies (currency VARCHAR, minor_units INTEGER)")
    con.execute(
        "INSERT INTO gate_currencies SELECT unnest(?::VARCHAR[]), unnest(?::INTEGER[])",
        [list(gate.currencies), [MAX_SCALE if u is None else u for u in gate.currencies.values()]],
    )


def _run(
    gate: GateRun, findings: list[Finding], batches: dict[str, list[LandingBatch]], sources: tuple[Source, ...]
) -> list[BatchReport]:
    reports = [_finding_report(f) for f in findings]
    for report in reports:
        if report.status == REFUSED:
            tqdm.write(f"REFUSED {report.message}")
            export_refused(gate.con, DB, gate.layout.lake, report, known=sources)
    ordered = sorted(sources, key=lambda s: s.is_fact)
    bar = tqdm(
        total=sum(len(b) for b in batches.values()),
        desc="ingest",
        unit="batch",
        disable=None if gate.settings.progress is None else not gate.settings.progress,
    )
    stop = False
    for source in ordered:
        gate.where = f"{source.name}: contract"
        gate.contracts[source.name] = effective_contract(
            source, gate.settings.contracts_dir, catalog.accepted_versions(gate.con, source.name)
        )
        # Batches are gated as soon as a group is full, so at most one group of batches (about
        # group_rows rows) is held in memory, whatever the number or size of pending batches.
        pending: list[StagedBatch] = []
        for number, batch in enumerate(batches.get(source.name, [])):
            gate.where = f"{source.name} batch {batch.batch_id}"
            outcome = prepare_batch(gate, batch, f"batch_{number}")
            if isinstance(outcome, BatchReport):
                reports.append(outcome)
                bar.update()
                if outcome.status in (REJECTED, CONFLICT, REFUSED):
                    tqdm.write(f"{outcome.status.upper()} {source.name} batch {batch.batch_id}: {outcome.message}")
                    stop = gate.settings.strict
            else:
                if pending and not joins_group(pending, outcome, gate.settings.group_rows):
                    reports.extend(gate_group(gate, source, pending))
                    bar.update(len(pending))
                    pending = []
                pending.append(outcome)
            if stop:
                break
        if pending:
            reports.extend(gate_group(gate, source, pending))
            bar.update(len(pending))
        # Its checkpoint is saved: the next source need not hold this one's filter (100M ids: 120 MB).
        gate.filters.pop(source.name, None)
        if stop:
            break
    bar.close()
    if gate.settings.data_docs_dir is not None and gate.context is not None:
        from shop_analytics.quality.data_docs import build_data_docs

        gate.where = f"GX Data Docs in {gate.settings.data_docs_dir}"
        build_data_docs(gate.context, gate.settings.data_docs_dir)
    return reports


def _finding_report(finding: Finding) -> BatchReport:
    return BatchReport(
        finding.source, finding.batch_id or "", finding.status, message=finding.message, rule=finding.rule
    )


def audit_rows(layout: DataLayout) -> list[dict[str, Any]]:
    """The ingest audit as dicts (read-only; safe while nothing is ingesting)."""
    return catalog.audit_rows(layout.catalog)
