"""Atomic, exactly addressed publication of one batch's files into the lake and quarantine.

A batch's output is written under a scratch folder laid out like the data root
(``lake/...``, ``quarantine/...``), then published:

1. the exact relative paths about to appear are recorded as the batch's publish
   intent in the catalog (committed before anything moves);
2. each file is renamed into place with ``os.replace``: dbt's globs only ever see
   complete files;
3. the runner commits the batch (batch_files := these paths, audit, keys) and, in the
   same transaction, turns the intent into the list of files the batch no longer has
   (an earlier rejection's quarantine), which finish() then deletes.

At the start of every run, recover() rolls back what an interrupted run left: for each
intent, exactly the recorded paths that are not committed files of that batch are
deleted. Nothing is ever matched by prefix or glob, so a batch ``X`` can never touch
the files of ``X_1``, and paths from the catalog must stay under lake/ or quarantine/.

Test hooks (tests/integration/test_ingest_atomic.py, tests/integration/test_ingest_adversarial.py), read from
the environment (shop_analytics.settings) once per run:

- SHOP_ANALYTICS_INGEST_CRASH_AT=<point>[:<n>]: SIGKILL this process the n-th time
  (default: first) ingest reaches <point>, one of POINTS;
- SHOP_ANALYTICS_INGEST_FAIL_AT=<point>[:<n>]: raise OSError(ENOSPC) there instead,
  as a full disk would;
- SHOP_ANALYTICS_INGEST_CRASH_AFTER_RENAMES=<n>: the same as CRASH_AT=rename:<n>.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
from collections import Counter
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import duckdb

from shop_analytics.ingest import catalog
from shop_analytics.quality.raw_contract import batch_id_problem
from shop_analytics.settings import Settings

# In the order one batch reaches them: scratch files written, intent recorded, after each
# rename, all renamed (catalog not yet committed), catalog committed (garbage not yet deleted).
POINTS = ("written", "intent", "rename", "renamed", "committed")
_ROOTS = ("lake", "quarantine")


class FaultHooks:
    """Counts the points ingest reaches and crashes or fails where the environment asks (tests only)."""

    def __init__(self, crash_at: str | None = None, fail_at: str | None = None) -> None:
        self._crash = _spec(crash_at)
        self._fail = _spec(fail_at)
        self._counts: Counter[str] = Counter()

    @classmethod
    def from_env(cls) -> FaultHooks:
        """The hooks the environment asks for (none, outside tests)."""
        settings = Settings.from_env()
        return cls(settings.ingest_crash_at, settings.ingest_fail_at)

    def reached(self, point: str, path: str = "") -> None:
        """Ingest reached `point` (one of POINTS), working on `path` if given."""
        self._counts[point] += 1
        if self._crash == (point, self._counts[point]):
            os.kill(os.getpid(), signal.SIGKILL)
        if self._fail == (point, self._counts[point]):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path or None)


def _spec(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    point, _, count = value.partition(":")
    if point not in POINTS:
        raise ValueError(f"test hook names unknown point {point!r}; points: {', '.join(POINTS)}")
    return point, int(count or 1)


class BatchPublisher:
    """Moves one batch's finished files from a scratch folder into the data root, one rename each."""

    def __init__(self, root: Path, scratch_root: Path, hooks: FaultHooks) -> None:
        self.root, self.scratch_root, self.hooks = root, scratch_root, hooks

    def scratch(self, source: str, batch_id: str) -> Path:
        """A fresh, empty scratch folder for the batch (same file system as the targets), laid out like the root."""
        folder = self.scratch_root / source / batch_id
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def publish(self, con: duckdb.DuckDBPyConnection, source: str, batch_id: str, scratch: Path) -> list[str]:
        """Record the intent, then rename every file under `scratch` to the same relative path under the root."""
        new = sorted(PurePosixPath(p.relative_to(scratch)).as_posix() for p in scratch.rglob("*") if p.is_file())
        for path in new:
            target(self.root, path)  # refuses anything outside lake/ and quarantine/
        self.hooks.reached("written")
        catalog.record_intent(con, source, batch_id, new)
        self.hooks.reached("intent")
        for path in new:
            destination = self.root / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(scratch / path, destination)
            self.hooks.reached("rename", str(destination))
        shutil.rmtree(scratch, ignore_errors=True)
        self.hooks.reached("renamed")
        return new

    def finish(self, con: duckdb.DuckDBPyConnection, source: str, batch_id: str, garbage: list[str]) -> None:
        """After the commit: delete the files the batch no longer has, then forget the intent."""
        self.hooks.reached("committed")
        remove_files(self.root, garbage)
        catalog.clear_intent(con, source, batch_id)


def target(root: Path, path: str) -> Path:
    """`root`/`path` for a relative path under lake/ or quarantine/; ValueError for anything else."""
    parts = PurePosixPath(path).parts
    if PurePosixPath(path).is_absolute() or len(parts) < 3 or parts[0] not in _ROOTS or ".." in parts:
        raise ValueError(f"refusing to touch {path!r}: batch files live under lake/<source>/ or quarantine/<source>/")
    return root.joinpath(*parts)


def remove_files(root: Path, paths: Iterable[str]) -> int:
    """Delete exactly these files (missing ones are fine) and the folders they leave empty; return how many."""
    removed = 0
    for path in paths:
        file = target(root, path)
        try:
            file.unlink()
            removed += 1
        except FileNotFoundError:
            pass
        stop = root / PurePosixPath(path).parts[0] / PurePosixPath(path).parts[1]
        parent = file.parent
        while parent != stop and stop in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break  # not empty (or gone): stop climbing
            parent = parent.parent
    return removed


def recover(con: duckdb.DuckDBPyConnection, root: Path) -> list[tuple[str, str, int]]:
    """Roll back interrupted publications: delete their recorded files that are not committed; return what was done."""
    done = []
    for source, batch_id, paths in catalog.intents(con):
        committed = set(catalog.batch_files(con, source, batch_id))
        if paths is None:  # recorded before intents had paths: the batch's own lake files, by exact name
            paths = legacy_lake_files(root, source, batch_id)
        removed = remove_files(root, [p for p in paths if p not in committed])
        catalog.clear_intent(con, source, batch_id)
        done.append((source, batch_id, removed))
    return done


def legacy_lake_files(root: Path, source: str, batch_id: str) -> list[str]:
    """Lake files whose name is exactly that of `batch_id` (batch_<id>.parquet, batch_<id>_<n>.parquet)."""
    if batch_id_problem(batch_id) or batch_id_problem(source):
        return []  # such ids were never written by this version; do not guess
    name = re.compile(rf"batch_{re.escape(batch_id)}(_[0-9]+)?\.parquet")
    folder = root / "lake" / source
    if not folder.is_dir():
        return []
    return sorted(
        PurePosixPath(p.relative_to(root)).as_posix()
        for p in folder.rglob("*.parquet")
        if name.fullmatch(p.name) and not p.is_symlink()
    )
