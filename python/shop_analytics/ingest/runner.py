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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
import numpy as np
from tqdm import tqdm

from shop_analytics.ingest import catalog
from shop_analytics.ingest.audit_export import export_audit, export_missing, export_refused
from shop_analytics.ingest.batches import (
    BATCH_SETTINGS,
    EMPTY,
    MIXED,
    NOT_REGULAR,
    Finding,
    LandingBatch,
    NotRegularFileError,
    open_regular,
    scan,
    walk_regular,
)
from shop_analytics.ingest.errors import OperationalError, describe, is_operational
from shop_analytics.ingest.examples import reason_examples
from shop_analytics.ingest.lake_files import BatchPublisher, FaultHooks, recover
from shop_analytics.ingest.memory import duckdb_memory_limit
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
    INGESTED,
    REFUSED,
    REJECTED,
    SKIPPED,
    BatchReport,
    is_over_threshold,
)
from shop_analytics.ingest.seen import SeenKeys
from shop_analytics.quality.contracts import Contract, ContractCheck, check_schema, effective_contract
from shop_analytics.quality.currencies import load_currencies
from shop_analytics.quality.keys import (
    admitted_order_ids_sql,
    key_hash_sql,
    key_text_sql,
    keys_select_sql,
    known_text_sql,
)
from shop_analytics.quality.money import MAX_SCALE
from shop_analytics.quality.namespace import GATE_BATCH, GATE_KEY, GATE_KEY_HASH, REASONS, ROW_NUMBER
from shop_analytics.quality.raw_contract import ALL_SOURCES, ORDER_LINES, SALE, Source
from shop_analytics.quality.rules import UNKNOWN_ORDER, RuleParams, rules_for
from shop_analytics.quality.rules_sql import row_reasons_sql
from shop_analytics.quality.split import admitted_sql, quarantined_sql
from shop_analytics.settings import (
    BATCH_KEYS,
    DataLayout,
    IngestConfig,
    IngestConfigError,
    Settings,
    SourceIngestSettings,
    batch_settings,
)
from shop_analytics.sql import one_row, one_value, quote_ident, quote_literal

DB = catalog.DB


@dataclass(frozen=True)
class IngestSettings:
    """Knobs for one ingest run."""

    currencies_csv: Path = Path("seeds/currencies.csv")  # ISO 4217 codes and minor units
    contracts_dir: Path = Path("contracts")  # the maintainers' contracts; read only
    today: dt.date | None = None  # upper bound of plausible event times; default: today (UTC)
    memory_limit: str = "2GB"  # the whole process's budget; DuckDB gets it less a reserve (ingest/memory.py)
    progress: bool | None = None
    strict: bool = False  # stop at the first rejected or conflicting batch
    data_docs_dir: Path | None = None  # build GX Data Docs here after the run
    bloom_capacity: int = 10_000_000  # event ids per source before the filter is rebuilt bigger
    bloom_fpr: float = 0.01
    group_rows: int = 5_000_000  # batches of one source validated by one GX run, up to about this many rows
    quiet_seconds: float | None = None  # also take batches without _SUCCESS unchanged for this long
    # A batch quarantining more (or all of a non-empty batch) is flagged. None: each source's
    # max_quarantine_share from ingest.yml (default 0.05); a number overrides every source.
    max_quarantine_share: float | None = None
    config: IngestConfig | None = None  # per-source settings; None: the ingest.yml Settings.from_env() names


