"""What one ingest run is given (IngestSettings) and carries from batch to batch (GateRun)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from shop_analytics.ingest import catalog
from shop_analytics.ingest.lake_files import BatchPublisher
from shop_analytics.ingest.seen import SeenKeys
from shop_analytics.quality.contracts import Contract
from shop_analytics.quality.raw_contract import Source
from shop_analytics.settings import (
    DataLayout,
    IngestConfig,
)

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
class GateRun:
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

    def seen_filter(self, source: Source) -> SeenKeys:
        """The event-id filter of `source` (loaded from the catalog once per run)."""
        if source.name not in self.filters:
            self.filters[source.name] = SeenKeys(
                self.con,
                DB,
                source.name,
                self.settings.bloom_capacity,
                self.settings.bloom_fpr,
                self.layout.key_filters,
            )
        return self.filters[source.name]
