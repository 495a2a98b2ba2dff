"""Kept versions of the serving file and exports: numbering, the publish lock, swap and pruning."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shop_analytics.publish.errors import PublishError, PublishLockedError, RollbackError
from shop_analytics.publish.files import commit, fsync_path, stage_file, stage_symlink
from shop_analytics.publish.layout import ServingLayout, parse_version, version_name

READ_ONLY_MODE = 0o444


@contextmanager
def publish_lock(layout: ServingLayout) -> Iterator[None]:
    """Hold the exclusive publish lock (one publish or rollback at a time); fail fast if it is taken."""
    layout.serving_dir.mkdir(parents=True, exist_ok=True)
    with open(layout.lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise PublishLockedError(
                f"another publish or rollback is running (it holds {layout.lock_file}); retry when it has finished"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clear_staging_leftovers(layout: ServingLayout) -> list[Path]:
    """Remove temporary files of publishes that crashed; call only while holding the publish lock."""
    leftovers = [
        p
        for folder in (layout.versions_dir, layout.exports_dir, layout.serving_dir)
        if folder.exists()
        for p in folder.iterdir()
        if p.name.startswith(".") and ".tmp" in p.name
    ]
    for path in leftovers:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    return leftovers


def kept_versions(layout: ServingLayout) -> list[int]:
    """Versions of the serving file kept under versions/, ascending."""
    if not layout.versions_dir.exists():
        return []
    return sorted(v for v in (parse_version(p.name) for p in layout.versions_dir.glob("v*.duckdb")) if v)


def export_versions(layout: ServingLayout) -> list[int]:
    """Versions that have a Parquet export folder, ascending."""
    if not layout.exports_dir.exists():
        return []
    return sorted(
        v
        for v in (parse_version(p.name) for p in layout.exports_dir.iterdir() if p.is_dir() and not p.is_symlink())
        if v
    )


def current_version(layout: ServingLayout) -> int | None:
    """The version the serving file is (the kept file it is a hard link or copy of), or None."""
    if not layout.serving_file.exists():
        return None
    current = layout.serving_file.stat()
    for version in reversed(kept_versions(layout)):
        kept = layout.version_file(version).stat()
        if (kept.st_dev, kept.st_ino) == (current.st_dev, current.st_ino):
            return version
    return _version_from_file(layout.serving_file)


def _version_from_file(path: Path) -> int | None:
    # Only reached when hard links were unavailable and the serving file is a copy.
    from shop_analytics.publish.reader import connect_serving

    with connect_serving(path) as con:
        row = con.execute("SELECT max(version) FROM main._publication").fetchone()
    return row[0] if row else None


def exported_current_version(layout: ServingLayout) -> int | None:
    """The version exports/current points at, or None."""
    link = layout.exports_current
    return parse_version(os.readlink(link)) if link.is_symlink() else None


def next_version(layout: ServingLayout) -> int:
    """One more than any version ever kept or exported here (numbers are never reused)."""
    return max([0, *kept_versions(layout), *export_versions(layout)]) + 1


def stage_paths(layout: ServingLayout, version: int) -> tuple[Path, Path]:
    """Temporary names for a version's serving file and export folder while they are written."""
    tag = f"{version_name(version)}.{os.getpid()}.tmp"
    return layout.versions_dir / f".{tag}.duckdb", layout.exports_dir / f".{tag}"


def keep(layout: ServingLayout, version: int, staged_file: Path, staged_exports: Path | None) -> None:
    """Rename a fully written version into versions/ and exports/ (not yet visible to readers)."""
    wal = Path(f"{staged_file}.wal")
    if wal.exists():
        raise PublishError(f"{wal} exists after checkpoint; refusing to publish a file with a pending WAL")
    staged_file.chmod(READ_ONLY_MODE)  # a kept version must never change under readers
    fsync_path(staged_file)
    os.rename(staged_file, layout.version_file(version))
    fsync_path(layout.versions_dir)
    if staged_exports is not None:
        os.rename(staged_exports, layout.export_dir(version))
        fsync_path(layout.exports_dir)


def install(layout: ServingLayout, version: int) -> bool:
    """Make `version` the one readers see: swap the serving file, then exports/current if exported.

    Everything that needs disk space (the hard link or copy, the new symlink) is made under
    temporary names first and removed again on failure, so a full disk leaves the served version
    as it was; only then two renames swap them in. Returns whether exports/current points at
    `version` too.
    """
    kept = layout.version_file(version)
    if not kept.exists():
        raise RollbackError(f"version {version} is not kept ({kept} missing); kept: {kept_versions(layout)}")
    wal = Path(f"{layout.serving_file}.wal")
    if wal.exists():
        raise PublishError(
            f"{wal} exists: someone opened the serving file read-write. Its WAL would be replayed into the "
            f"new file. Close that process, remove {wal.name}, and open the serving file with -readonly."
        )
    staged_file = stage_file(kept, layout.serving_file)
    staged_link = None
    try:
        if layout.export_dir(version).is_dir():
            staged_link = stage_symlink(version_name(version), layout.exports_current)
        commit(staged_file, layout.serving_file)
    except BaseException:
        staged_file.unlink(missing_ok=True)
        if staged_link is not None:
            staged_link.unlink(missing_ok=True)
        raise
    if staged_link is None:
        return False
    try:
        commit(staged_link, layout.exports_current)
    except OSError as exc:
        staged_link.unlink(missing_ok=True)
        raise PublishError(
            f"version {version} is served, but exports/current could not be re-pointed ({exc}); "
            "run `shop-analytics publish --rollback --to-version "
            f"{version}` to retry"
        ) from exc
    return True


def discard(layout: ServingLayout, version: int) -> None:
    """Remove a kept version that was never served (its install failed); never the served one."""
    if current_version(layout) == version or exported_current_version(layout) == version:
        return
    layout.version_file(version).unlink(missing_ok=True)
    if layout.export_dir(version).is_dir():
        shutil.rmtree(layout.export_dir(version), ignore_errors=True)


def prune(layout: ServingLayout, keep_count: int) -> list[int]:
    """Delete all but the newest `keep_count` versions (never the current one); returns the deleted."""
    if keep_count < 1:
        raise ValueError(f"--keep must be at least 1, got {keep_count}")
    protected = {current_version(layout), exported_current_version(layout)}
    versions = sorted(set(kept_versions(layout)) | set(export_versions(layout)))
    doomed = [v for v in versions[:-keep_count] if v not in protected]
    for version in doomed:
        # Readers that still have an old file open keep reading it: unlink frees it only at close.
        layout.version_file(version).unlink(missing_ok=True)
        if layout.export_dir(version).exists():
            shutil.rmtree(layout.export_dir(version))
    return doomed