@dataclass
class _Gate:
    """Per-run state: the in-memory connection, GX context, key filters, reference tables, contracts."""

    con: duckdb.DuckDBPyConnection
    layout: DataLayout
    settings: IngestSettings
    config: IngestConfig
    currencies: dict[str, int | None]
    now: dt.datetime  # the run's start (naive UTC), or the start of settings.today
    publisher: BatchPublisher
    context: Any = None
    filters: dict[str, SeenKeys] = field(default_factory=dict)
    references_stale: bool = True
    contracts: dict[str, Contract] = field(default_factory=dict)
    where: str = "ingest"  # what is being worked on, for operational error messages


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
    gate: _Gate | None = None
    try:
        landing = scan(layout.landing, sources, settings.quiet_seconds)
        for folder in (layout.lake, layout.quarantine):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(layout.staging_area, ignore_errors=True)
        layout.staging_area.mkdir(parents=True)
        con = duckdb.connect()  # in-memory: GX validates here and never holds a file
        try:
            gate = _Gate(
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


def _open(gate: _Gate) -> None:
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
    gate: _Gate, findings: list[Finding], batches: dict[str, list[LandingBatch]], sources: tuple[Source, ...]
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
        pending: list[_Staged] = []
        for number, batch in enumerate(batches.get(source.name, [])):
            gate.where = f"{source.name} batch {batch.batch_id}"
            outcome = _prepare(gate, batch, f"batch_{number}")
            if isinstance(outcome, BatchReport):
                reports.append(outcome)
                bar.update()
                if outcome.status in (REJECTED, CONFLICT, REFUSED):
                    tqdm.write(f"{outcome.status.upper()} {source.name} batch {batch.batch_id}: {outcome.message}")
                    stop = gate.settings.strict
            else:
                if pending and not _joins_group(pending, outcome, gate.settings.group_rows):
                    reports.extend(_gate_group(gate, source, pending))
                    bar.update(len(pending))
                    pending = []
                pending.append(outcome)
            if stop:
                break
        if pending:
            reports.extend(_gate_group(gate, source, pending))
            bar.update(len(pending))
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


@dataclass(frozen=True)
class _Staged:
    """A readable batch whose schema the contract accepted, waiting for the row gate."""

    batch: LandingBatch
    loaded: BatchRelation
    check: ContractCheck
    audit: dict[str, Any]
    started: float
    rows: int
    options: SourceIngestSettings  # the source's settings with the batch's _batch.yml applied


def _prepare(gate: _Gate, batch: LandingBatch, relation: str) -> BatchReport | _Staged:
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
        return _reject_batch(gate, batch, audit, started, NOT_REGULAR, None, not_regular, [])
    try:
        options = _batch_options(gate, batch)
    except IngestConfigError as exc:
        return _reject_batch(gate, batch, audit, started, "invalid_batch_settings", None, str(exc), [])
    if batch.file_format == EMPTY:
        return _empty_batch(gate, batch, audit, started)
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
        return _reject_batch(
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
        return _reject_batch(
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
        return _reject_batch(
            gate, batch, audit, started, check.violations[0].rule, check, check.message(), violations, rows
        )
    if check.new_version is not None:  # registered in the catalog with this batch's commit
        gate.contracts[source.name] = contract.with_version(check.new_version)
    return _Staged(batch, loaded, check, audit, started, rows, options)


def _batch_options(gate: _Gate, batch: LandingBatch) -> SourceIngestSettings:
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


def _joins_group(group: list[_Staged], item: _Staged, max_rows: int) -> bool:
    """Whether `item` is validated with `group`: same schema, conversions and settings, at most ~max_rows rows."""
    return _group_key(group[0]) == _group_key(item) and sum(x.rows for x in group) + item.rows <= max_rows


def _group_key(item: _Staged) -> tuple[Any, ...]:
    """Batches validated together share their schema, converted columns and settings."""
    return (item.loaded.columns, item.loaded.cast_columns, item.loaded.local_columns, item.options)


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    return int(one_value(con, f"SELECT count(*) FROM {quote_ident(relation)}"))


def _refresh_references(gate: _Gate) -> None:
    # Known ids = keys admitted for the dimensions so far. Plain (not TEMP) tables: GX's
    # own connection to this in-memory database must see them.
    for table, column, dim in (("gate_known_users", "user_id", "users"), ("gate_known_items", "item_id", "items")):
        gate.con.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT key AS {column} FROM ({known_text_sql(DB)})", [dim]
        )
    gate.references_stale = False


def _seen_filter(gate: _Gate, source: Source) -> SeenKeys:
    if source.name not in gate.filters:
        gate.filters[source.name] = SeenKeys(
            gate.con, DB, source.name, gate.settings.bloom_capacity, gate.settings.bloom_fpr
        )
    return gate.filters[source.name]


def _key_array(con: duckdb.DuckDBPyConnection, sql: str, key: str) -> np.ndarray:
    column = (
        con.execute(f"SELECT {quote_ident(key)} AS key FROM ({sql}) WHERE {quote_ident(key)} IS NOT NULL")
        .to_arrow_table()
        .column("key")
    )
    return column.to_numpy() if len(column) else np.empty(0, dtype=np.int64)


def _gate_group(gate: _Gate, source: Source, group: list[_Staged]) -> list[BatchReport]:
    """One GX validation over consecutive batches of `source`, then per batch: write, audit, commit.

    GX costs a fixed overhead per run (suite, datasource, ~20 queries), so a source's
    pending batches are validated together; each batch is a range of row numbers.
    """
    from shop_analytics.quality.gx_duckdb import new_context  # GX loads once per run, only if needed
    from shop_analytics.quality.validate import validate_batch

    con = gate.con
    gate.where = f"{source.name} batches {group[0].batch.batch_id}..{group[-1].batch.batch_id}"
    relation = f"gate_{source.name}"
    offsets, parts, offset = [], [], 0
    for i, item in enumerate(group):
        offsets.append(offset)
        # An older-shaped batch gets the newer columns as typed NULLs, so every rule can name them.
        padding = "".join(", " + c for c in _missing_columns(gate, source, item.loaded))
        parts.append(
            f"SELECT * REPLACE ({ROW_NUMBER} + {offset} AS {ROW_NUMBER}), {i} AS {GATE_BATCH}{padding} "
            f"FROM {quote_ident(item.loaded.name)}"
        )
        offset += item.rows
    union = " UNION ALL BY NAME ".join(parts)
    if source.composite_key:  # the key's exact text and its hash, for duplicates in the batch and the lake
        text = key_text_sql(source)
        union = f"SELECT *, {text} AS {GATE_KEY}, {key_hash_sql(text)} AS {GATE_KEY_HASH} FROM ({union})"
    # Materialized once: GX's check table, the key lookup and every batch's split read it.
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(relation)} AS {union}")
    for item in group:  # the gate table holds every row now: free the batches' own tables
        drop_relations(con, item.loaded.relations)
    if source.is_fact and gate.references_stale:
        _refresh_references(gate)
    lookup = None
    if source.is_fact:
        lookup = _lookup_seen(gate, source, relation)
    params = _rule_params(gate, source, group[0])
    if source.name == ORDER_LINES.name:
        _known_orders(gate, source, relation, params)
    reasons = f"{relation}__reasons"
    if offset == 0:  # only header-only / empty batches: nothing for GX to judge
        con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(reasons)} ({ROW_NUMBER} BIGINT, reason VARCHAR)")
        failed_rows = 0
    else:
        if gate.context is None:
            gate.context = new_context()
        failed_rows = validate_batch(
            con, relation, source, params, context=gate.context, reasons_table=reasons
        ).failed_rows
    reports = []
    for item, lo in zip(group, offsets, strict=True):
        view = f"{relation}__part"
        con.execute(
            f"CREATE OR REPLACE VIEW {quote_ident(view)} AS SELECT * FROM {quote_ident(relation)} "
            f"WHERE {ROW_NUMBER} >= {lo} AND {ROW_NUMBER} < {lo + item.rows}"
        )
        reports.append(_finish_batch(gate, item, view, reasons, lo, lookup))
    con.execute(f"DROP VIEW IF EXISTS {quote_ident(relation + '__part')}")
    con.execute(f"DROP TABLE {quote_ident(relation)}")
    if source.is_fact:
        _seen_filter(gate, source).save()
    if sum(r.rows_quarantined for r in reports) != failed_rows:
        raise RuntimeError(
            f"{source.name}: quarantined rows {sum(r.rows_quarantined for r in reports)} "
            f"differ from GX failed rows {failed_rows}"
        )
    return reports


