"""Safe read-only connections to the serving file, for notebooks, apps and BI tools."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb

from shop_analytics.publish.layout import ServingLayout

# Applied when the connection opens. With external access off a reader cannot read or write
# files, ATTACH other databases or INSTALL/LOAD extensions; the lock stops `SET` from undoing it.
SAFE_READER_CONFIG: dict[str, Any] = {"enable_external_access": False, "lock_configuration": True}

# What to type in the DuckDB shell; its `-safe` flag fails to start in DuckDB 1.5.6 (it locks the
# configuration and then sets extension_directories), so the same settings are applied by -cmd.
SHELL_INIT = "SET enable_external_access = false; SET lock_configuration = true;"


def serving_file(path: str | os.PathLike[str] | None = None) -> Path:
    """`path` if given, else the serving file of the default layout."""
    return Path(path) if path is not None else ServingLayout.from_env().serving_file


def connect_serving(path: str | os.PathLike[str] | None = None, **config: Any) -> duckdb.DuckDBPyConnection:
    """Open the serving file read-only with external access off and the configuration locked.

    Extra `config` (e.g. ``threads=4, memory_limit="2GB"``) is applied before the lock.
    Within one process DuckDB shares one database instance per file while any connection is
    open, so a process sees a newer publication once all its connections were closed.
    """
    target = serving_file(path)
    if not target.exists():
        raise FileNotFoundError(f"no serving file at {target}; run `shop-analytics publish` first")
    return duckdb.connect(str(target), read_only=True, config={**config, **SAFE_READER_CONFIG})


def sqlalchemy_url(path: str | os.PathLike[str] | None = None) -> str:
    """`duckdb:////abs/path/shop_analytics.duckdb` for duckdb-engine (Superset, pandas, notebooks)."""
    return f"duckdb:///{serving_file(path).resolve()}"


def sqlalchemy_connect_args() -> dict[str, Any]:
    """The `connect_args` that make duckdb-engine connections read-only and safe."""
    return {"read_only": True, "config": dict(SAFE_READER_CONFIG)}


def shell_command(path: str | os.PathLike[str] | None = None, duckdb_bin: str = "duckdb") -> list[str]:
    """argv for the DuckDB shell opened read-only and safe on the serving file."""
    return [duckdb_bin, "-readonly", "-cmd", SHELL_INIT, str(serving_file(path))]
