"""Atomic file-system moves: durable renames, hard-link swaps and symlink swaps (POSIX)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under `root` (before the folder is renamed into place)."""
    for folder, _, names in os.walk(root):
        for name in names:
            fsync_path(Path(folder) / name)
        fsync_path(Path(folder))


# Hard links fail with these when the file system cannot link (or not this file); anything else,
# such as ENOSPC or EIO, is a real error and must not turn into a full copy of the file.
_NO_HARD_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


def stage_file(source: Path, target: Path) -> Path:
    """A temporary name next to `target` for the same file as `source` (a hard link, or a copy).

    Nothing is left behind on failure. `commit` renames it over `target`.
    """
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        try:
            os.link(source, temporary)
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINK:
                raise
            shutil.copy2(source, temporary)
            fsync_path(temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def stage_symlink(target_name: str, link: Path) -> Path:
    """A temporary symlink to `target_name` next to `link`; `commit` renames it over `link`."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    os.symlink(target_name, temporary)
    return temporary


def commit(temporary: Path, target: Path) -> None:
    """Rename a staged file or symlink over `target` atomically: readers see the old or the new one.

    `os.replace` leaves processes that have the old file open reading the old inode.
    """
    os.replace(temporary, target)
    fsync_path(target.parent)
