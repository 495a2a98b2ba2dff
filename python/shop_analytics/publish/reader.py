"""Safe, bounded read-only connections to the serving file, for notebooks, apps, BI tools and the shell.

Safe: read-only, external access off (no files, no ATTACH, no extensions), configuration locked.
Bounded: a memory limit, and spilling to a private folder per process outside serving/,
capped by max_temp_directory_size (docs/serving.md, "Safe readers").
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from shop_analytics.publish.layout import ServingLayout
from shop_analytics.publish.spill import private_spill_root, reader_spill_dir, sweep_dead_readers
from shop_analytics.settings import DEFAULT_READER_MEMORY_LIMIT, DEFAULT_READER_TEMP_LIMIT, Settings
from shop_analytics.sql import one_row, quote_literal

# For clients that take only a static configuration (SQLAlchemy engine parameters, BI tools).
# DuckDB 1.5.6 refuses a temp_directory next to enable_external_access = false in the same
# configuration, so these readers spill next to the serving file (which publish cleans up).
SAFE_READER_CONFIG: dict[str, Any] = {"enable_external_access": False, "lock_configuration": True}


@dataclass(frozen=True)
class ReaderLimits:
    """How much memory and spill space one reader process may use, and the folder its spill goes under."""

    memory_limit: str = DEFAULT_READER_MEMORY_LIMIT
    max_temp_directory_size: str = DEFAULT_READER_TEMP_LIMIT
    temp_root: str | None = None  # default: <system temp>/shop_analytics-spill-<uid>

    @classmethod
    def from_env(cls) -> ReaderLimits:
        """$SHOP_ANALYTICS_READER_MEMORY_LIMIT, _TEMP_LIMIT and _TEMP_DIR, else the defaults."""
        settings = Settings.from_env()
        return cls(settings.reader_memory_limit, settings.reader_temp_limit, settings.reader_temp_dir)

    def spill_dir(self, database: Path) -> Path:
        """This process's private spill folder for `database`, after sweeping dead readers' leftovers."""
        root = private_spill_root(self.temp_root)
        sweep_dead_readers(root)
        return reader_spill_dir(root, database)


def serving_file(path: str | os.PathLike[str] | None = None) -> Path:
    """`path` if given, else the serving file of the default layout."""
    return Path(path) if path is not None else ServingLayout.from_env().serving_file


def connect_serving(
    path: str | os.PathLike[str] | None = None, *, limits: ReaderLimits | None = None, **config: Any
) -> duckdb.DuckDBPyConnection:
    """Open the serving file read-only, safe (external access off, configuration locked) and bounded.

    Extra `config` (e.g. ``threads=4``) is applied before the lock. Within one process DuckDB
    shares one database instance per file while any connection is open, so a process sees a
    newer publication once all its connections were closed.
    """
    target = serving_file(path)
    if not target.exists():
        raise FileNotFoundError(f"no serving file at {target}; run `shop-analytics publish` first")
    limits = limits or ReaderLimits.from_env()
    con = duckdb.connect(
        str(target),
        read_only=True,
        config={"memory_limit": limits.memory_limit, **config, "temp_directory": str(limits.spill_dir(target))},
    )
    try:
        # Set after connecting: DuckDB 1.5.6 shows but does not enforce a max_temp_directory_size
        # given at connect time, and refuses temp_directory once external access is off.
        if not one_row(con, "SELECT current_setting('lock_configuration')")[0]:
            con.execute(
                f"SET max_temp_directory_size = {quote_literal(limits.max_temp_directory_size)}; "
                "SET enable_external_access = false; SET lock_configuration = true"
            )
        elif one_row(con, "SELECT current_setting('enable_external_access')")[0]:
            raise PermissionError(f"{target} is already open in this process with external access on")
    except BaseException:
        con.close()
        raise
    return con


def sqlalchemy_url(path: str | os.PathLike[str] | None = None) -> str:
    """`duckdb:////abs/path/shop_analytics.duckdb` for duckdb-engine (Superset, pandas, notebooks)."""
    return f"duckdb:///{serving_file(path).resolve()}"


def sqlalchemy_connect_args(limits: ReaderLimits | None = None) -> dict[str, Any]:
    """The `connect_args` that make duckdb-engine connections read-only, safe and memory-bounded."""
    limits = limits or ReaderLimits.from_env()
    return {"read_only": True, "config": {"memory_limit": limits.memory_limit, **SAFE_READER_CONFIG}}


def default_duckdb_bin() -> str:
    """The DuckDB shell next to this Python (the project's .venv), else `duckdb` on PATH."""
    beside = Path(sys.executable).with_name("duckdb")
    return str(beside) if beside.exists() else (shutil.which("duckdb") or "duckdb")


def shell_command(
    path: str | os.PathLike[str] | None = None,
    duckdb_bin: str = "duckdb",
    *,
    limits: ReaderLimits | None = None,
    spill_dir: Path | None = None,
) -> list[str]:
    """argv for the DuckDB shell opened read-only, in safe mode and bounded, on the serving file.

    The limits are SET first, then `.safe_mode` turns off external access, locks the
    configuration and disables the dot commands that touch files or run programs (.open, .sh,
    .system, .read, .output, .once, .log, .import, .cd, .excel). The shell's own `-safe` flag
    cannot be combined with any SET, and the pip `duckdb` launcher sets extension_directories,
    which `-safe` then refuses. `-no-init` keeps ~/.duckdbrc from running before safe mode.
    """
    target = serving_file(path)
    limits = limits or ReaderLimits.from_env()
    spill = spill_dir or limits.spill_dir(target)
    settings = (
        f"SET memory_limit = {quote_literal(limits.memory_limit)}; SET temp_directory = {quote_literal(str(spill))}; "
        f"SET max_temp_directory_size = {quote_literal(limits.max_temp_directory_size)};"
    )
    return [duckdb_bin, "-no-init", "-readonly", "-cmd", settings, "-cmd", ".safe_mode", str(target)]
