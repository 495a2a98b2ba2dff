"""Heavy hitters: the mergeable Misra-Gries summary, vectorized per batch.

State: at most ``capacity`` (k) counters ``item -> c``, the stream length N
and an error offset D. A batch is first reduced to exact (item, count)
pairs with Arrow's hash aggregation; that exact summary is then merged in
with the rule of Agarwal et al. (2012), "Mergeable Summaries": add counters
of the union of items, and if more than k remain, subtract the (k+1)-th
largest counter from all and drop the non-positive ones (D grows by it).

Guarantees, for every item x with true frequency f(x):

- ``lower(x) = c(x) <= f(x) <= c(x) + D = upper(x)`` (c = 0 if x is absent);
- ``D <= (N - sum(c)) / (k + 1) < N / k``, so every item with f(x) > N/(k+1)
  is reported (has c(x) > 0).

The guarantees hold for any merge order (batch, micro-batch, streaming). The
counters themselves depend on the order once more than k distinct items
have been seen; while the distinct count stays <= k the summary is exact and
identical for every order.
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shop_analytics.sketches.envelope import SketchFormatError, unwrap_params, wrap

KIND = b"MG"
VERSION = 1
_PARAMS = struct.Struct("<IBxxxQQQ")  # capacity, key code, pad, n, error, entries
_INT, _STR = 0, 1
_TYPES = {_INT: pa.int64(), _STR: pa.large_string()}


def _normalize_keys(keys: pa.Array | pa.ChunkedArray | np.ndarray) -> pa.Array:
    if isinstance(keys, np.ndarray):
        keys = pa.array(keys)
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if not isinstance(keys, pa.Array):
        raise TypeError(f"keys must be a NumPy or Arrow array, got {type(keys).__name__}")
    if pa.types.is_dictionary(keys.type):
        keys = keys.dictionary_decode()
    t = keys.type
    if pa.types.is_integer(t):
        return keys.cast(pa.int64())
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return keys.cast(pa.large_string())
    raise TypeError(f"heavy hitters support integer or string keys, got Arrow type {t}")


def _code_of(t: pa.DataType) -> int:
    return _INT if t == pa.int64() else _STR


class HeavyHitters:
    """Misra-Gries summary with ``capacity`` counters; see module docstring for bounds."""

    __slots__ = ("capacity", "counts", "error", "items", "n")

    def __init__(self, capacity: int = 1024) -> None:
        if not isinstance(capacity, (int, np.integer)) or not 1 <= int(capacity) <= 1 << 26:
            raise ValueError(f"capacity must be an integer in [1, 2**26], got {capacity!r}")
        self.capacity = int(capacity)
        self.items: pa.Array | None = None  # int64 or large_string, set by the first batch
        self.counts = np.zeros(0, dtype=np.int64)
        self.n = 0
        self.error = 0

    def _combine(self, items: pa.Array, counts: np.ndarray, n: int, error: int) -> None:
        if self.items is None:
            all_items, all_counts = items, counts
        else:
            if items.type != self.items.type:
                raise TypeError(f"heavy-hitter key type changed from {self.items.type} to {items.type}")
            # Sum the counters of items in both (distinct) lists: look the incoming
            # items up in the small summary instead of grouping the union.
            pos = pc.index_in(items, value_set=self.items)
            counts = counts.copy()
            if pos.null_count < len(pos):
                hit = pos.is_valid().to_numpy(zero_copy_only=False)
                where = pos.drop_null().to_numpy()
                counts[hit] += self.counts[where]
                rest = np.ones(len(self.items), dtype=np.bool_)
                rest[where] = False
                kept_items, kept_counts = self.items.filter(pa.array(rest)), self.counts[rest]
            else:
                kept_items, kept_counts = self.items, self.counts
            all_items = pa.concat_arrays([kept_items, items])
            all_counts = np.concatenate([kept_counts, counts])
        table = pa.table({"item": all_items, "count": pa.array(all_counts, pa.int64())})
        counts_np = all_counts
        cut = 0
        if counts_np.size > self.capacity:
            # The (k+1)-th largest counter: subtracting it leaves <= k positive counters.
            cut = int(np.partition(counts_np, counts_np.size - self.capacity - 1)[counts_np.size - self.capacity - 1])
            keep = counts_np > cut
            table = table.filter(pa.array(keep))
            counts_np = counts_np[keep] - cut
        # Canonical order (count desc, item asc) makes equal summaries byte-identical.
        order = pc.sort_indices(
            pa.table({"c": pa.array(counts_np), "i": table.column("item")}),
            sort_keys=[("c", "descending"), ("i", "ascending")],
        )
        self.items = table.column("item").take(order).combine_chunks()
        self.counts = counts_np[order.to_numpy()]
        self.n += int(n)
        self.error += int(error) + cut

    def update(self, keys: pa.Array | pa.ChunkedArray | np.ndarray) -> None:
        """Count a batch of int or string keys; nulls are skipped (not counted in N)."""
        arr = _normalize_keys(keys)
        if arr.null_count:
            arr = arr.drop_null()
        if len(arr) == 0:
            return
        vc = pc.value_counts(arr)
        self._combine(vc.field("values"), vc.field("counts").to_numpy().astype(np.int64), len(arr), 0)

    def merge(self, other: HeavyHitters) -> HeavyHitters:
        """Merge another summary into self (Agarwal et al. rule); returns self."""
        if not isinstance(other, HeavyHitters):
            raise TypeError(f"can only merge HeavyHitters with HeavyHitters, got {type(other).__name__}")
        if other.capacity != self.capacity:
            raise ValueError(
                f"cannot merge heavy-hitter summaries with capacities {self.capacity} and {other.capacity}"
            )
        if other.items is None:
            return self
        self._combine(other.items, other.counts, other.n, other.error)
        return self

    def copy(self) -> HeavyHitters:
        """Copy (arrays are immutable or copied)."""
        out = HeavyHitters(self.capacity)
        out.items, out.counts, out.n, out.error = self.items, self.counts.copy(), self.n, self.error
        return out

    def top(self, k: int | None = None) -> pa.Table:
        """Up to k reported items by lower bound: columns item, lower, upper, estimate (= lower)."""
        if self.items is None:
            return pa.table(
                {
                    "item": pa.array([], pa.int64()),
                    "lower": pa.array([], pa.int64()),
                    "upper": pa.array([], pa.int64()),
                    "estimate": pa.array([], pa.int64()),
                }
            )
        stop = len(self.counts) if k is None else max(0, int(k))
        lower = self.counts[:stop]
        return pa.table(
            {
                "item": self.items[:stop],
                "lower": pa.array(lower, pa.int64()),
                "upper": pa.array(lower + self.error, pa.int64()),
                "estimate": pa.array(lower, pa.int64()),
            }
        )

    def frequent(self, threshold: float, no_false_negatives: bool = True) -> pa.Table:
        """Items whose frequency may exceed threshold (upper > t), or surely does (lower > t)."""
        t = self.top()
        col = "upper" if no_false_negatives else "lower"
        return t.filter(pc.greater(t.column(col), threshold))

    def bounds(self, keys: pa.Array | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) frequency bounds for arbitrary keys, including unreported ones."""
        arr = _normalize_keys(keys)
        lower = np.zeros(len(arr), dtype=np.int64)
        if self.items is not None and len(self.items):
            pos = pc.index_in(arr, value_set=self.items).to_numpy(zero_copy_only=False)
            found = ~np.isnan(pos.astype(np.float64))
            lower[found] = self.counts[pos[found].astype(np.int64)]
        return lower, lower + self.error

    def to_bytes(self) -> bytes:
        """Serialize (envelope kind MG, version 1)."""
        code = _INT if self.items is None else _code_of(self.items.type)
        entries = 0 if self.items is None else len(self.items)
        parts = [_PARAMS.pack(self.capacity, code, self.n, self.error, entries), self.counts.astype("<i8").tobytes()]
        if self.items is not None:
            if code == _INT:
                parts.append(self.items.to_numpy().astype("<i8").tobytes())
            else:
                _, off, data = self.items.buffers()
                offsets = np.frombuffer(off, dtype=np.int64)[self.items.offset : self.items.offset + entries + 1]
                lo, hi = int(offsets[0]), int(offsets[-1])
                parts.append(np.diff(offsets).astype("<u4").tobytes())
                parts.append(b"" if data is None else data.to_pybytes()[lo:hi])
        return wrap(KIND, VERSION, b"".join(parts))

    @classmethod
    def from_bytes(cls, blob: bytes | memoryview) -> HeavyHitters:
        """Deserialize; raises SketchFormatError on corrupt or foreign bytes."""
        (capacity, code, n, error, entries), payload = unwrap_params(blob, KIND, (VERSION,), _PARAMS)
        if code not in _TYPES or not 1 <= capacity <= 1 << 26 or entries > capacity:
            raise SketchFormatError(f"corrupt MG sketch: key code {code}, capacity {capacity}, entries {entries}")
        pos = _PARAMS.size
        try:
            counts = np.frombuffer(payload, dtype="<i8", count=entries, offset=pos).astype(np.int64)
            pos += 8 * entries
            if code == _INT:
                items = pa.array(np.frombuffer(payload, dtype="<i8", count=entries, offset=pos).astype(np.int64))
                pos += 8 * entries
            else:
                lengths = np.frombuffer(payload, dtype="<u4", count=entries, offset=pos).astype(np.int64)
                pos += 4 * entries
                offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
                data = bytes(payload[pos : pos + int(offsets[-1])])
                if len(data) != int(offsets[-1]):
                    raise ValueError("string data truncated")
                pos += len(data)
                items = pa.LargeStringArray.from_buffers(entries, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))
                items.validate(full=True)
        except (ValueError, pa.ArrowInvalid) as exc:
            raise SketchFormatError(f"corrupt MG sketch: {exc}") from exc
        if pos != len(payload):
            raise SketchFormatError(f"corrupt MG sketch: {len(payload) - pos} unexpected trailing bytes")
        out = cls(capacity)
        out.n, out.error = n, error
        if entries or n:
            out.items, out.counts = items, counts
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HeavyHitters):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]  # unhashable on purpose: mutable, compared by content

    def __repr__(self) -> str:
        return f"HeavyHitters(capacity={self.capacity}, n={self.n}, error={self.error}, counters={len(self.counts)})"
