"""Finding landing batches: validated ids, completion markers, regular files only, content hash.

Layout: ``landing/<source>/batch_date=<batch id>/<files>``. The scan never follows a
symbolic link: it lists folders with os.scandir and judges every entry by lstat, and
files are opened with O_NOFOLLOW (open_regular). What it finds:

- a batch whose id matches BATCH_ID and whose folder holds the completion marker
  ``_SUCCESS`` (or, with a quiet period, did not change for that long): ready. Its
  data files are the regular files whose names do not start with ``.`` or ``_``
  (Hadoop/Spark's convention for metadata such as ``_SUCCESS`` or ``.crc`` files). An optional
  regular file ``_batch.yml`` overrides the source's ingest settings for this batch and is part
  of the batch's content hash;
- the same with an entry that is not a regular file (symlink, folder, FIFO, device,
  socket), or a batch folder that is itself a symlink: ready, but rejected whole by
  ingest with rule ``not_a_regular_file``;
- a batch folder without the marker: ``pending`` (not an error; retried next run);
- anything else (an id off the grammar, an unknown source folder, a symlinked source
  folder, a stray file): ``refused``, reported, left untouched in landing.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from shop_analytics.quality.raw_contract import ALL_SOURCES, BATCH_PREFIX, COMPLETION_MARKER, Source, batch_id_problem

FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
MIXED = "mixed"  # file_format of a batch whose files are not all of one known format
EMPTY = "empty"  # file_format of a complete batch without data files
BATCH_SETTINGS = "_batch.yml"  # optional per-batch ingest settings beside the marker (settings.py reads them)

# Finding statuses and rules.
PENDING = "pending"
REFUSED = "refused"
NOT_REGULAR = "not_a_regular_file"


class NotRegularFileError(ValueError):
    """A landing path that should be a regular file is not (symlink, FIFO, device, ...)."""


@dataclass(frozen=True)
class LandingBatch:
    """One complete delivered batch: the data files of ``landing/<source>/batch_date=<id>/``."""

    source: Source
    batch_id: str
    files: tuple[Path, ...]
    file_format: str
    folder: Path | None = None
    irregular: tuple[str, ...] = ()  # entries that are not regular files, e.g. "part-0.csv (symbolic link)"
    settings_file: Path | None = None  # the batch's own BATCH_SETTINGS (_batch.yml) overrides, if delivered

    def content_hash(self) -> str:
        """SHA-256 over data file names and bytes (not the marker): the batch's identity for idempotent ingest.

        Entries that are not regular files count by name and kind only; they are never opened.
        """
        digest = hashlib.sha256()
        for path in self.files:
            digest.update(path.name.encode())
            with open_regular(path) as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        for entry in self.irregular:
            digest.update(b"\0not a regular file\0" + entry.encode())
        if self.settings_file is not None:  # it changes how the data reads, so it is part of the identity
            digest.update(b"\0batch settings\0")
            with open_regular(self.settings_file) as handle:
                digest.update(handle.read())
        return digest.hexdigest()


@dataclass(frozen=True)
class Finding:
    """Something in landing that is not ingested in this run: pending or refused."""

    status: str  # PENDING or REFUSED
    source: str  # the source folder's name, "?" for the landing root
    batch_id: str | None
    path: Path
    rule: str
    message: str


@dataclass(frozen=True)
class Landing:
    """One scan of the landing folder."""

    batches: dict[str, list[LandingBatch]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def shown(text: str | Path) -> str:
    """`text` for a message: as is if printable, else its repr (a file name cannot smuggle control characters)."""
    text = str(text)
    return text if text.isprintable() else repr(text)


def open_regular(path: Path) -> BinaryIO:
    """Open `path` for reading only if it is a regular file; never follows a symlink, never blocks on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1) or os.path.islink(path):
            raise NotRegularFileError(
                f"{shown(path)} is a symbolic link; symlinks in landing are never followed"
            ) from exc
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegularFileError(f"{shown(path)} is a {_kind(mode)}, not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def scan(
    landing: Path,
    sources: tuple[Source, ...] = ALL_SOURCES,
    quiet_seconds: float | None = None,
    now: float | None = None,
) -> Landing:
    """Every batch ready to ingest under `landing`, by source name (oldest id first), and everything else found.

    `quiet_seconds`: also treat a batch folder without the marker as complete when neither
    it nor any entry in it changed (mtime or ctime) for that many seconds.
    """
    now = time.time() if now is None else now
    result = Landing({s.name: [] for s in sources})
    if not landing.exists():
        return result
    known = {s.name: s for s in sources}
    for entry in _entries(landing):
        if entry.name.startswith(("_", ".")):
            continue  # the generator's _manifest.json, hidden files: never data
        path = Path(entry.path)
        mode = entry.stat(follow_symlinks=False).st_mode
        if entry.name not in known:
            what = "folder" if stat.S_ISDIR(mode) else _kind(mode)
            result.findings.append(
                Finding(
                    REFUSED,
                    "?",
                    None,
                    path,
                    "unknown_source",
                    f"{landing}: unknown source folder {entry.name!r} ({what}); "
                    f"known sources: {', '.join(sorted(known))}",
                )
            )
        elif not stat.S_ISDIR(mode):
            result.findings.append(
                Finding(
                    REFUSED,
                    entry.name,
                    None,
                    path,
                    NOT_REGULAR,
                    f"{path}: the source folder is a {_kind(mode)}, not a folder; it is not followed",
                )
            )
        else:
            _scan_source(known[entry.name], path, result, quiet_seconds, now)
    return result