_PLAIN_TYPE = re.compile(r"[A-Z][A-Z0-9_ ]*(\([0-9]+(, ?[0-9]+)?\))?")


def _missing_columns(gate: _Gate, source: Source, loaded: BatchRelation) -> list[str]:
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


def _lookup_seen(gate: _Gate, source: Source, relation: str) -> Any:
    """Keys of `relation` maybe / surely admitted before: tables gate_maybe_seen (hashes) and gate_seen_keys."""
    con = gate.con
    hashed = GATE_KEY_HASH if source.composite_key else source.key
    lookup = _seen_filter(gate, source).lookup(_key_array(con, f"SELECT * FROM {quote_ident(relation)}", hashed))
    con.execute("CREATE OR REPLACE TABLE gate_maybe_seen (key BIGINT)")
    if lookup.maybe.size:
        con.execute("INSERT INTO gate_maybe_seen SELECT unnest(?::BIGINT[])", [lookup.maybe.tolist()])
    if source.composite_key:
        # A hash match is only a candidate: the exact key texts decide (seen.py, quality/keys.py).
        con.execute(
            f"CREATE OR REPLACE TABLE gate_seen_keys AS SELECT DISTINCT key_text AS key FROM {DB}.seen_keys "
            f"WHERE source = ? AND key IN (SELECT unnest(?::BIGINT[])) AND key_text IS NOT NULL",
            [source.name, lookup.confirmed.tolist()],
        )
    else:
        con.execute("CREATE OR REPLACE TABLE gate_seen_keys (key BIGINT)")
        if lookup.confirmed.size:
            con.execute("INSERT INTO gate_seen_keys SELECT unnest(?::BIGINT[])", [lookup.confirmed.tolist()])
    return lookup


