"""Landing -> quality gate -> lake or quarantine, one batch at a time, idempotent and audited.

Per batch: content hash (skip if already ingested) -> read (reading.py) -> schema
contract (quality.contracts: accepted, new version, or the whole batch rejected) ->
event ids already in the lake (seen.py: Bloom filter, exact check) -> GX suite
(quality.validate: GX decides, failing rows get machine-readable reasons) -> admitted
rows to the lake, rejected rows to ``quarantine/<source>/<batch>/rejected.parquet``,
both written under scratch names and renamed (publish.py) -> one catalog transaction
with the admitted keys, the key filter and the audit row. A crash before that commit
means the batch is redone on the next run, and converges to the same files.

A rejected batch (unreadable, mixed formats, schema contract violation) is copied
whole to ``quarantine/<source>/<batch>/files/`` with a ``reason.json``, audited with
status 'rejected', and ingest goes on with the other batches (``strict`` stops).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from tqdm import tqdm

from shop_analytics.ingest import catalog
from shop_analytics.ingest.batches import MIXED, LandingBatch, discover, landing_problems
from shop_analytics.ingest.publish import Publisher, remove_batch_files
from shop_analytics.ingest.reading import BatchRelation, UnreadableBatchError, load_batch
from shop_analytics.ingest.seen import SeenKeys
from shop_analytics.paths import DataLayout
from shop_analytics.quality.contracts import ContractCheck, check_columns_contract
from shop_analytics.quality.countries import load_country_codes
from shop_analytics.quality.rules import ROW_NUMBER, RuleParams
from shop_analytics.quality.split import admitted_sql, quarantined_sql
from shop_analytics.quality.sql import quote_ident
from shop_analytics.sources import ALL_SOURCES, Source

DB = catalog.DB
REASONS_COLUMN = "_reject_reasons"


class BatchConflictError(RuntimeError):
    """A batch id was ingested before with different content."""


@dataclass
class BatchReport:
    """What happened to one batch."""

    source: str
    batch_id: str
    status: str  # "ingested", "skipped" (same content already in), or "rejected" (whole batch)
    rows_in: int = 0
    rows_admitted: int = 0
    rows_quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    contract_version: int | None = None
    contract_status: str | None = None
    message: str = ""
    maybe_seen: int = 0  # event ids the Bloom filter flagged
    seen_confirmed: int = 0  # ... of which really in the lake


@dataclass(frozen=True)
class IngestSettings:
    """Knobs for one ingest run."""

    countries_csv: Path = Path("seeds/countries.csv")
    contracts_dir: Path = Path("contracts")
    today: dt.date | None = None  # upper bound of plausible event times; default: today (UTC)
    memory_limit: str = "2GB"
    progress: bool | None = None
    strict: bool = False  # stop at the first rejected batch
    data_docs_dir: Path | None = None  # build GX Data Docs here after the run
    bloom_capacity: int = 10_000_000  # event ids per source before the filter is rebuilt bigger
    bloom_fpr: float = 0.01
    group_rows: int = 5_000_000  # batches of one source validated by one GX run, up to about this many rows


@dataclass
class _Gate:
    """Per-run state: the in-memory connection, GX context, key filters, reference tables."""

    con: duckdb.DuckDBPyConnection
    layout: DataLayout
    settings: IngestSettings
    countries: tuple[str, ...]
    publisher: Publisher
    context: Any = None
    filters: dict[str, SeenKeys] = field(default_factory=dict)
    references_stale: bool = True


def ingest(layout: DataLayout, settings: IngestSettings | None = None,
           sources: tuple[Source, ...] = ALL_SOURCES) -> list[BatchReport]:
    """Ingest every landing batch not yet in the catalog; dimensions first, then facts."""
    settings = settings or IngestSettings()
    if not layout.landing.exists():
        raise FileNotFoundError(f"no landing folder at {layout.landing}; run `shop-analytics generate` first")
    countries = load_country_codes(settings.countries_csv)
    for folder in (layout.lake, layout.quarantine):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(layout.staging_area, ignore_errors=True)
    layout.staging_area.mkdir(parents=True)
    con = duckdb.connect()  # in-memory: GX validates here and never holds a file
    try:
        con.execute(f"SET memory_limit = '{settings.memory_limit}'")
        con.execute(f"SET temp_directory = '{layout.staging_area / 'spill'}'")
        con.execute("SET preserve_insertion_order = false")
        catalog.attach(con, layout.catalog)
        gate = _Gate(con, layout, settings, countries, Publisher(layout.staging_area / "scratch"))
        reports = [BatchReport("?", "?", "rejected", message=p) for p in landing_problems(layout.landing)]
        for report in reports:
            tqdm.write(f"REJECTED {report.message}")
        ordered = sorted(sources, key=lambda s: s.is_fact)
        total = sum(len(discover(layout.landing, s)) for s in ordered)
        bar = tqdm(total=total, desc="ingest", unit="batch",
                   disable=None if settings.progress is None else not settings.progress)
        stop = False
        for source in ordered:
            staged: list[_Staged] = []
            for batch in discover(layout.landing, source):
                outcome = _prepare(gate, batch, f"batch_{len(staged)}")
                if isinstance(outcome, BatchReport):
                    reports.append(outcome)
                    bar.update()
                    if outcome.status == "rejected":
                        tqdm.write(f"REJECTED {source.name} batch {batch.batch_id}: {outcome.message}")
                        stop = settings.strict
                else:
                    staged.append(outcome)
                if stop:
                    break
            for group in _groups(staged, settings.group_rows):
                reports.extend(_gate_group(gate, source, group))
                bar.update(len(group))
            for item in staged:
                _drop(gate.con, item.loaded.name)
            if stop:
                break
        bar.close()
        if settings.data_docs_dir is not None and gate.context is not None:
            from shop_analytics.quality.data_docs import build_data_docs

            build_data_docs(gate.context, settings.data_docs_dir)
        return reports
    finally:
        con.close()
        shutil.rmtree(layout.staging_area, ignore_errors=True)


@dataclass(frozen=True)
class _Staged:
    """A readable batch whose schema the contract accepted, waiting for the row gate."""

    batch: LandingBatch
    loaded: BatchRelation
    check: ContractCheck
    audit: dict
    started: float
    rows: int


def _prepare(gate: _Gate, batch: LandingBatch, relation: str) -> BatchReport | _Staged:
    """Skip, reject (whole batch) or stage one batch: hash, read, schema contract."""
    source, con = batch.source, gate.con
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    content_hash = batch.content_hash()
    previous = catalog.previous_batch(con, source.name, batch.batch_id)
    if previous is not None:
        if previous[0] == content_hash:
            return BatchReport(source.name, batch.batch_id, "skipped")
        if previous[1] != "rejected":
            raise BatchConflictError(
                f"{source.name} batch {batch.batch_id} was already ingested with different content "
                f"(hash {previous[0][:12]} before, {content_hash[:12]} now); land corrected data as a new batch id")
        # A rejected batch may be re-delivered, fixed, under the same id.
    audit = {"source": source.name, "batch_id": batch.batch_id, "content_hash": content_hash,
             "files": len(batch.files), "started_at": started_at, "file_format": batch.file_format}
    try:
        if batch.file_format == MIXED:
            raise UnreadableBatchError("mixed_formats", f"{batch.files[0].parent}: a batch holds files of one "
                                       f"format (.parquet, .csv or .json); found {[p.name for p in batch.files]}")
        loaded = load_batch(con, batch, relation, gate.settings.contracts_dir)
        rows = _count(con, relation)
    except UnreadableBatchError as exc:
        _drop(con, relation)
        return _reject_batch(gate, batch, audit, started, exc.rule, None, str(exc), [])
    except duckdb.Error as exc:  # e.g. a file that fails only when its data pages are read
        _drop(con, relation)
        return _reject_batch(gate, batch, audit, started, "unreadable_file", None,
                             f"cannot read {batch.files[0].parent}: {str(exc).splitlines()[0]}", [])
    check = check_columns_contract(loaded.columns, source, gate.settings.contracts_dir)
    if not check.accepted:
        _drop(con, relation)
        violations = [asdict(v) for v in check.violations]
        return _reject_batch(gate, batch, audit, started, check.violations[0].rule, check, check.message(),
                             violations, rows)
    return _Staged(batch, loaded, check, audit, started, rows)


def _drop(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = ? "
                       "AND table_catalog = current_database()", [relation]).fetchone()
    if kind:
        con.execute(f"DROP {'VIEW' if kind[0] == 'VIEW' else 'TABLE'} {quote_ident(relation)}")


def _groups(staged: list[_Staged], max_rows: int) -> list[list[_Staged]]:
    """Consecutive batches validated together: same reader columns, at most ~max_rows rows."""
    groups: list[list[_Staged]] = []
    for item in staged:
        last = groups[-1] if groups else None
        if (last and last[0].loaded.cast_columns == item.loaded.cast_columns
                and sum(x.rows for x in last) + item.rows <= max_rows):
            last.append(item)
        else:
            groups.append([item])
    return groups


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {quote_ident(relation)}").fetchone()[0])


def _refresh_references(gate: _Gate) -> None:
    # Known ids = keys admitted for the dimensions so far. Plain (not TEMP) tables: GX's
    # own connection to this in-memory database must see them.
    for table, column, dim in (("gate_known_users", "user_id", "users"), ("gate_known_items", "item_id", "items")):
        gate.con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT DISTINCT key AS {column} "
                         f"FROM {DB}.seen_keys WHERE source = '{dim}'")
    gate.references_stale = False


def _seen_filter(gate: _Gate, source: Source) -> SeenKeys:
    if source.name not in gate.filters:
        gate.filters[source.name] = SeenKeys(gate.con, DB, source.name, gate.settings.bloom_capacity,
                                             gate.settings.bloom_fpr)
    return gate.filters[source.name]


def _key_array(con: duckdb.DuckDBPyConnection, sql: str, key: str) -> np.ndarray:
    column = con.execute(f"SELECT {quote_ident(key)} AS key FROM ({sql}) WHERE {quote_ident(key)} IS NOT NULL"
                         ).to_arrow_table().column("key")
    return column.to_numpy() if len(column) else np.empty(0, dtype=np.int64)


def _gate_group(gate: _Gate, source: Source, group: list[_Staged]) -> list[BatchReport]:
    """One GX validation over consecutive batches of `source`, then per batch: write, audit, commit.

    GX costs a fixed overhead per run (suite, datasource, ~20 queries), so a source's
    batches are validated together; row numbers run on across batches in landing order,
    so a duplicate of an id from an earlier batch of the same run is caught as a
    duplicate, and each batch is a row-number range of the group.
    """
    from shop_analytics.quality.gx_duckdb import new_context  # GX loads once per run, only if needed
    from shop_analytics.quality.validate import validate_batch

    con = gate.con
    relation = f"gate_{source.name}"
    offsets, parts, offset = [], [], 0
    for item in group:
        offsets.append(offset)
        parts.append(f"SELECT * REPLACE ({ROW_NUMBER} + {offset} AS {ROW_NUMBER}) "
                     f"FROM {quote_ident(item.loaded.name)}")
        offset += item.rows
    # Materialized once: GX's check table, the key lookup and every batch's split read it.
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(relation)} AS " + " UNION ALL BY NAME ".join(parts))
    if source.is_fact and gate.references_stale:
        _refresh_references(gate)
    lookup = None
    if source.is_fact:
        lookup = _seen_filter(gate, source).lookup(_key_array(con, f"SELECT * FROM {quote_ident(relation)}",
                                                              source.key))
        for table, keys in (("gate_seen_keys", lookup.confirmed), ("gate_maybe_seen", lookup.maybe)):
            con.execute(f"CREATE OR REPLACE TABLE {table} (key BIGINT)")
            if keys.size:
                con.execute(f"INSERT INTO {table} SELECT unnest(?::BIGINT[])", [keys.tolist()])
    params = RuleParams(
        today=gate.settings.today or dt.datetime.now(dt.timezone.utc).date(),
        countries=gate.countries if source.name == "users" else None,
        known_users="gate_known_users" if source.is_fact and source.user_ref else None,
        known_items="gate_known_items" if source.is_fact and source.item_ref else None,
        seen_keys="gate_seen_keys" if source.is_fact else None,
        cast_columns=group[0].loaded.cast_columns)
    reasons = f"{relation}__reasons"
    if offset == 0:  # only header-only / empty batches: nothing for GX to judge
        con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(reasons)} ({ROW_NUMBER} BIGINT, reason VARCHAR)")
        failed_rows = 0
    else:
        if gate.context is None:
            gate.context = new_context()
        failed_rows = validate_batch(con, relation, source, params, context=gate.context,
                                     reasons_table=reasons).failed_rows
    reports = []
    for item, lo in zip(group, offsets):
        view = f"{relation}__part"
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(view)} AS SELECT * FROM {quote_ident(relation)} "
                    f"WHERE {ROW_NUMBER} >= {lo} AND {ROW_NUMBER} < {lo + item.rows}")
        reports.append(_finish_batch(gate, item, view, reasons, lo, lookup))
    con.execute(f"DROP VIEW IF EXISTS {quote_ident(relation + '__part')}")
    con.execute(f"DROP TABLE {quote_ident(relation)}")
    if source.is_fact:
        _seen_filter(gate, source).save()
    if sum(r.rows_quarantined for r in reports) != failed_rows:
        raise RuntimeError(f"{source.name}: quarantined rows {sum(r.rows_quarantined for r in reports)} "
                           f"differ from GX failed rows {failed_rows}")
    return reports


def _finish_batch(gate: _Gate, item: _Staged, view: str, reasons: str, lo: int, lookup: Any) -> BatchReport:
    """Write one batch's admitted and rejected rows, then commit keys, filter and audit together."""
    source, con, batch, loaded, check = item.batch.source, gate.con, item.batch, item.loaded, item.check
    columns = ", ".join(quote_ident(c) for c in loaded.data_columns)
    admitted = f"SELECT {columns} FROM ({admitted_sql(view, reasons)})"
    rows_admitted = _write_admitted(gate, source, batch.batch_id, admitted)
    keep = ", ".join(quote_ident(c) for c in (*loaded.data_columns, *loaded.raw_columns))
    # row_number in quarantine is the row's position within its own batch.
    rejected = (f"SELECT {ROW_NUMBER} - {lo} AS {ROW_NUMBER}, {keep}, reasons AS {REASONS_COLUMN} "
                f"FROM ({quarantined_sql(view, reasons)}) ORDER BY {ROW_NUMBER}")
    rows_quarantined = _write_rejected_rows(gate, source, batch.batch_id, rejected)
    if item.rows != rows_admitted + rows_quarantined:
        raise RuntimeError(f"{source.name} batch {batch.batch_id} does not reconcile: in {item.rows}, "
                           f"admitted {rows_admitted}, quarantined {rows_quarantined}")
    by_reason = dict(con.execute(
        f"SELECT reason, count(*) FROM {quote_ident(reasons)} WHERE {ROW_NUMBER} >= ? AND {ROW_NUMBER} < ? "
        f"GROUP BY reason ORDER BY reason", [lo, lo + item.rows]).fetchall())
    keys = _key_array(con, admitted, source.key)
    maybe_here = seen_here = 0
    if lookup is not None and lookup.maybe.size:
        key = quote_ident(source.key)
        maybe_here, seen_here = con.execute(
            f"SELECT count(*) FILTER ({key} IN (SELECT key FROM gate_maybe_seen)), "
            f"count(*) FILTER ({key} IN (SELECT key FROM gate_seen_keys)) FROM {quote_ident(view)}").fetchone()
    report = BatchReport(source.name, batch.batch_id, "ingested", item.rows, rows_admitted, rows_quarantined,
                         by_reason, round(time.perf_counter() - item.started, 3), check.version, check.status,
                         check.message(), int(maybe_here), int(seen_here))
    con.execute("BEGIN TRANSACTION")
    try:
        catalog.insert_keys(con, source.name, f"SELECT {quote_ident(source.key)} AS key FROM ({admitted})")
        catalog.end_publish(con, source.name, batch.batch_id)
        catalog.insert_audit(con, {**item.audit, "rows_in": item.rows, "rows_admitted": rows_admitted,
                                   "rows_quarantined": rows_quarantined,
                                   "quarantined_by_reason": json.dumps(by_reason, sort_keys=True),
                                   "contract_version": check.version, "seconds": report.seconds,
                                   "status": "ingested", "contract_status": check.status,
                                   "message": check.message()})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        gate.filters.pop(source.name, None)  # reload the committed filter next time
        raise
    if source.is_fact:
        _seen_filter(gate, source).add(keys)
    else:
        gate.references_stale = True
    return report


