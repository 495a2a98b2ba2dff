"""Bounded spill for Superset's DuckDB readers: what a static engine configuration cannot carry.

docs/serving.md: a reader of the serving file should spill into a private folder per process, capped by
max_temp_directory_size, with external access off and the configuration locked. DuckDB 1.5.6 refuses a
temp_directory next to enable_external_access=false in one configuration and does not enforce a
max_temp_directory_size given at connect time, so duckdb-engine's static `connect_args` can only carry
read_only, memory_limit and the two safety settings (and then spills, unbounded, next to the file).

Inside Superset we can do better, in two steps on every connection of a DuckDB database whose
connect_args are read-only with external access off (the provisioned one):
1. `bound_params` (Superset's DB_CONNECTION_MUTATOR, before the engine is made) swaps the two safety
   settings for a private temp_directory: `<root>/<pid>-<hash of the file>`;
2. `on_connect` (a SQLAlchemy pool listener, before the connection is handed out) sets
   max_temp_directory_size, then turns external access off and locks the configuration, and refuses the
   connection unless both hold. A connection joining a DuckDB instance this process already locked is
   checked, not set again.
If neither step runs (this file not loaded), the static settings still apply: safe, spill unbounded.
Settings: $SHOP_ANALYTICS_READER_TEMP_DIR (root; default <system temp>/shop_analytics-spill-<uid>, 0700)
and $SHOP_ANALYTICS_READER_TEMP_LIMIT (default 4GB), as for the project's other readers.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import shutil
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

TEMP_DIR_ENV = "SHOP_ANALYTICS_READER_TEMP_DIR"
TEMP_LIMIT_ENV = "SHOP_ANALYTICS_READER_TEMP_LIMIT"
DEFAULT_TEMP_LIMIT = "4GB"
SAFETY = ("enable_external_access", "lock_configuration")
_SIZE = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
_FOLDER = re.compile(r"^(\d+)-[0-9a-f]{12}$")
# Connections opened at once by Superset's threads share one DuckDB instance: one of them sets and locks,
# the others must see it locked (found by the browser test: an unguarded check-then-set raced).
_LOCKING = threading.Lock()


def _root_path() -> Path:
    configured = os.environ.get(TEMP_DIR_ENV)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / f"shop_analytics-spill-{os.getuid()}"


def spill_root() -> Path:
    """The per-user folder of readers' spill folders: created 0700, refused if anyone else can use it."""
    root = _root_path()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(
            f"refusing to spill into {root}: it must be a folder owned by you with mode 0700 "
            f"(set {TEMP_DIR_ENV} to another folder)"
        )
    return root


def temp_limit() -> str:
    """$SHOP_ANALYTICS_READER_TEMP_LIMIT, checked, else 4GB."""
    value = (os.environ.get(TEMP_LIMIT_ENV) or DEFAULT_TEMP_LIMIT).strip()
    if not _SIZE.match(value):
        raise ValueError(f"{TEMP_LIMIT_ENV}={value!r} is not a size such as 4GB")
    return value


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def spill_dir(database: str) -> Path:
    """This process's folder for `database`, after removing those of readers that have exited."""
    root = spill_root()
    for folder in root.iterdir():
        match = _FOLDER.match(folder.name)
        if match and folder.is_dir() and not folder.is_symlink() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
    digest = hashlib.sha256(str(Path(database).resolve()).encode()).hexdigest()[:12]
    return root / f"{os.getpid()}-{digest}"


def _is_safe_duckdb_reader(url: Any, params: dict[str, Any]) -> bool:
    args = params.get("connect_args") or {}
    config = args.get("config") or {}
    return (
        getattr(url, "drivername", "") == "duckdb"
        and args.get("read_only") is True
        and config.get("enable_external_access") is False
        and bool(url.database)
        and not str(url.database).startswith(":memory:")
    )


def bound_params(url: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Engine parameters with the safety settings swapped for a private temp_directory (see on_connect)."""
    if not _is_safe_duckdb_reader(url, params):
        return params
    bounded = copy.deepcopy(params)
    config = bounded["connect_args"]["config"]
    for key in SAFETY:
        config.pop(key, None)
    config["temp_directory"] = str(spill_dir(url.database))
    return bounded


def _setting(connection: Any, name: str) -> Any:
    return connection.execute("SELECT current_setting(?)", [name]).fetchone()[0]


def on_connect(dbapi_connection: Any, _record: Any) -> None:
    """Cap spill, turn external access off and lock, for connections whose spill folder bound_params set."""
    if not hasattr(dbapi_connection, "execute") or type(dbapi_connection).__module__ != "duckdb_engine":
        return
    temp = Path(str(_setting(dbapi_connection, "temp_directory")))
    if temp.parent != _root_path() or not _FOLDER.match(temp.name):
        return  # not a reader bound_params prepared: leave it as it is
    with _LOCKING:
        if not _setting(dbapi_connection, "lock_configuration"):
            dbapi_connection.execute(f"SET max_temp_directory_size = '{temp_limit()}'")
            dbapi_connection.execute("SET enable_external_access = false")
            dbapi_connection.execute("SET lock_configuration = true")
    if _setting(dbapi_connection, "enable_external_access") or not _setting(dbapi_connection, "lock_configuration"):
        dbapi_connection.close()
        raise PermissionError(f"{temp}: the DuckDB instance is open in this process with external access on")


def install() -> None:
    """Listen on every SQLAlchemy pool's new connections (once per process)."""
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    if not event.contains(Pool, "connect", on_connect):
        event.listen(Pool, "connect", on_connect)
