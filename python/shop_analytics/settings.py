"""Where things live on disk: one data root with landing, lake, quarantine and catalog."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "SHOP_ANALYTICS_DATA_DIR"


@dataclass(frozen=True)
class DataLayout:
    """Folders under one data root (default ``./data``, or $SHOP_ANALYTICS_DATA_DIR)."""

    root: Path

    @classmethod
    def from_env(cls, root: str | os.PathLike[str] | None = None) -> "DataLayout":
        """Layout at `root`, else $SHOP_ANALYTICS_DATA_DIR, else ./data (made absolute)."""
        chosen = root or os.environ.get(DATA_DIR_ENV) or "data"
        return cls(Path(chosen).resolve())

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