def _write_admitted(gate: _Gate, source: Source, batch_id: str, admitted: str) -> int:
    target = gate.layout.lake / source.name
    out = gate.publisher.scratch(source.name, batch_id, "lake")
    if source.is_fact:
        time_col = quote_ident(source.event_time or "")
        rows = gate.con.execute(
            f"COPY (SELECT *, CAST({time_col} AS DATE) AS event_date FROM ({admitted}) ORDER BY {time_col}) "
            f"TO '{out}' (FORMAT parquet, PARTITION_BY (event_date), FILENAME_PATTERN 'batch_{batch_id}_{{i}}', "
            f"OVERWRITE_OR_IGNORE true)").fetchone()[0] or 0
    else:
        rows = gate.con.execute(f"COPY ({admitted} ORDER BY {quote_ident(source.key)}) "
                                f"TO '{out / f'batch_{batch_id}.parquet'}' (FORMAT parquet)").fetchone()[0]
    if catalog.begin_publish(gate.con, source.name, batch_id):
        remove_batch_files(target, batch_id)  # leftovers of an interrupted attempt at this batch
    gate.publisher.publish_tree(out, target)
    return int(rows)


def _write_rejected_rows(gate: _Gate, source: Source, batch_id: str, rejected: str) -> int:
    target = gate.layout.quarantine / source.name / batch_id
    shutil.rmtree(target, ignore_errors=True)
    out = gate.publisher.scratch(source.name, batch_id, "quarantine")
    rows = int(gate.con.execute(f"SELECT count(*) FROM ({rejected})").fetchone()[0])
    if rows:
        gate.con.execute(f"COPY ({rejected}) TO '{out / 'rejected.parquet'}' (FORMAT parquet)")
        gate.publisher.publish_tree(out, target)
    return rows