def discover(landing: Path, source: Source, quiet_seconds: float | None = None) -> list[LandingBatch]:
    """The batches of `source` ready to ingest, oldest id first (scan() also reports the rest)."""
    return scan(landing, (source,), quiet_seconds).batches[source.name]


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def _scan_source(source: Source, root: Path, result: Landing, quiet_seconds: float | None, now: float) -> None:
    folded: dict[str, list[str]] = {}
    candidates = []
    for entry in _entries(root):
        path = Path(entry.path)
        if entry.name.startswith("."):
            continue
        mode = entry.stat(follow_symlinks=False).st_mode
        if not entry.name.startswith(BATCH_PREFIX):
            what = "folder" if stat.S_ISDIR(mode) else _kind(mode)
            result.findings.append(
                Finding(
                    REFUSED,
                    source.name,
                    None,
                    path,
                    "bad_batch_folder_name",
                    f"{root}: {what} {entry.name!r} is not a batch; landing batches are folders named "
                    f"{BATCH_PREFIX}<batch id>",
                )
            )
            continue
        batch_id = entry.name[len(BATCH_PREFIX) :]
        problem = batch_id_problem(batch_id)
        if problem:
            result.findings.append(
                Finding(
                    REFUSED,
                    source.name,
                    None,
                    path,
                    "invalid_batch_id",
                    f"{source.name}: folder {path.name!r}: {problem}",
                )
            )
            continue
        folded.setdefault(batch_id.casefold(), []).append(batch_id)
        candidates.append((batch_id, path, mode))
    for batch_id, path, mode in candidates:
        twins = folded[batch_id.casefold()]
        if len(twins) > 1:
            result.findings.append(
                Finding(
                    REFUSED,
                    source.name,
                    batch_id,
                    path,
                    "batch_id_case_collision",
                    f"{source.name}: batch ids {', '.join(repr(t) for t in twins)} differ only in case; on a "
                    f"case-insensitive file system they would share files. Rename all but one.",
                )
            )
            continue
        if not stat.S_ISDIR(mode):
            result.batches[source.name].append(
                LandingBatch(source, batch_id, (), MIXED, path, (f"{shown(path.name)} ({_kind(mode)})",))
            )
            continue
        batch = _scan_batch(source, batch_id, path, quiet_seconds, now)
        if isinstance(batch, Finding):
            result.findings.append(batch)
        else:
            result.batches[source.name].append(batch)


def _scan_batch(
    source: Source, batch_id: str, folder: Path, quiet_seconds: float | None, now: float
) -> LandingBatch | Finding:
    entries = [(e.name, e.stat(follow_symlinks=False)) for e in _entries(folder)]
    names = {name for name, _ in entries}
    if COMPLETION_MARKER not in names:
        changed = max([_changed(folder.lstat()), *(_changed(st) for _, st in entries)])
        if quiet_seconds is None or now - changed < quiet_seconds:
            wait = (
                f"waiting for the completion marker {COMPLETION_MARKER} (the producer writes it last)"
                if quiet_seconds is None
                else f"no {COMPLETION_MARKER} marker and changed {max(0.0, now - changed):.0f} s ago, less than "
                f"the quiet period of {quiet_seconds:g} s"
            )
            return Finding(
                PENDING,
                source.name,
                batch_id,
                folder,
                "incomplete",
                f"{source.name} batch {batch_id}: {wait}; not ingested yet",
            )
    irregular = tuple(f"{shown(name)} ({_kind(st.st_mode)})" for name, st in entries if not stat.S_ISREG(st.st_mode))
    files = tuple(folder / name for name, st in entries if stat.S_ISREG(st.st_mode) and not name.startswith((".", "_")))
    formats = {FORMATS.get(p.suffix.lower()) for p in files}
    if not files:
        file_format = EMPTY
    elif len(formats) == 1 and None not in formats:
        file_format = str(formats.pop())
    else:
        file_format = MIXED
    settings = next((folder / n for n, st in entries if n == BATCH_SETTINGS and stat.S_ISREG(st.st_mode)), None)
    return LandingBatch(source, batch_id, files, file_format, folder, irregular, settings)


def _changed(st: os.stat_result) -> float:
    # ctime moves on every write, rename and utime, so a copy that restores old mtimes still counts as a change.
    return max(st.st_mtime, st.st_ctime)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISREG, "regular file"),
    ):
        if test(mode):
            return name
    return "special file"


def walk_regular(folder: Path) -> Iterator[Path]:
    """Every regular file under `folder` (not following symlinks), for exact clean-ups of a batch's own folder."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for entry in _entries(folder):
        if entry.is_dir(follow_symlinks=False):
            yield from walk_regular(Path(entry.path))
        elif entry.is_file(follow_symlinks=False):
            yield Path(entry.path)
