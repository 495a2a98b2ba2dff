"""`shop-analytics import`: a foreign CSV, Parquet or JSON file plus a mapping file -> a landing batch (docs/import.md).

Read (reader.py: text, exactly) -> map (mapping.py: validated strictly; transform.py:
renames, constants, value maps, derivations, strptime to ISO 8601) -> write atomically
(landing.py), or put the batches through the real gate on a scratch copy of the data
dir (dry_run.py). The gate stays the one place that judges and normalizes values.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shop_analytics.importing.accepted import GateView, load_ingest_config, run_start
from shop_analytics.importing.dry_run import DryRunResult, dry_run
from shop_analytics.importing.landing import WrittenBatch, check_batch_id, write_batches
from shop_analytics.importing.mapping import ImportMapping, MappingError, load_mapping
from shop_analytics.importing.reader import InputError, InputTable, read_input
from shop_analytics.importing.transform import PlannedBatch, plan_batches
from shop_analytics.ingest import IngestSettings
from shop_analytics.quality.currencies import DEFAULT_SEED
from shop_analytics.settings import Settings
from shop_analytics.sql import quote_literal

__all__ = [
    "ImportResult",
    "InputError",
    "MappingError",
    "PreparedImport",
    "default_batch_id",
    "import_file",
    "prepare_import",
]


@dataclass(frozen=True)
class PreparedImport:
    """An input file read and mapped, ready to write or to dry-run."""

    mapping: ImportMapping
    table: InputTable
    planned: list[PlannedBatch]
    batch_id: str

    @property
    def provenance(self) -> str:
        """Where the batch came from, for its _batch.yml."""
        return f"{self.table.path.name} with mapping {self.mapping.path.name}"


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote (or, in a dry run, what the gate would do with it)."""

    prepared: PreparedImport
    written: list[WrittenBatch]
    dry_run: DryRunResult | None = None


def default_batch_id(now: dt.datetime | None = None) -> str:
    """`import-YYYYMMDDTHHMMSSZ` (UTC): sorts in time order, within the batch id grammar."""
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("import-%Y%m%dT%H%M%SZ")


def prepare_import(
    con: duckdb.DuckDBPyConnection,
    input_file: Path,
    mapping_file: Path,
    source: str,
    batch_id: str | None,
    view: GateView,
) -> PreparedImport:
    """Validate the mapping and the batch id, read the input, plan the batches (nothing written yet)."""
    batch = batch_id if batch_id is not None else default_batch_id()
    check_batch_id(batch)
    mapping = load_mapping(mapping_file, source)
    table = read_input(con, input_file, mapping)
    return PreparedImport(mapping, table, plan_batches(con, table, mapping, view), batch)


def gate_view(settings_env: Settings, ingest_settings: IngestSettings | None) -> GateView:
    """What the gate will judge the dimension batches with: the dry run's ingest settings, else ingest.yml's."""
    if ingest_settings is None:
        return GateView(load_ingest_config(settings_env.ingest_config), DEFAULT_SEED, run_start())
    config = ingest_settings.config or load_ingest_config(settings_env.ingest_config)
    return GateView(config, ingest_settings.currencies_csv, run_start(ingest_settings.today))


def import_file(
    input_file: Path,
    mapping_file: Path,
    source: str,
    landing: Path,
    batch_id: str | None = None,
    dry_run_data_dir: Path | None = None,
    ingest_settings: IngestSettings | None = None,
) -> ImportResult:
    """Import `input_file` as `source` into `landing`, or, with `dry_run_data_dir`, gate it on a scratch copy.

    `ingest_settings` (the dry run's gate; also what derived dimension attributes are checked against):
    default, ingest.yml as Settings.from_env() names it and seeds/currencies.csv.
    """
    settings_env = Settings.from_env()
    if settings_env.temp_dir is not None:
        Path(settings_env.temp_dir).mkdir(parents=True, exist_ok=True)
    spill = Path(tempfile.mkdtemp(prefix="shop-analytics-import-", dir=settings_env.temp_dir))
    con = duckdb.connect()
    try:
        # Bounded memory: the input is held as tables that spill to disk beyond the limit.
        con.execute(f"SET memory_limit = {quote_literal(settings_env.memory_limit)}")
        con.execute(f"SET temp_directory = {quote_literal(str(spill))}")
        view = gate_view(settings_env, ingest_settings)
        prepared = prepare_import(con, Path(input_file), Path(mapping_file), source, batch_id, view)
        settings = prepared.mapping.batch_settings()
        if dry_run_data_dir is not None:
            result = dry_run(
                con,
                prepared.planned,
                prepared.batch_id,
                settings,
                prepared.provenance,
                dry_run_data_dir,
                ingest_settings or IngestSettings(progress=False),
                Path(landing),
            )
            return ImportResult(prepared, [], result)
        written = write_batches(con, Path(landing), prepared.batch_id, prepared.planned, settings, prepared.provenance)
        return ImportResult(prepared, written)
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
