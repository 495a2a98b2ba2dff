"""Event ids already in the lake, without rescanning it: a Bloom filter per source, verified exactly.

The filter (shop_analytics.sketches.BloomFilter) lives in the ingest catalog as a BLOB
per source. A batch's keys are tested against it; only the "maybe seen" ones are
looked up in ``seen_keys`` (the exact set of admitted ids), so a false positive costs
one lookup and never drops a new row. When more keys were added than the filter was
sized for, it is rebuilt from ``seen_keys`` at twice the size, keeping the error rate.

The filter is a checkpoint, saved once per group of batches rather than per batch
(it is megabytes): it records the highest ``seen_keys.seq`` it covers, and loading
it adds the keys committed after that. So a filter saved before a crash can never
miss a committed key (which would let a duplicate through).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from shop_analytics.sketches import BloomFilter
from shop_analytics.sql import one_value

_CHUNK_ROWS = 1_000_000  # keys per chunk when (re)filling a filter from the catalog

CATALOG_DDL = """
CREATE TABLE IF NOT EXISTS {db}.key_filters (
    source VARCHAR PRIMARY KEY,
    capacity BIGINT NOT NULL,
    fpr DOUBLE NOT NULL,
    covered_seq BIGINT NOT NULL,
    filter BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class SeenLookup:
    """Outcome of one lookup: the keys the filter flagged, and the exactly confirmed ones."""

    maybe: np.ndarray  # distinct int64 keys the filter says may have been seen
    confirmed: np.ndarray  # int64 keys that are really in seen_keys


class SeenKeys:
    """The Bloom filter of one source's admitted event ids, backed by the catalog's seen_keys."""

    def __init__(self, con: duckdb.DuckDBPyConnection, db: str, source: str, capacity: int, fpr: float) -> None:
        self._con, self._db, self.source = con, db, source
        self._min_capacity, self._fpr = capacity, fpr
        row = con.execute(
            f"SELECT capacity, fpr, covered_seq, filter FROM {db}.key_filters WHERE source = ?", [source]
        ).fetchone()
        if row is not None and row[1] == fpr:
            self.capacity, self.filter = int(row[0]), BloomFilter.from_bytes(row[3])
            self._add_keys_after(int(row[2]))
            if self.filter.n_added > self.capacity:
                self._rebuild(2 * self.filter.n_added)
        else:
            self._rebuild(max(capacity, 2 * self._exact_count()))

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
        self.filter = BloomFilter.for_capacity(capacity, self._fpr)
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
        """Checkpoint the filter in the catalog, covering every key committed so far."""
        covered = one_value(
            self._con, f"SELECT coalesce(max(seq), 0) FROM {self._db}.seen_keys WHERE source = ?", [self.source]
        )
        self._con.execute(
            f"INSERT OR REPLACE INTO {self._db}.key_filters VALUES (?, ?, ?, ?, ?)",
            [self.source, self.capacity, self._fpr, covered, self.filter.to_bytes()],
        )
