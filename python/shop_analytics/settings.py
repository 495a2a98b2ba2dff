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
- SHOP_ANALYTICS_INGEST_CONFIG (./ingest.yml): ingest's per-source settings (timestamp format, time zone,
  validity window, quarantine threshold, default currency; IngestConfig below). A missing file means the
  documented defaults. A batch may override some of them with its own ``_batch.yml`` (batch_settings).
- SHOP_ANALYTICS_TARGET and SHOP_ANALYTICS_DBT_THREADS are read by dbt alone (profiles.yml).
- SHOP_ANALYTICS_SPARK_DIR (warehouse/spark), SHOP_ANALYTICS_SPARK_PORT (10001),
  SHOP_ANALYTICS_SPARK_START_TIMEOUT (180 seconds): `shop-analytics spark-server`, the local Spark Thrift
  Server's state folder (warehouse, metastore, pid file, log), port and start-up limit (SparkServerSettings).
  dbt's `spark` target reads SHOP_ANALYTICS_SPARK_PORT too, with SHOP_ANALYTICS_SPARK_HOST,
  SHOP_ANALYTICS_SPARK_METHOD and SHOP_ANALYTICS_SPARK_SCHEMA (profiles.yml, docs/spark.md).

An empty variable counts as unset. Settings are read when asked for (`Settings.from_env()`),
never cached, so a process sees the environment it has at that moment.

Ingest always writes the lake at ``<data dir>/lake`` (its catalog addresses the lake's files
relative to the data root); SHOP_ANALYTICS_LAKE_DIR only tells dbt where to read. Left unset, it
follows the data dir in Python and in dbt alike, so setting only SHOP_ANALYTICS_DATA_DIR makes
ingest and dbt agree.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

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
INGEST_CONFIG_ENV = "SHOP_ANALYTICS_INGEST_CONFIG"
SPARK_DIR_ENV = "SHOP_ANALYTICS_SPARK_DIR"
SPARK_PORT_ENV = "SHOP_ANALYTICS_SPARK_PORT"
SPARK_START_TIMEOUT_ENV = "SHOP_ANALYTICS_SPARK_START_TIMEOUT"

DEFAULT_DATA_DIR = "data"
DEFAULT_INGEST_CONFIG = "ingest.yml"
DEFAULT_WAREHOUSE = "warehouse/shop_analytics.duckdb"
DEFAULT_PUBLISH_SCHEMAS: tuple[str, ...] = ("marts", "reference")
DEFAULT_MEMORY_LIMIT = "4GB"
DEFAULT_DUCKDB_THREADS = 2
DEFAULT_READER_MEMORY_LIMIT = "2GB"
DEFAULT_READER_TEMP_LIMIT = "4GB"
DEFAULT_SPARK_DIR = "warehouse/spark"
DEFAULT_SPARK_PORT = 10001
DEFAULT_SPARK_START_TIMEOUT = 180


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
    ingest_config: Path  # per-source ingest settings (absent file: the documented defaults)

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
            ingest_config=Path(get(INGEST_CONFIG_ENV) or DEFAULT_INGEST_CONFIG).resolve(),
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
class SparkServerSettings:
    """The local Spark Thrift Server of `shop-analytics spark-server` (docs/spark.md)."""

    state_dir: Path  # warehouse/, metastore/, logs, pid file: git-ignored under warehouse/ by default
    port: int
    start_timeout_s: int
    java_home: Path | None = None  # $JAVA_HOME: the Java spark-submit runs (else the java on PATH)
    # The environment the server process starts from (PATH, proxies, SPARK_* of the user).
    environment: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SparkServerSettings:
        """Settings from `environ` (default: this process's environment); the folder made absolute."""
        env = os.environ if environ is None else environ
        port = _positive_int(SPARK_PORT_ENV, env.get(SPARK_PORT_ENV) or None, DEFAULT_SPARK_PORT)
        if port > 65535:
            raise ValueError(f"{SPARK_PORT_ENV} must be a TCP port (1-65535), got {port}")
        return cls(
            state_dir=Path(env.get(SPARK_DIR_ENV) or DEFAULT_SPARK_DIR).resolve(),
            port=port,
            start_timeout_s=_positive_int(
                SPARK_START_TIMEOUT_ENV, env.get(SPARK_START_TIMEOUT_ENV) or None, DEFAULT_SPARK_START_TIMEOUT
            ),
            java_home=Path(env["JAVA_HOME"]) if env.get("JAVA_HOME") else None,
            environment=dict(env),
        )


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
    def key_filters(self) -> Path:
        """The catalog's Bloom filter checkpoints, one file per source (ingest/seen.py)."""
        return self.root / "ingest_key_filters"

    @property
    def staging_area(self) -> Path:
        """Scratch space for files being written; renamed into place when complete."""
        return self.root / "_tmp"


# ---- Per-source ingest settings: ingest.yml, and a batch's own _batch.yml ----------------------------

TIMESTAMP_FORMATS: tuple[str, ...] = ("iso8601", "epoch_s", "epoch_ms")
SOURCE_KEYS = ("timestamp_format", "time_zone", "earliest", "max_future", "max_quarantine_share", "default_currency")
BATCH_KEYS = ("timestamp_format", "time_zone", "default_currency")  # what a _batch.yml may override
_DURATION = re.compile(r"\s*(\d+)\s*(day|days|hour|hours|minute|minutes)\s*")
_CURRENCY = re.compile(r"[A-Z]{3}")
MAX_SETTINGS_BYTES = 65536


