"""The one module that reads the environment: every SHOP_ANALYTICS_* setting, and the data root's folders.

Each variable, its default, and what reads it:

- SHOP_ANALYTICS_DATA_DIR (./data): generate, ingest, the demo summary; dbt, for the lake's default.
- SHOP_ANALYTICS_LAKE_DIR (<data dir>/lake): the lake dbt's sources read (models/staging/_shop__sources.yml
  derives the same default).
- SHOP_ANALYTICS_WAREHOUSE (warehouse/shop_analytics.duckdb): the dbt build file; check, publish, dbt.
- SHOP_ANALYTICS_SERVING_ROOT (the build file's folder): where publish writes serving/ and exports/.
- SHOP_ANALYTICS_PUBLISH_SCHEMAS (marts,reference): what check and publish cover.
- SHOP_ANALYTICS_MEMORY_LIMIT (4GB), SHOP_ANALYTICS_DUCKDB_THREADS (2), SHOP_ANALYTICS_TEMP_DIR (DuckDB's
  default): check and publish reading the build file, and dbt building it (profiles.yml, where the
  temp dir defaults to warehouse/tmp).
- SHOP_ANALYTICS_READER_MEMORY_LIMIT (2GB), SHOP_ANALYTICS_READER_TEMP_LIMIT (4GB),
  SHOP_ANALYTICS_READER_TEMP_DIR (<system temp>/shop_analytics-spill-<uid>): safe readers of the
  serving file (docs/serving.md, "Safe readers").
- SHOP_ANALYTICS_INGEST_CRASH_AT, SHOP_ANALYTICS_INGEST_FAIL_AT, SHOP_ANALYTICS_INGEST_CRASH_AFTER_RENAMES
  (unset): ingest's fault hooks, for tests only (ingest/lake_files.py).
- SHOP_ANALYTICS_TARGET and SHOP_ANALYTICS_DBT_THREADS are read by dbt alone (profiles.yml).

An empty variable counts as unset. Settings are read when asked for (`Settings.from_env()`),
never cached, so a process sees the environment it has at that moment.

Ingest always writes the lake at ``<data dir>/lake`` (its catalog addresses the lake's files
relative to the data root); SHOP_ANALYTICS_LAKE_DIR only tells dbt where to read. Left unset, it
follows the data dir in Python and in dbt alike, so setting only SHOP_ANALYTICS_DATA_DIR makes
ingest and dbt agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "SHOP_ANALYTICS_DATA_DIR"
LAKE_DIR_ENV = "SHOP_ANALYTICS_LAKE_DIR"
WAREHOUSE_ENV = "SHOP_ANALYTICS_WAREHOUSE"
SERVING_ROOT_ENV = "SHOP_ANALYTICS_SERVING_ROOT"
PUBLISH_SCHEMAS_ENV = "SHOP_ANALYTICS_PUBLISH_SCHEMAS"
MEMORY_LIMIT_ENV = "SHOP_ANALYTICS_MEMORY_LIMIT"
DUCKDB_THREADS_ENV = "SHOP_ANALYTICS_DUCKDB_THREADS"
TEMP_DIR_ENV = "SHOP_ANALYTICS_TEMP_DIR"
READER_MEMORY_LIMIT_ENV = "SHOP_ANALYTICS_READER_MEMORY_LIMIT"
READER_TEMP_LIMIT_ENV = "SHOP_ANALYTICS_READER_TEMP_LIMIT"
READER_TEMP_DIR_ENV = "SHOP_ANALYTICS_READER_TEMP_DIR"
INGEST_CRASH_AT_ENV = "SHOP_ANALYTICS_INGEST_CRASH_AT"
INGEST_FAIL_AT_ENV = "SHOP_ANALYTICS_INGEST_FAIL_AT"
INGEST_CRASH_AFTER_RENAMES_ENV = "SHOP_ANALYTICS_INGEST_CRASH_AFTER_RENAMES"

DEFAULT_DATA_DIR = "data"
DEFAULT_WAREHOUSE = "warehouse/shop_analytics.duckdb"
DEFAULT_PUBLISH_SCHEMAS: tuple[str, ...] = ("marts", "reference")
DEFAULT_MEMORY_LIMIT = "4GB"
DEFAULT_DUCKDB_THREADS = 2
DEFAULT_READER_MEMORY_LIMIT = "2GB"
DEFAULT_READER_TEMP_LIMIT = "4GB"


@dataclass(frozen=True)
class Settings:
    """Every setting the environment gives, with its default applied (see the module docstring)."""

    data_dir: Path
    lake_dir: Path
    warehouse: Path
    serving_root: Path | None  # None: the folder of the build file being published
    publish_schemas: tuple[str, ...]
    memory_limit: str
    duckdb_threads: int
    temp_dir: str | None
    reader_memory_limit: str
    reader_temp_limit: str
    reader_temp_dir: str | None
    ingest_crash_at: str | None  # <point>[:<n>], see ingest/lake_files.py
    ingest_fail_at: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default: this process's environment); relative paths made absolute."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env.get(name) or None

        data_dir = Path(get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).resolve()
        lake = get(LAKE_DIR_ENV)
        serving_root = get(SERVING_ROOT_ENV)
        schemas = tuple(s.strip() for s in (get(PUBLISH_SCHEMAS_ENV) or "").split(",") if s.strip())
        after_renames = get(INGEST_CRASH_AFTER_RENAMES_ENV)
        return cls(
            data_dir=data_dir,
            lake_dir=Path(lake).resolve() if lake else data_dir / "lake",
            warehouse=Path(get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).resolve(),
            serving_root=Path(serving_root).resolve() if serving_root else None,
            publish_schemas=schemas or DEFAULT_PUBLISH_SCHEMAS,
            memory_limit=get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT,
            duckdb_threads=_positive_int(DUCKDB_THREADS_ENV, get(DUCKDB_THREADS_ENV), DEFAULT_DUCKDB_THREADS),
            temp_dir=get(TEMP_DIR_ENV),
            reader_memory_limit=get(READER_MEMORY_LIMIT_ENV) or DEFAULT_READER_MEMORY_LIMIT,
            reader_temp_limit=get(READER_TEMP_LIMIT_ENV) or DEFAULT_READER_TEMP_LIMIT,
            reader_temp_dir=get(READER_TEMP_DIR_ENV),
            ingest_crash_at=get(INGEST_CRASH_AT_ENV) or (f"rename:{after_renames}" if after_renames else None),
            ingest_fail_at=get(INGEST_FAIL_AT_ENV),
        )


def _positive_int(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return number


@dataclass(frozen=True)
class DataLayout:
    """Folders under one data root (default ``./data``, or $SHOP_ANALYTICS_DATA_DIR)."""

    root: Path

    @classmethod
    def from_env(cls, root: str | os.PathLike[str] | None = None) -> DataLayout:
        """Layout at `root`, else $SHOP_ANALYTICS_DATA_DIR, else ./data (made absolute)."""
        return cls(Path(root).resolve()) if root else cls(Settings.from_env().data_dir)

    @property
    def landing(self) -> Path:
        """Raw batches as delivered: ``<source>/batch_date=YYYY-MM-DD/*``."""
        return self.root / "landing"

    @property
    def lake(self) -> Path:
        """Admitted rows: facts in ``<source>/event_date=YYYY-MM-DD/``, dimensions in ``<source>/``."""
        return self.root / "lake"

    @property
    def quarantine(self) -> Path:
        """Rejected rows with reasons: ``<source>/<batch_id>/``."""
        return self.root / "quarantine"

    @property
    def catalog(self) -> Path:
        """Ingest state (audit, seen keys): a DuckDB file that dbt never opens."""
        return self.root / "ingest_catalog.duckdb"

    @property
    def staging_area(self) -> Path:
        """Scratch space for files being written; renamed into place when complete."""
        return self.root / "_tmp"
