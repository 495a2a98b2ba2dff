"""Landing -> rules -> lake or quarantine, one batch at a time, idempotent and audited.

Each batch is read once into DuckDB, every row gets a reject reason or none,
admitted rows go to the lake (facts partitioned by event date) and rejected
rows to ``quarantine/<source>/<batch_id>/rejected.parquet``. Files are written
under a scratch name and renamed into place. The catalog (seen keys and the
audit) is committed last, so a crashed batch is simply redone on the next run
and rewrites the same file names.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
from tqdm import tqdm

from shop_analytics.ingest.batches import LandingBatch, discover, read_sql
from shop_analytics.ingest.row_rules import TimeWindow, classify_sql
from shop_analytics.paths import DataLayout
from shop_analytics.sources import ALL_SOURCES, Source

CONTRACT_VERSION = 1
_CATALOG_DDL = """
CREATE TABLE IF NOT EXISTS seen_keys (source VARCHAR NOT NULL, key BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ingest_audit (
    source VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    files INTEGER NOT NULL,
    rows_in BIGINT NOT NULL,
    rows_admitted BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    quarantined_by_reason VARCHAR NOT NULL,
    contract_version INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    seconds DOUBLE NOT NULL,
    PRIMARY KEY (source, batch_id)
);
"""


class BatchConflictError(RuntimeError):
    """A batch id was ingested before with different content."""


@dataclass
class BatchReport:
    """What happened to one batch."""

    source: str
    batch_id: str
    status: str  # "ingested" or "skipped" (same content already ingested)
    rows_in: int = 0
    rows_admitted: int = 0
    rows_quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class IngestSettings:
    """Knobs for one ingest run."""

    window: TimeWindow = field(default_factory=TimeWindow.default)
    countries_csv: Path = Path("seeds/countries.csv")
    memory_limit: str = "2GB"
    progress: bool | None = None


def ingest(layout: DataLayout, settings: IngestSettings | None = None,
           sources: tuple[Source, ...] = ALL_SOURCES) -> list[BatchReport]:
    """Ingest every landing batch not yet in the catalog; dimensions first, then facts."""
    settings = settings or IngestSettings()
    if not layout.landing.exists():
        raise FileNotFoundError(f"no landing folder at {layout.landing}; run `shop-analytics generate` first")
    layout.lake.mkdir(parents=True, exist_ok=True)
    layout.quarantine.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(layout.catalog))
    try:
        con.execute(f"SET memory_limit = '{settings.memory_limit}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute(_CATALOG_DDL)
        _load_countries(con, settings.countries_csv)
        ordered = sorted(sources, key=lambda s: s.is_fact)
        batches = [b for s in ordered for b in discover(layout.landing, s)]
        reports = []
        for batch in tqdm(batches, desc="ingest", unit="batch", disable=_no_bar(settings.progress)):
            reports.append(_ingest_batch(con, layout, batch, settings.window))
        return reports
    finally:
        con.close()


def _no_bar(progress: bool | None) -> bool | None:
    return None if progress is None else not progress


def _load_countries(con: duckdb.DuckDBPyConnection, countries_csv: Path) -> None:
    if not Path(countries_csv).exists():
        raise FileNotFoundError(f"accepted country list {countries_csv} not found")
    con.execute("CREATE OR REPLACE TEMP TABLE _countries AS "
                "SELECT upper(country_code) AS country_code FROM read_csv(?, header = true, all_varchar = true)",
                [str(countries_csv)])


def _ingest_batch(con: duckdb.DuckDBPyConnection, layout: DataLayout, batch: LandingBatch,
                  window: TimeWindow) -> BatchReport:
    source = batch.source
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    content_hash = batch.content_hash()
    previous = con.execute("SELECT content_hash FROM ingest_audit WHERE source = ? AND batch_id = ?",
                           [source.name, batch.batch_id]).fetchone()
    if previous is not None:
        if previous[0] == content_hash:
            return BatchReport(source.name, batch.batch_id, "skipped")
        raise BatchConflictError(
            f"{source.name} batch {batch.batch_id} was already ingested with different content "
            f"(hash {previous[0][:12]} before, {content_hash[:12]} now); land corrected data as a new batch id")

    columns = ", ".join(f.name for f in source.schema)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _batch AS "
                    f"SELECT {columns}, row_number() OVER () AS _row_number FROM {read_sql(batch)}")
    except duckdb.Error as exc:
        raise ValueError(f"cannot read {source.name} batch {batch.batch_id} ({batch.files[0].parent}): {exc}") from exc
    _prepare_lookups(con, source)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _classified AS {classify_sql(source, '_batch', window)}")

    scratch = layout.staging_area / source.name / batch.batch_id
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    _write_admitted(con, layout, source, batch.batch_id, scratch, columns)
    counts = dict(con.execute("SELECT _reject_reason, count(*) FROM _classified "
                              "WHERE _reject_reason IS NOT NULL GROUP BY ALL ORDER BY 1").fetchall())
    _write_quarantine(con, layout, source, batch.batch_id, scratch, bool(counts))
    shutil.rmtree(scratch, ignore_errors=True)

    rows_in = con.execute("SELECT count(*) FROM _batch").fetchone()[0]
    quarantined = sum(counts.values())
    report = BatchReport(source.name, batch.batch_id, "ingested", rows_in, rows_in - quarantined, quarantined,
                         counts, round(time.perf_counter() - started, 3))
    con.execute("BEGIN TRANSACTION")
    con.execute(f"INSERT INTO seen_keys SELECT ?, {source.key} FROM _classified WHERE _reject_reason IS NULL",
                [source.name])
    con.execute("INSERT INTO ingest_audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [source.name, batch.batch_id, content_hash, len(batch.files), report.rows_in,
                 report.rows_admitted, report.rows_quarantined, json.dumps(counts, sort_keys=True),
                 CONTRACT_VERSION, started_at, report.seconds])
    con.execute("COMMIT")
    return report


def _prepare_lookups(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    for name, table_source in (("_known_users", "users"), ("_known_items", "items"), ("_seen_keys", source.name)):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS "
                    f"SELECT DISTINCT key FROM seen_keys WHERE source = '{table_source}'")


def _write_admitted(con: duckdb.DuckDBPyConnection, layout: DataLayout, source: Source, batch_id: str,
                    scratch: Path, columns: str) -> None:
    target = layout.lake / source.name
    admitted = f"SELECT {columns} FROM _classified WHERE _reject_reason IS NULL"
    if source.is_fact:
        out = scratch / "lake"
        con.execute(
            f"COPY (SELECT *, CAST({source.event_time} AS DATE) AS event_date FROM ({admitted}) "
            f"ORDER BY {source.event_time}) TO '{out}' "
            f"(FORMAT parquet, PARTITION_BY (event_date), FILENAME_PATTERN 'batch_{batch_id}_{{i}}', "
            f"OVERWRITE_OR_IGNORE true)")
    else:
        out = scratch / "lake"
        out.mkdir()
        con.execute(f"COPY ({admitted} ORDER BY {source.key}) TO '{out / f'batch_{batch_id}.parquet'}' "
                    f"(FORMAT parquet)")
    _publish_tree(out, target)


def _write_quarantine(con: duckdb.DuckDBPyConnection, layout: DataLayout, source: Source, batch_id: str,
                      scratch: Path, any_rejected: bool) -> None:
    target = layout.quarantine / source.name / batch_id
    if not any_rejected:
        shutil.rmtree(target, ignore_errors=True)
        return
    out = scratch / "quarantine"
    out.mkdir()
    con.execute(f"COPY (SELECT * FROM _classified WHERE _reject_reason IS NOT NULL ORDER BY _row_number) "
                f"TO '{out / 'rejected.parquet'}' (FORMAT parquet)")
    _publish_tree(out, target)


def _publish_tree(scratch: Path, target: Path) -> None:
    """Move every file under `scratch` to the same relative path under `target`, each atomically."""
    for path in sorted(scratch.rglob("*")):
        if path.is_file():
            destination = target / path.relative_to(scratch)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)


def audit_rows(layout: DataLayout) -> list[dict]:
    """The ingest audit as dicts (read-only; safe while nothing is ingesting)."""
    if not layout.catalog.exists():
        return []
    con = duckdb.connect(str(layout.catalog), read_only=True)
    try:
        cursor = con.execute("SELECT * FROM ingest_audit ORDER BY source, batch_id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        con.close()


def report_dict(report: BatchReport) -> dict:
    """A batch report as a plain dict."""
    return asdict(report)
