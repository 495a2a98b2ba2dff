"""Where readers spill, and the spill folders that readers left in serving/.

DuckDB spills to `temp_directory`, by default `<database file>.tmp` next to the file: a reader
of the serving file opened without the recommended settings spills into serving/, where a
large TEMP table can fill the disk that publish needs. The recommended readers spill instead
to a private folder per process under the system temp folder (DuckDB 1.5 names its spill
files the same in every process, so processes must not share one), capped by
max_temp_directory_size. DuckDB removes its spill folder when it closes; a killed reader
leaves it behind, and the next reader (for the private folders) or the next publish (for
serving/) removes it once no process has a file in it open.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from shop_analytics.processes import pid_alive

SPILL_FILE_PREFIX = "duckdb_temp_"  # every file DuckDB writes to a temp_directory starts with it
_READER_DIR = re.compile(r"^(\d+)-[0-9a-f]{12}$")
PROC = Path("/proc")


@dataclass(frozen=True)
class StaleSpills:
    """What publish found in serving/: folders removed, folders still in use (with a pid), bytes freed."""

    removed: list[Path]
    in_use: list[tuple[Path, int]]
    freed_bytes: int


def private_spill_root(configured: str | None = None) -> Path:
    """The per-user folder holding readers' spill folders: made 0700, refused if anyone else owns it."""
    root = Path(configured) if configured else Path(tempfile.gettempdir()) / f"shop_analytics-spill-{os.getuid()}"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(
            f"refusing to spill into {root}: it must be a folder owned by you with mode 0700 "
            "(set SHOP_ANALYTICS_READER_TEMP_DIR to another folder)"
        )
    return root


def reader_spill_dir(root: Path, database: Path) -> Path:
    """This process's spill folder for `database`: `<root>/<pid>-<hash of the file's path>` (created by DuckDB).

    Fixed per process and file, because DuckDB shares one instance per file within a process
    and refuses a second connection with a different configuration.
    """
    digest = hashlib.sha256(str(database.resolve()).encode()).hexdigest()[:12]
    return root / f"{os.getpid()}-{digest}"


def sweep_dead_readers(root: Path) -> list[Path]:
    """Remove spill folders under `root` whose process has exited (a killed reader's leftovers)."""
    removed = []
    for folder in _subdirs(root):
        match = _READER_DIR.match(folder.name)
        if match and not pid_alive(int(match.group(1))) and _only_spill_files(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def clear_stale_spills(serving_dirs: Iterable[Path]) -> StaleSpills:
    """Remove DuckDB spill folders (`*.tmp` holding only spill files) in `serving_dirs` that no process uses.

    A folder some process still has a file open in is left alone and reported; where open files
    cannot be listed (no /proc), nothing is removed.
    """
    candidates = [
        f
        for d in serving_dirs
        for f in _subdirs(d)
        if f.name.endswith(".tmp") and not f.name.startswith(".") and _only_spill_files(f)
    ]
    if not candidates:
        return StaleSpills([], [], 0)
    users = _open_file_users(candidates)
    removed, in_use, freed = [], [], 0
    for folder in candidates:
        if users is None or folder in users:
            in_use.append((folder, users[folder] if users else -1))
            continue
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        shutil.rmtree(folder)
        removed.append(folder)
        freed += size
    return StaleSpills(removed, in_use, freed)


def _subdirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()]


def _only_spill_files(folder: Path) -> bool:
    try:
        return all(
            p.is_file() and not p.is_symlink() and p.name.startswith(SPILL_FILE_PREFIX) for p in folder.iterdir()
        )
    except OSError:
        return False


def _open_file_users(folders: list[Path]) -> dict[Path, int] | None:
    """Folder -> a pid that has a file in it open, from /proc/<pid>/fd; None where /proc is missing.

    Only processes whose fds this user can read are seen. A reader running as another user
    cannot have created a spill folder in a serving/ it may not write to.
    """
    if not (PROC / "self" / "fd").is_dir():
        return None
    resolved = {str(f.resolve()) + os.sep: f for f in folders}
    users: dict[Path, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            for prefix, folder in resolved.items():
                if target.startswith(prefix):
                    users.setdefault(folder, int(entry.name))
    return users
