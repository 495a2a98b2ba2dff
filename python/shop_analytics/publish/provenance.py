"""Facts about a build recorded in `_publication`: git revision and build time."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path


def git_revision(project_dir: Path) -> str:
    """`HEAD`'s commit, with `-dirty` if tracked files changed; `unknown` outside a git checkout."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(project_dir), *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        revision = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{revision}-dirty" if dirty else revision


def utc_now() -> dt.datetime:
    """Now as naive UTC (the warehouse stores naive UTC timestamps)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def modified_at(path: Path) -> dt.datetime:
    """A file's modification time as naive UTC: when dbt last wrote the build file."""
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(tzinfo=None, microsecond=0)
