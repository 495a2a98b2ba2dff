"""Atomic file publication: everything is written under the scratch area, then renamed into place.

dbt reads ``lake/<source>/**/*.parquet``; a file appears there only by ``os.replace``
of a complete file on the same filesystem, so a crash never leaves a half-written
file in a glob. A crash between two renames leaves some complete files of an
uncommitted batch: the next run redoes the batch, first removing that batch's old
files (their names carry the batch id), so it converges to the uninterrupted result.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

# Test hook (tests/test_ingest_atomic.py): SIGKILL this process after N renames.
CRASH_AFTER_ENV = "SHOP_ANALYTICS_INGEST_CRASH_AFTER_RENAMES"


class Publisher:
    """Moves finished files from a scratch folder into the lake or quarantine, one rename each."""

    def __init__(self, scratch_root: Path) -> None:
        self.scratch_root = scratch_root
        crash_after = os.environ.get(CRASH_AFTER_ENV)
        self._crash_after = int(crash_after) if crash_after else None
        self._renames = 0

    def scratch(self, *parts: str) -> Path:
        """A fresh, empty scratch folder (same filesystem as the targets)."""
        folder = self.scratch_root.joinpath(*parts)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def publish_tree(self, scratch: Path, target: Path) -> list[Path]:
        """Rename every file under `scratch` to the same relative path under `target`; return the targets."""
        published = []
        for path in sorted(scratch.rglob("*")):
            if path.is_file():
                destination = target / path.relative_to(scratch)
                destination.parent.mkdir(parents=True, exist_ok=True)
                self._rename(path, destination)
                published.append(destination)
        shutil.rmtree(scratch, ignore_errors=True)
        return published

    def write_json(self, payload: dict, target: Path) -> None:
        """Write `payload` as JSON to `target` via a scratch file and one rename."""
        scratch = self.scratch("json")
        tmp = scratch / target.name
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
        target.parent.mkdir(parents=True, exist_ok=True)
        self._rename(tmp, target)

    def _rename(self, source: Path, destination: Path) -> None:
        os.replace(source, destination)
        self._renames += 1
        if self._crash_after is not None and self._renames >= self._crash_after:
            os.kill(os.getpid(), signal.SIGKILL)


def remove_batch_files(folder: Path, batch_id: str) -> int:
    """Delete files an interrupted earlier attempt at `batch_id` left under `folder`; return how many."""
    removed = 0
    if folder.exists():
        for path in folder.rglob(f"batch_{batch_id}_*.parquet"):
            path.unlink()
            removed += 1
        for path in folder.rglob(f"batch_{batch_id}.parquet"):
            path.unlink()
            removed += 1
    return removed
