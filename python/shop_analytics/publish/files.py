"""Atomic file-system moves: durable renames, hard-link swaps and symlink swaps (POSIX)."""

from __future__ import annotations

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


def swap_in_file(source: Path, target: Path) -> None:
    """Make `target` name the same file as `source`, atomically: readers see the old or the new file.

    A hard link shares the kept version's inode, so publishing costs no copy; where hard links
    are unavailable the file is copied to a temporary name first. `os.replace` leaves processes
    that have the old file open reading the old inode.
    """
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copy2(source, temporary)
        fsync_path(temporary)
    os.replace(temporary, target)
    fsync_path(target.parent)


def swap_in_symlink(target_name: str, link: Path) -> None:
    """Point symlink `link` at `target_name` (relative to its folder), atomically."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    os.symlink(target_name, temporary)
    os.replace(temporary, link)
    fsync_path(link.parent)
