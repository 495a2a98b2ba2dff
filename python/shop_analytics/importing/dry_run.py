"""The dry run: the batches an import would write, put through the real gate on a scratch copy of the data dir.

The scratch data dir is a hidden folder beside the real one (``.shop-analytics-dry-run-*``,
so the lake can be hard-linked on the same file system; the system's temporary folder
when that is not writable). It holds a copy of the ingest catalog and of the lake (hard links where
the file system allows: ingest never rewrites a lake file in place, it only adds files and
renames), and of the landing folder (linked the same way: ingest only reads it) plus the
import's batches. `shop_analytics.ingest` then runs exactly as `shop-analytics ingest` would
after the import: batches already waiting in landing (a customers file imported before the
orders) are gated too, in the same order, so the import's rows are judged against them. The
report says what the gate would admit and quarantine of the import's batches, per reason,
with example rows from the quarantine, and the exit code the ingest of everything pending
would give. A batch id the landing already holds is refused as the import refuses it. The
scratch folder is removed afterwards: nothing is written to the real landing, lake or catalog.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from shop_analytics.importing.landing import check_batch_id, refuse_existing, write_batches
from shop_analytics.importing.transform import PlannedBatch
from shop_analytics.ingest import IngestSettings, OperationalError, ingest
from shop_analytics.ingest.report import BatchReport, exit_code
from shop_analytics.quality.namespace import GATE_PREFIX, REASONS, ROW_NUMBER
from shop_analytics.settings import DataLayout
from shop_analytics.sql import quote_ident, quote_literal

EXAMPLES_PER_REASON = 3


@dataclass
class DryRunBatch:
    """What the gate would do with one batch of the import."""

    report: BatchReport
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # reason -> example rows (raw text)


@dataclass(frozen=True)
class DryRunResult:
    """The dry run of one import: per batch, and the exit code `shop-analytics ingest` would give."""

    batches: list[DryRunBatch]
    exit_code: int


def dry_run(
    con: duckdb.DuckDBPyConnection,
    planned: list[PlannedBatch],
    batch_id: str,
    batch_settings: dict[str, str],
    provenance: str,
    data_dir: Path,
    settings: IngestSettings,
    landing: Path | None = None,
) -> DryRunResult:
    """Gate `planned` as batch `batch_id` against a scratch copy of `data_dir`; the real data dir is only read.

    `landing`: where the import would write (default: the data dir's landing folder).
    """
    real = DataLayout(Path(data_dir).resolve())
    real_landing = Path(landing).resolve() if landing is not None else real.landing
    check_batch_id(batch_id)
    for batch in planned:  # as the import itself would, naming the real landing folder
        refuse_existing(real_landing, batch.target.name, batch_id)
    scratch_root = _scratch_root(real.root)
    try:
        scratch = DataLayout(scratch_root / "data")
        scratch.root.mkdir()
        _copy_state(real, scratch, real_landing)
        written = write_batches(con, scratch.landing, batch_id, planned, batch_settings, provenance)
        reports = ingest(scratch, settings)
        mine = {(w.source, w.batch_id) for w in written}
        batches = [DryRunBatch(r, _examples(scratch, r)) for r in reports if (r.source, r.batch_id) in mine]
        return DryRunResult(batches, int(exit_code(reports)))
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)


def _scratch_root(data_dir: Path) -> Path:
    """A new hidden folder beside the data dir (same file system: the lake is linked, not copied), else in /tmp."""
    if data_dir.is_dir():
        try:
            return Path(tempfile.mkdtemp(prefix=".shop-analytics-dry-run-", dir=data_dir.parent))
        except OSError:
            pass  # a read-only parent: the system's temporary folder, where the lake is copied
    return Path(tempfile.mkdtemp(prefix="shop-analytics-dry-run-"))


def _copy_state(real: DataLayout, scratch: DataLayout, landing: Path) -> None:
    """The catalog copied (ingest writes it), the lake and `landing` linked or copied file by file: one snapshot.

    A read-only connection to the catalog is held meanwhile: DuckDB then lets no ingest write
    it (or the lake it describes) until the copy is done, and a running ingest is reported.
    """
    if landing.is_dir():
        shutil.copytree(landing, scratch.landing, copy_function=_link_or_copy, symlinks=True)
    if not real.catalog.is_file():
        if real.lake.is_dir():
            shutil.copytree(real.lake, scratch.lake, copy_function=_link_or_copy, symlinks=True)
        return
    try:
        guard = duckdb.connect(str(real.catalog), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise OperationalError(
                f"ingest catalog {real.catalog} is locked (is `shop-analytics ingest` running?); "
                f"run the dry run again when it is done"
            ) from exc
        raise
    try:
        for suffix in ("", ".wal"):
            catalog = real.catalog.with_name(real.catalog.name + suffix)
            if catalog.is_file():
                shutil.copy2(catalog, scratch.catalog.with_name(scratch.catalog.name + suffix))
        if real.lake.is_dir():
            shutil.copytree(real.lake, scratch.lake, copy_function=_link_or_copy, symlinks=True)
    finally:
        guard.close()


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def _examples(scratch: DataLayout, report: BatchReport) -> dict[str, list[dict[str, Any]]]:
    rejected = scratch.quarantine / report.source / report.batch_id / "rejected.parquet"
    if not rejected.is_file():
        return {}
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        scan = f"read_parquet({quote_literal(str(rejected))})"
        names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
        raw_prefix = f"{GATE_PREFIX}raw__"
        shown = [f"{ROW_NUMBER} AS row"]  # the row's position in the batch (0-based), as in quarantine
        for name in names:
            if name.startswith(GATE_PREFIX):
                continue
            raw = raw_prefix + name
            # The text as landed: the converted column is NULL where the conversion failed.
            value = f"coalesce(CAST({quote_ident(raw)} AS VARCHAR), CAST({quote_ident(name)} AS VARCHAR))"
            shown.append(f"{value if raw in names else quote_ident(name)} AS {quote_ident(name)}")
        examples = {}
        for reason in report.quarantined_by_reason:
            cursor = con.execute(
                f"SELECT {', '.join(shown)} FROM {scan} WHERE list_contains({REASONS}, ?) "
                f"ORDER BY {ROW_NUMBER} LIMIT {EXAMPLES_PER_REASON}",
                [reason],
            )
            columns = [d[0] for d in cursor.description or ()]
            examples[reason] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return examples
    finally:
        con.close()
