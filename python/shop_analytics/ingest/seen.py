"""Event ids already in the lake, without rescanning it: a Bloom filter per source, verified exactly.

A batch's keys are tested against the source's filter (a split-block Bloom filter,
shop_analytics.sketches.BlockedBloomFilter, which fills without ``ufunc.at`` and so several
times faster than the standard one at the sizes ingest needs);
only the "maybe seen" ones are looked up in ``seen_keys`` (the exact set of admitted ids),
so a false positive costs one lookup and never drops a new row. When more keys were added
than the filter was sized for, it is rebuilt from ``seen_keys`` at twice the size, keeping
the error rate.

The filter is a checkpoint, saved once per group of batches rather than per batch (it is
up to hundreds of megabytes): it records the highest ``seen_keys.seq`` it covers, and
loading it adds the keys committed after that. So a filter saved before a crash can never
miss a committed key (which would let a duplicate through).

The filter's bytes live in a file of their own (``DataLayout.key_filters``), which the
catalog row in ``key_filter_files`` names. Kept as a BLOB inside the catalog, every save
went through DuckDB's value, vector, transaction and WAL copies outside its memory limit:
a 192 MB filter grew the process by 0.6-1 GB per save. The file is written straight from
the filter's words under a temporary name, renamed into place, and only then named in the
catalog. A missing, foreign or corrupt file (the envelope's digest checks every byte) only
costs a rebuild from ``seen_keys``: the filter is a cache of that table.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from shop_analytics.publish.files import fsync_path
from shop_analytics.sketches import BlockedBloomFilter
from shop_analytics.sketches.envelope import SketchFormatError
from shop_analytics.sql import one_value

_CHUNK_ROWS = 1_000_000  # keys per chunk when (re)filling a filter from the catalog
_SUFFIX = ".bloom"

CATALOG_DDL = """
CREATE TABLE IF NOT EXISTS {db}.key_filter_files (
    source VARCHAR PRIMARY KEY,
    capacity BIGINT NOT NULL,
    fpr DOUBLE NOT NULL,
    covered_seq BIGINT NOT NULL,
    file_name VARCHAR NOT NULL
);
"""
# Catalogs written before the filter moved to files kept it as a BLOB: a cache, rebuilt on demand.
CATALOG_MIGRATIONS = ("DROP TABLE IF EXISTS {db}.key_filters",)


@dataclass(frozen=True)
class SeenLookup:
    """Outcome of one lookup: the keys the filter flagged, and the exactly confirmed ones."""

    maybe: np.ndarray  # distinct int64 keys the filter says may have been seen
    confirmed: np.ndarray  # int64 keys that are really in seen_keys


class SeenKeys:
    """The Bloom filter of one source's admitted event ids, backed by the catalog's seen_keys."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, db: str, source: str, capacity: int, fpr: float, directory: Path
    ) -> None:
        self._con, self._db, self.source, self._dir = con, db, source, directory
        self._min_capacity, self._fpr = capacity, fpr
        row = con.execute(
            f"SELECT capacity, fpr, covered_seq, file_name FROM {db}.key_filter_files WHERE source = ?", [source]
        ).fetchone()
        loaded = self._read(str(row[3])) if row is not None and row[1] == fpr else None
        if row is not None and loaded is not None:
            self.capacity, self.filter = int(row[0]), loaded
            self._add_keys_after(int(row[2]))
            if self.filter.n_added > self.capacity:
                self._rebuild(2 * self.filter.n_added)
        else:
            self._rebuild(max(capacity, 2 * self._exact_count()))

    def _read(self, file_name: str) -> BlockedBloomFilter | None:
        # Only a plain name of this source's own files is opened: the catalog is data, not trusted paths.
        if not _is_own_file(self.source, file_name):
            return None
        try:
            return BlockedBloomFilter.from_bytes((self._dir / file_name).read_bytes())
        except (OSError, SketchFormatError):
            return None

    def _add_keys_after(self, seq: int) -> None:
        # Streamed in chunks: a source's keys can be far larger than memory (100M ids are 800 MB
        # as one array, several times that while hashing), and only the filter must fit.
        reader = self._con.execute(
            f"SELECT key FROM {self._db}.seen_keys WHERE source = ? AND seq > ?", [self.source, seq]
        ).fetch_record_batch(_CHUNK_ROWS)
        for chunk in reader:
            keys = chunk.column(0).to_numpy(zero_copy_only=False)
            if len(keys):
                self.filter.add(keys)

    def _exact_count(self) -> int:
        return int(one_value(self._con, f"SELECT count(*) FROM {self._db}.seen_keys WHERE source = ?", [self.source]))

    def _rebuild(self, capacity: int) -> None:
        self.capacity = capacity
        self.filter = BlockedBloomFilter.for_capacity(capacity, self._fpr)
        self._add_keys_after(-1)

    def lookup(self, keys: np.ndarray) -> SeenLookup:
        """Which of `keys` (non-null int64) are already admitted: filter first, then an exact check."""
        empty = np.empty(0, dtype=np.int64)
        if keys.size == 0:
            return SeenLookup(empty, empty)
        maybe = np.unique(keys[self.filter.contains(keys)])
        if maybe.size == 0:
            return SeenLookup(empty, empty)
        # Only the maybe-seen subset is joined against seen_keys.
        candidates = pa.table({"key": pa.array(maybe, type=pa.int64())})
        self._con.register("_maybe_seen", candidates)
        try:
            found = (
                self._con.execute(
                    f"SELECT DISTINCT s.key FROM {self._db}.seen_keys s SEMI JOIN _maybe_seen m ON s.key = m.key "
                    f"WHERE s.source = ?",
                    [self.source],
                )
                .to_arrow_table()
                .column("key")
            )
        finally:
            self._con.unregister("_maybe_seen")
        confirmed = found.to_numpy() if len(found) else np.empty(0, dtype=np.int64)
        return SeenLookup(maybe, confirmed)

    def add(self, keys: np.ndarray) -> None:
        """Record newly admitted keys; grow (rebuild from seen_keys) past capacity.

        Call after the keys were inserted into seen_keys (their transaction committed or not:
        an extra key only costs a false positive, which the exact check absorbs).
        """
        self.filter.add(keys)
        if self.filter.n_added > self.capacity:
            self._rebuild(2 * max(self.filter.n_added, self._exact_count()))

    def save(self) -> None:
        """Checkpoint the filter: write its file, name it in the catalog, then delete the older files."""
        covered = one_value(
            self._con, f"SELECT coalesce(max(seq), 0) FROM {self._db}.seen_keys WHERE source = ?", [self.source]
        )
        self._dir.mkdir(parents=True, exist_ok=True)
        name = f"{self.source}.{uuid.uuid4().hex}{_SUFFIX}"
        temporary = self._dir / f".{name}.tmp"
        try:
            with open(temporary, "wb") as fh:
                self.filter.write_to(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temporary, self._dir / name)
        finally:
            temporary.unlink(missing_ok=True)
        fsync_path(self._dir)
        self._con.execute(
            f"INSERT OR REPLACE INTO {self._db}.key_filter_files VALUES (?, ?, ?, ?, ?)",
            [self.source, self.capacity, self._fpr, covered, name],
        )
        # Older files (and any a crash left between the rename and the catalog row) are garbage now.
        for path in self._dir.iterdir():
            if path.name != name and _is_own_file_or_temporary(self.source, path.name):
                path.unlink(missing_ok=True)


def _is_own_file(source: str, name: str) -> bool:
    stem = name.removeprefix(f"{source}.").removesuffix(_SUFFIX)
    return name == f"{source}.{stem}{_SUFFIX}" and len(stem) == 32 and all(c in "0123456789abcdef" for c in stem)


def _is_own_file_or_temporary(source: str, name: str) -> bool:
    temporary = name.startswith(".") and name.endswith(".tmp")
    return _is_own_file(source, name[1:-4] if temporary else name)