def _rule_params(gate: _Gate, source: Source, first: _Staged) -> RuleParams:
    options = first.options
    scale = gate.currencies.get(options.default_currency)
    return RuleParams(
        today=gate.now.date(),
        now=gate.now,
        earliest=dt.datetime.combine(options.earliest, dt.time()),
        max_future=options.max_future,
        known_users="gate_known_users" if source.is_fact and source.user_ref else None,
        known_items="gate_known_items" if source.is_fact and source.item_ref else None,
        seen_keys="gate_seen_keys" if source.is_fact else None,
        cast_columns=first.loaded.cast_columns,
        local_columns=first.loaded.local_columns,
        currencies="gate_currencies",
        known_orders="gate_known_orders" if source.name == ORDER_LINES.name else None,
        default_scale=MAX_SCALE if scale is None else scale,
        default_currency=options.default_currency,
    )


def _known_orders(gate: _Gate, source: Source, relation: str, params: RuleParams) -> None:
    """Table gate_known_orders (order_id, first_batch): orders in the lake (-1) or admitted by a batch of this group.

    An order of this group counts from the first batch with one of its sale lines that passes
    every other rule, so a cancellation may follow its order in the same batch or any later one.
    """
    others = tuple(r for r in rules_for(source, params) if r.kind != UNKNOWN_ORDER)
    relation_sql = quote_ident(relation)
    gate.con.execute(
        f"CREATE OR REPLACE TABLE gate_known_orders AS "
        f"SELECT order_id, -1 AS first_batch FROM ({admitted_order_ids_sql(DB)}) "
        f"UNION ALL SELECT b.order_id, min(b.{GATE_BATCH}) AS first_batch FROM {relation_sql} b "
        f"WHERE b.line_type = ? AND b.order_id IS NOT NULL AND b.{ROW_NUMBER} NOT IN "
        f"(SELECT {ROW_NUMBER} FROM ({row_reasons_sql(relation, others)})) GROUP BY b.order_id",
        [SALE],
    )


def _finish_batch(gate: _Gate, item: _Staged, view: str, reasons: str, lo: int, lookup: Any) -> BatchReport:
    """Write one batch's admitted and rejected rows, then commit keys, files, contract and audit together."""
    source, con, batch, loaded, check = item.batch.source, gate.con, item.batch, item.loaded, item.check
    gate.where = f"{source.name} batch {batch.batch_id}"
    scratch = gate.publisher.scratch(source.name, batch.batch_id)
    columns = ", ".join([quote_ident(c) for c in loaded.data_columns] + _missing_columns(gate, source, loaded))
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
    keys = _key_array(con, keys_sql, "key")
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
        examples=reason_examples(con, view, reasons, lo, loaded.raw_columns, by_reason),
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
    _commit(
        gate,
        batch,
        files,
        audit,
        keys_sql=keys_sql,
        new_version=check.new_version,
    )
    if source.is_fact:
        _seen_filter(gate, source).add(keys)
    else:
        gate.references_stale = True
    return report