class IngestConfigError(ValueError):
    """An ingest.yml or _batch.yml that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class SourceIngestSettings:
    """How one source's batches are read and judged (docs/quality_gate.md, "Per-source settings")."""

    timestamp_format: str = "iso8601"  # iso8601 (offsets honoured; naive = time_zone), epoch_s or epoch_ms
    time_zone: str = "UTC"  # IANA name: the zone of naive local timestamps
    earliest: dt.date = dt.date(1970, 1, 1)  # the first plausible event date (inclusive, UTC)
    max_future: dt.timedelta = dt.timedelta(days=1)  # how far past the run's start an event time may lie
    max_quarantine_share: float = 0.05  # a batch quarantining more (or every row) makes ingest exit non-zero
    default_currency: str = "USD"  # the currency of items.price when price_currency is NULL

    def overridden(
        self, values: Mapping[str, Any], where: str, allowed: tuple[str, ...] = SOURCE_KEYS
    ) -> SourceIngestSettings:
        """These settings with `values` applied (validated; `where` names the file and section in errors)."""
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise IngestConfigError(f"{where}: unknown key(s) {unknown}; expected some of {list(allowed)}")
        changes: dict[str, Any] = {}
        for key, value in values.items():
            changes[key] = _parse_setting(key, value, f"{where}: {key}")
        return replace(self, **changes)


def _parse_setting(key: str, value: Any, where: str) -> Any:
    if key == "timestamp_format":
        if value not in TIMESTAMP_FORMATS:
            raise IngestConfigError(f"{where} is {value!r}; expected one of {list(TIMESTAMP_FORMATS)}")
        return value
    if key == "time_zone":
        return _time_zone(value, where)
    if key == "earliest":
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date | str):
            raise IngestConfigError(f"{where} is {value!r}; expected a date YYYY-MM-DD")
        try:
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
        except ValueError as exc:
            raise IngestConfigError(f"{where} is {value!r}; expected a date YYYY-MM-DD") from exc
    if key == "max_future":
        match = _DURATION.fullmatch(str(value))
        if match is None:
            raise IngestConfigError(f"{where} is {value!r}; expected a duration such as '1 day', '12 hours'")
        unit = match.group(2).rstrip("s") + "s"
        return dt.timedelta(**{unit: int(match.group(1))})
    if key == "max_quarantine_share":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise IngestConfigError(f"{where} is {value!r}; expected a number between 0 and 1")
        return float(value)
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise IngestConfigError(f"{where} is {value!r}; expected an ISO 4217 code such as 'USD'")
    return value


def _time_zone(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or value != value.strip():
        raise IngestConfigError(f"{where} is {value!r}; expected an IANA time zone name such as 'Europe/Berlin'")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise IngestConfigError(
            f"{where} is {value!r}, not an IANA time zone name (e.g. 'UTC', 'Europe/Berlin', 'America/New_York')"
        ) from exc
    return value


@dataclass(frozen=True)
class IngestConfig:
    """ingest.yml: documented defaults, then a `defaults:` section, then one section per source."""

    path: Path | None  # None: no file, the documented defaults apply
    defaults: SourceIngestSettings = field(default_factory=SourceIngestSettings)
    sources: Mapping[str, SourceIngestSettings] = field(default_factory=dict)

    def for_source(self, name: str) -> SourceIngestSettings:
        """The settings of source `name`: its section, else the defaults."""
        return self.sources.get(name, self.defaults)

    @classmethod
    def load(cls, path: Path | None, known_sources: tuple[str, ...] = ()) -> IngestConfig:
        """Read `path` (None or a missing file: the documented defaults); IngestConfigError if it is malformed."""
        if path is None or not Path(path).exists():
            return cls(None)
        path = Path(path)
        data = _yaml_mapping(path.read_bytes(), str(path))
        unknown = sorted(set(data) - {"defaults", "sources"})
        if unknown:
            raise IngestConfigError(f"{path}: unknown top-level key(s) {unknown}; expected 'defaults' and 'sources'")
        defaults = SourceIngestSettings().overridden(_section(data, "defaults", str(path)), f"{path} defaults")
        sections = _section(data, "sources", str(path))
        strange = sorted(str(s) for s in sections if known_sources and s not in known_sources)
        if strange:
            raise IngestConfigError(
                f"{path} sources: unknown source(s) {strange}; expected some of {list(known_sources)}"
            )
        sources = {
            str(name): defaults.overridden(_section(sections, name, f"{path} sources"), f"{path} sources.{name}")
            for name in sections
        }
        return cls(path, defaults, sources)


def batch_settings(base: SourceIngestSettings, text: bytes, where: str) -> SourceIngestSettings:
    """`base` with a batch's _batch.yml (`text`) applied: only timestamp_format, time_zone and default_currency."""
    return base.overridden(_yaml_mapping(text, where), where, BATCH_KEYS)


def _yaml_mapping(text: bytes, where: str) -> dict[Any, Any]:
    if len(text) > MAX_SETTINGS_BYTES:
        raise IngestConfigError(
            f"{where}: {len(text)} bytes, more than the {MAX_SETTINGS_BYTES} a settings file may have"
        )
    try:
        data = yaml.safe_load(text.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise IngestConfigError(f"{where}: not valid UTF-8 YAML: {str(exc).splitlines()[0]}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise IngestConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    return data


def _section(data: Mapping[Any, Any], key: str, where: str) -> dict[Any, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise IngestConfigError(f"{where}: {key} must be a mapping, got {type(value).__name__}")
    return value
