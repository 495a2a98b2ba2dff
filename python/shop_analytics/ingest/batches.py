"""Finding landing batches: one folder per batch, its files, format and content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from shop_analytics.sources import ALL_SOURCES, Source

FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
BATCH_PREFIX = "batch_date="
MIXED = "mixed"  # file_format of a batch whose files are not all of one known format


@dataclass(frozen=True)
class LandingBatch:
    """One delivered batch: every file in ``landing/<source>/batch_date=<id>/``."""

    source: Source
    batch_id: str
    files: tuple[Path, ...]
    file_format: str

    def content_hash(self) -> str:
        """SHA-256 over file names and bytes: the batch's identity for idempotent ingest."""
        digest = hashlib.sha256()
        for path in self.files:
            digest.update(path.name.encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()


def discover(landing: Path, source: Source) -> list[LandingBatch]:
    """All well-named batches of `source` under `landing`, oldest first (see landing_problems for the rest).

    A batch whose files are not all of one known format gets file_format MIXED; the
    gate rejects it as a whole.
    """
    root = landing / source.name
    if not root.exists():
        return []
    batches = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(BATCH_PREFIX)):
        files = tuple(sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")))
        if not files:
            continue
        formats = {FORMATS.get(p.suffix.lower()) for p in files}
        file_format = formats.pop() if len(formats) == 1 and None not in formats else MIXED
        batches.append(LandingBatch(source, folder.name[len(BATCH_PREFIX):], files, file_format))
    return batches


def landing_problems(landing: Path, sources: tuple[Source, ...] = ALL_SOURCES) -> list[str]:
    """What ingest cannot take from `landing`: unknown source folders, badly named batch folders, stray files."""
    if not landing.exists():
        return []
    known = {s.name for s in sources}
    problems = []
    for entry in sorted(landing.iterdir()):
        if entry.name.startswith(("_", ".")):
            continue  # the generator's _manifest.json and hidden files
        if not entry.is_dir():
            problems.append(f"{entry}: stray file in the landing root; files belong in <source>/{BATCH_PREFIX}<id>/")
        elif entry.name not in known:
            problems.append(f"{entry}: unknown source folder {entry.name!r}; known sources: {', '.join(sorted(known))}")
        else:
            for child in sorted(entry.iterdir()):
                if child.name.startswith("."):
                    continue
                if not child.is_dir() or not child.name.startswith(BATCH_PREFIX):
                    problems.append(f"{child}: landing batches must be folders named {BATCH_PREFIX}<id>")
    return problems