def _commit(
    gate: _Gate,
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


def _settings_notes(options: SourceIngestSettings) -> list[str]:
    defaults = SourceIngestSettings()
    notes = []
    if options.timestamp_format != defaults.timestamp_format:
        notes.append(f"timestamps read as {options.timestamp_format}")
    if options.time_zone != defaults.time_zone:
        notes.append(f"naive local times read in {options.time_zone}")
    return notes


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # A COMMIT that failed (e.g. the disk filled while writing the catalog) has already ended the
    # transaction, or invalidated the database: the original error is the one worth reporting.
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _committed_files(gate: _Gate, batch: LandingBatch) -> list[str]:
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


def _write_admitted(gate: _Gate, source: Source, batch_id: str, admitted: str, scratch: Path) -> int:
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


def _rows_with_reasons(gate: _Gate, reasons: str, lo: int, rows: int) -> int:
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
    gate: _Gate, source: Source, batch_id: str, rejected: str, scratch: Path, expected: int
) -> int:
    """Write the rejected rows (if any) to the batch's quarantine file; the rows COPY wrote."""
    if not expected:
        return 0
    out = scratch / "quarantine" / source.name / batch_id
    out.mkdir(parents=True)
    rows = one_value(gate.con, f"COPY ({rejected}) TO {quote_literal(str(out / 'rejected.parquet'))} (FORMAT parquet)")
    return int(rows or 0)


def _empty_batch(gate: _Gate, batch: LandingBatch, audit: dict[str, Any], started: float) -> BatchReport:
    """A complete batch without data files (only the marker): audited as ingested with 0 rows."""
    message = f"{batch.source.name} batch {batch.batch_id}: no data files, only the completion marker"
    seconds = round(time.perf_counter() - started, 3)
    _commit(
        gate,
        batch,
        [],
        {
            **audit,
            "rows_in": 0,
            "rows_admitted": 0,
            "rows_quarantined": 0,
            "quarantined_by_reason": "{}",
            "contract_version": None,
            "seconds": seconds,
            "status": INGESTED,
            "contract_status": None,
            "message": message,
        },
    )
    return BatchReport(batch.source.name, batch.batch_id, INGESTED, seconds=seconds, message=message)


def _reject_batch(
    gate: _Gate,
    batch: LandingBatch,
    audit: dict[str, Any],
    started: float,
    rule: str,
    check: ContractCheck | None,
    message: str,
    violations: list[dict[str, Any]],
    rows: int = 0,
) -> BatchReport:
    """Quarantine the whole batch: its regular data files plus reason.json, then audit it as rejected."""
    source = batch.source
    scratch = gate.publisher.scratch(source.name, batch.batch_id)
    out = scratch / "quarantine" / source.name / batch.batch_id
    (out / "files").mkdir(parents=True)
    copied = []
    for path in batch.files:
        try:
            with open_regular(path) as src, (out / "files" / path.name).open("wb") as dst:
                shutil.copyfileobj(src, dst)
            copied.append(path.name)
        except NotRegularFileError:
            pass  # never followed; named in the message
    column = violations[0]["column"] if violations else None
    reason = {
        "source": source.name,
        "batch_id": batch.batch_id,
        "rule": rule,
        "column": column,
        "message": message,
        "violations": violations,
        "files": copied,
        "not_regular": list(batch.irregular),
        "content_hash": audit["content_hash"],
        "rows": rows,
    }
    (out / "reason.json").write_text(json.dumps(reason, indent=2, sort_keys=True, default=str) + "\n")
    files = gate.publisher.publish(gate.con, source.name, batch.batch_id, scratch)
    seconds = round(time.perf_counter() - started, 3)
    _commit(
        gate,
        batch,
        files,
        {
            **audit,
            "rows_in": rows,
            "rows_admitted": 0,
            "rows_quarantined": rows,
            "quarantined_by_reason": json.dumps({f"batch_rejected:{rule}": rows}),
            "contract_version": None,
            "seconds": seconds,
            "status": REJECTED,
            "contract_status": check.status if check else None,
            "message": message,
        },
    )
    return BatchReport(
        source.name,
        batch.batch_id,
        REJECTED,
        rows,
        0,
        rows,
        {f"batch_rejected:{rule}": rows},
        seconds,
        None,
        check.status if check else None,
        message,
        rule=rule,
    )


def audit_rows(layout: DataLayout) -> list[dict[str, Any]]:
    """The ingest audit as dicts (read-only; safe while nothing is ingesting)."""
    return catalog.audit_rows(layout.catalog)
