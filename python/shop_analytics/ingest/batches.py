"""Finding landing batches and reading them into DuckDB with the contract's types."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from shop_analytics.sources import Source

FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
BATCH_PREFIX = "batch_date="


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
    """All batches of `source` under `landing`, oldest first; raises on unreadable layouts."""
    root = landing / source.name
    if not root.exists():
        return []
    batches = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if not folder.name.startswith(BATCH_PREFIX):
            raise ValueError(f"{folder}: landing folders must be named {BATCH_PREFIX}<id>")
        files = tuple(sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")))
        if not files:
            continue
        formats = {FORMATS.get(p.suffix.lower()) for p in files}
        if None in formats or len(formats) != 1:
            names = ", ".join(p.name for p in files)
            raise ValueError(f"{folder}: a batch holds files of one format (.parquet, .csv or .json); found {names}")
        batches.append(LandingBatch(source, folder.name[len(BATCH_PREFIX):], files, formats.pop()))
    return batches


_DUCKDB_TYPES = {
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.timestamp("us"): "TIMESTAMP",
}


def duckdb_type(arrow_type: pa.DataType) -> str:
    """DuckDB type name for a contract column type."""
    try:
        return _DUCKDB_TYPES[arrow_type]
    except KeyError as exc:
        raise ValueError(f"no DuckDB type mapping for {arrow_type}") from exc


def read_sql(batch: LandingBatch) -> str:
    """A DuckDB table function reading the batch's files, typed by the contract for text formats."""
    files = "[" + ", ".join(_quote(str(p)) for p in batch.files) + "]"
    if batch.file_format == "parquet":
        return f"read_parquet({files}, union_by_name = true)"
    columns = "{" + ", ".join(f"{_quote(f.name)}: {_quote(duckdb_type(f.type))}" for f in batch.source.schema) + "}"
    if batch.file_format == "csv":
        return f"read_csv({files}, header = true, columns = {columns})"
    return f"read_json({files}, columns = {columns})"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