def _reject_batch(gate: _Gate, batch: LandingBatch, audit: dict, started: float, rule: str,
                  check: ContractCheck | None, message: str, violations: list[dict], rows: int = 0) -> BatchReport:
    """Quarantine the whole batch: original files plus reason.json, then audit it as rejected."""
    source = batch.source
    target = gate.layout.quarantine / source.name / batch.batch_id
    shutil.rmtree(target, ignore_errors=True)
    out = gate.publisher.scratch(source.name, batch.batch_id, "rejected")
    (out / "files").mkdir()
    for path in batch.files:
        shutil.copy2(path, out / "files" / path.name)
    gate.publisher.publish_tree(out, target)
    column = violations[0]["column"] if violations else None
    reason = {"source": source.name, "batch_id": batch.batch_id, "rule": rule, "column": column,
              "message": message, "violations": violations, "files": [p.name for p in batch.files],
              "content_hash": audit["content_hash"], "rows": rows}
    gate.publisher.write_json(reason, target / "reason.json")
    seconds = round(time.perf_counter() - started, 3)
    catalog.insert_audit(gate.con, {**audit, "rows_in": rows, "rows_admitted": 0, "rows_quarantined": rows,
                                    "quarantined_by_reason": json.dumps({f"batch_rejected:{rule}": rows}),
                                    "contract_version": None, "seconds": seconds, "status": "rejected",
                                    "contract_status": check.status if check else None, "message": message})
    return BatchReport(source.name, batch.batch_id, "rejected", rows, 0, rows, {f"batch_rejected:{rule}": rows},
                       seconds, None, check.status if check else None, message)


def audit_rows(layout: DataLayout) -> list[dict]:
    """The ingest audit as dicts (read-only; safe while nothing is ingesting)."""
    return catalog.audit_rows(layout.catalog)


def report_dict(report: BatchReport) -> dict:
    """A batch report as a plain dict."""
    return asdict(report)
