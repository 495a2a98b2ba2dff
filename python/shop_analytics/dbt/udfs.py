"""Vectorized DuckDB scalar UDFs over the project's sketches, and their registration.

Every function takes and returns Arrow arrays (DuckDB ``type='arrow'``), maps
NULL inputs to NULL outputs, and raises ``ValueError``/``TypeError`` with a
readable message on corrupt or foreign blobs (DuckDB surfaces it as an
InvalidInputException). Registered names and SQL signatures:

- ``stable_hash64(BIGINT) -> BIGINT`` and ``stable_hash64_str(VARCHAR) -> BIGINT``:
  XXH64 (seed 0) of the 8 little-endian bytes of the integer / of the UTF-8
  string, the same hash every sketch uses, returned as the signed BIGINT with
  the same 64 bits (Spark and most BI tools lack UBIGINT).
- ``bloom_contains(BLOB, BIGINT) -> BOOLEAN`` and
  ``bloom_contains_str(BLOB, VARCHAR) -> BOOLEAN``: the BLOB is a serialized
  BloomFilter or BlockedBloomFilter, or a reference made by ``bloom_ref``.
- ``bloom_ref(BLOB) -> BLOB``: loads a filter into this connection's cache and
  returns a 56-byte reference to it. Use it for large filters:
  ``WHERE bloom_contains((SELECT bloom_ref(filter) FROM f), key)``. DuckDB
  copies a BLOB argument into every row of every 2048-row chunk it hands to a
  Python UDF, so passing a multi-megabyte filter directly costs gigabytes of
  copying per chunk; the reference avoids that.
- ``hll_estimate(BLOB) -> DOUBLE``; ``hll_union_estimate(BLOB[]) -> DOUBLE`` and
  ``hll_union(BLOB[]) -> BLOB`` roll daily sketches up to any window:
  ``SELECT item_id, hll_union_estimate(list(sketch)) FROM daily GROUP BY item_id``.
  NULL list elements are skipped; a NULL or empty list gives NULL.
- ``topk_items(BLOB, INTEGER) -> STRUCT(item VARCHAR, lower BIGINT, upper BIGINT)[]``:
  the k most frequent items of a heavy-hitter summary with their count bounds
  (integer items are rendered as decimal strings).
- ``shop_analytics_code_digest() -> VARCHAR``: a digest of the package's Python
  source (``shop_analytics.dbt.code_digest``), part of the input key of the
  models that skip unchanged retrains.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shop_analytics.dbt.code_digest import package_code_digest
from shop_analytics.sketches.blocked_bloom import BlockedBloomFilter
from shop_analytics.sketches.bloom import BloomFilter
from shop_analytics.sketches.envelope import HEADER_SIZE, MAGIC, SketchFormatError, read_header, wrap
from shop_analytics.sketches.hashing import hash_int64, hash_keys, int64_values
from shop_analytics.sketches.heavy_hitters import HeavyHitters
from shop_analytics.sketches.hll import decode_registers, encode_registers, estimate_from_histograms

REF_KIND = b"RF"
REF_VERSION = 1
AnyBloom = BloomFilter | BlockedBloomFilter
_BLOOM_CLASSES: dict[bytes, type[BloomFilter] | type[BlockedBloomFilter]] = {
    b"BF": BloomFilter,
    b"BB": BlockedBloomFilter,
}
# Versions whose header is accepted here; from_bytes refuses BB version 1 with its own message.
_BLOOM_VERSIONS = {b"BF": (1,), b"BB": (1, 2)}
TOPK_TYPE = pa.list_(pa.struct([("item", pa.string()), ("lower", pa.int64()), ("upper", pa.int64())]))


class FilterCache:
    """Bounded LRU of deserialized Bloom filters keyed by their envelope header.

    The header carries kind, version, length and a BLAKE2b digest of the
    payload, so it identifies a filter without rehashing megabytes per chunk.
    """

    def __init__(self, maxsize: int = 8) -> None:
        if maxsize < 1:
            raise ValueError(f"cache size must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self._items: OrderedDict[bytes, AnyBloom] = OrderedDict()

    def get(self, key: bytes) -> AnyBloom | None:
        """Cached filter for a header, refreshing its recency."""
        bf = self._items.get(key)
        if bf is not None:
            self._items.move_to_end(key)
        return bf

    def put(self, key: bytes, bf: AnyBloom) -> None:
        """Insert, evicting the least recently used filter beyond maxsize."""
        self._items[key] = bf
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def _as_array(x: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(x, pa.ChunkedArray):
        return x.combine_chunks() if x.num_chunks != 1 else x.chunk(0)
    return x


def _binary_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 offsets, uint8 data) of a binary array, without copying payloads."""
    if not (pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type)):
        arr = arr.cast(pa.large_binary())
    _, off_buf, data_buf = arr.buffers()
    dtype = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
    offsets = np.frombuffer(off_buf, dtype=dtype)[arr.offset : arr.offset + len(arr) + 1].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets, data


def stable_hash64(key: pa.Array | pa.ChunkedArray) -> pa.Array:
    """XXH64 of int64 or string keys as signed int64 (NULL -> NULL)."""
    arr = _as_array(key)
    hashes, _ = hash_keys(arr)
    return pa.array(hashes.view(np.int64), pa.int64(), mask=arr.is_null().to_numpy(zero_copy_only=False))


def _bloom_for(key: bytes, blob: memoryview, is_ref: bool, cache: FilterCache) -> AnyBloom:
    bf = cache.get(key)
    if bf is not None:
        return bf
    if is_ref:
        raise ValueError(
            "bloom filter reference is not loaded in this connection's cache (evicted or made elsewhere); "
            "call bloom_ref(filter_blob) in the same query, or pass the filter blob itself"
        )
    try:
        bf = _BLOOM_CLASSES[bytes(blob[4:6])].from_bytes(blob)
    except SketchFormatError as exc:
        raise ValueError(f"bloom_contains: {exc}") from None
    cache.put(key, bf)
    return bf


def _resolve_header(blob: memoryview) -> tuple[bytes, bool]:
    """(cache key, is_ref) of a filter blob or of a reference blob (same key for both)."""
    if len(blob) >= HEADER_SIZE and bytes(blob[:4]) == MAGIC and bytes(blob[4:6]) == REF_KIND:
        try:
            read_header(blob, REF_KIND, (REF_VERSION,))
        except SketchFormatError as exc:
            raise ValueError(f"bloom_contains: {exc}") from None
        return bytes(blob[HEADER_SIZE:]), True
    kind = bytes(blob[4:6]) if len(blob) >= 6 and bytes(blob[4:6]) in _BLOOM_CLASSES else b"BF"
    try:
        read_header(blob, kind, _BLOOM_VERSIONS[kind])
    except SketchFormatError as exc:
        raise ValueError(f"bloom_contains: {exc}") from None
    return bytes(blob[:HEADER_SIZE]), False


def _shared_filter(farr: pa.Array, offsets: np.ndarray, data: np.ndarray) -> memoryview | None:
    """The filter blob when every row of the chunk holds the same one (the usual case), else None."""
    n = len(farr)
    if farr.null_count or n == 0:
        return None
    start, width = int(offsets[0]), int(offsets[1] - offsets[0])
    if width < HEADER_SIZE or int(offsets[-1]) - start != n * width or not (np.diff(offsets) == width).all():
        return None
    # Equal-length rows back to back: compare their headers (which carry a digest of
    # the payload) as a strided 2-D view, without touching the payloads; as 64-bit
    # words when the row width allows (a bloom_ref blob is 56 bytes).
    rows = data[start : start + n * width]
    if width % 8 == 0:
        heads = rows.view(np.uint64).reshape(n, width // 8)[:, : HEADER_SIZE // 8]
    else:
        heads = rows.reshape(n, width)[:, :HEADER_SIZE]
    if not (heads == heads[0]).all():
        return None
    return data[start : start + width].data


def _bool_result(hit: np.ndarray, keys: pa.Array) -> pa.Array:
    """hit as an Arrow boolean array that is NULL where the key is NULL (key validity reused)."""
    bits = pa.py_buffer(np.packbits(hit, bitorder="little"))
    if keys.null_count == 0:
        return pa.Array.from_buffers(pa.bool_(), len(hit), [None, bits], null_count=0)
    if keys.offset == 0:
        return pa.Array.from_buffers(pa.bool_(), len(hit), [keys.buffers()[0], bits], null_count=keys.null_count)
    return pa.array(hit, pa.bool_(), mask=keys.is_null().to_numpy(zero_copy_only=False))


def make_bloom_contains(cache: FilterCache) -> Callable[[Any, Any], pa.Array]:
    """Build the vectorized bloom_contains(filter_or_ref, key) bound to a cache."""

    def lookup(blob: memoryview, karr: pa.Array, rows: np.ndarray | None, hashes: dict[int, np.ndarray]) -> np.ndarray:
        key, is_ref = _resolve_header(blob)
        bf = _bloom_for(key, blob, is_ref, cache)
        if bf.seed not in hashes:
            # int64 keys (the common case) are hashed in place, without a validity pass.
            hashes[bf.seed] = (
                hash_int64(int64_values(karr), bf.seed)
                if karr.type == pa.int64() and len(karr)
                else hash_keys(karr, bf.seed)[0]
            )
        return bf.contains_hashes(hashes[bf.seed] if rows is None else hashes[bf.seed][rows])

    def bloom_contains(filters: pa.Array | pa.ChunkedArray, keys: pa.Array | pa.ChunkedArray) -> pa.Array:
        farr, karr = _as_array(filters), _as_array(keys)
        n = len(karr)
        offsets, data = _binary_parts(farr)
        shared = _shared_filter(farr, offsets, data)
        if shared is not None:
            # Fast path: one filter for the chunk, keys hashed in place, key validity reused.
            return _bool_result(lookup(shared, karr, None, {}), karr)
        out = np.zeros(n, dtype=np.bool_)
        null = karr.is_null().to_numpy(zero_copy_only=False) | farr.is_null().to_numpy(zero_copy_only=False)
        starts, lengths = offsets[:-1], np.diff(offsets)
        live = np.flatnonzero(~null)
        if live.size:
            if not (lengths[live] >= HEADER_SIZE).all():
                raise ValueError("bloom_contains: filter blob is shorter than a sketch header (not a Bloom filter)")
            heads = data[starts[live, None] + np.arange(HEADER_SIZE)]
            hashes: dict[int, np.ndarray] = {}
            for u in np.unique(heads, axis=0):
                rows = live[(heads == u).all(axis=1)]
                r = int(rows[0])
                out[rows] = lookup(data[starts[r] : starts[r] + lengths[r]].data, karr, rows, hashes)
        return pa.array(out, pa.bool_(), mask=null)

    return bloom_contains


def make_bloom_ref(cache: FilterCache) -> Callable[[Any], pa.Array]:
    """Build bloom_ref(filter) -> small reference blob, bound to a cache."""

    def bloom_ref(filters: pa.Array | pa.ChunkedArray) -> pa.Array:
        farr = _as_array(filters)
        out: list[bytes | None] = []
        for i in range(len(farr)):
            v = farr[i]
            if not v.is_valid:
                out.append(None)
                continue
            blob = memoryview(v.as_buffer())
            key, is_ref = _resolve_header(blob)
            _bloom_for(key, blob, is_ref, cache)
            out.append(wrap(REF_KIND, REF_VERSION, key))
        return pa.array(out, pa.binary())

    return bloom_ref


def _blob_list(arr: pa.Array) -> list[bytes | None]:
    return [None if not v.is_valid else v.as_py() for v in arr]


def _decode_hll(blob: bytes, fn: str) -> tuple[int, int, np.ndarray]:
    try:
        return decode_registers(blob)
    except SketchFormatError as exc:
        raise ValueError(f"{fn}: {exc}") from None


def _estimates(register_rows: list[np.ndarray | None], ps: list[int]) -> np.ndarray:
    out = np.full(len(register_rows), np.nan)
    by_p: dict[int, list[tuple[int, np.ndarray]]] = {}
    for i, (regs, p) in enumerate(zip(register_rows, ps, strict=True)):
        if regs is not None:
            by_p.setdefault(p, []).append((i, regs))
    for p, members in by_p.items():
        rows = [i for i, _ in members]
        mat = np.stack([regs for _, regs in members])
        q2 = 66 - p
        hist = np.zeros((len(rows), q2), dtype=np.int64)
        np.add.at(hist, (np.repeat(np.arange(len(rows)), mat.shape[1]), mat.reshape(-1)), 1)
        out[rows] = estimate_from_histograms(hist, p)
    return out


def hll_estimate(blobs: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Distinct-count estimate of each serialized HLL (NULL -> NULL)."""
    arr = _as_array(blobs)
    regs: list[np.ndarray | None] = []
    ps: list[int] = []
    for b in _blob_list(arr):
        if b is None:
            regs.append(None)
            ps.append(0)
            continue
        p, _, r = _decode_hll(b, "hll_estimate")
        regs.append(r)
        ps.append(p)
    est = _estimates(regs, ps)
    return pa.array(est, pa.float64(), mask=np.isnan(est))


def _union_rows(lists: pa.Array, fn: str) -> tuple[list[np.ndarray | None], list[int], list[int]]:
    regs: list[np.ndarray | None] = []
    ps: list[int] = []
    seeds: list[int] = []
    for row in lists:
        if not row.is_valid:
            regs.append(None)
            ps.append(0)
            seeds.append(0)
            continue
        acc: np.ndarray | None = None
        p0 = seed0 = 0
        for b in row.values:
            if not b.is_valid:
                continue
            p, seed, r = _decode_hll(b.as_py(), fn)
            if acc is None:
                acc, p0, seed0 = r.copy(), p, seed
            elif (p, seed) != (p0, seed0):
                raise ValueError(
                    f"{fn}: cannot union HLL sketches with different (p, seed): {(p0, seed0)} vs {(p, seed)}"
                )
            else:
                np.maximum(acc, r, out=acc)
        regs.append(acc)
        ps.append(p0)
        seeds.append(seed0)
    return regs, ps, seeds


def hll_union_estimate(lists: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Estimate of the union of each row's list of serialized HLLs."""
    regs, ps, _ = _union_rows(_as_array(lists), "hll_union_estimate")
    est = _estimates(regs, ps)
    return pa.array(est, pa.float64(), mask=np.isnan(est))


def hll_union(lists: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Serialized union of each row's list of serialized HLLs."""
    regs, ps, seeds = _union_rows(_as_array(lists), "hll_union")
    return pa.array(
        [None if r is None else encode_registers(p, s, r) for r, p, s in zip(regs, ps, seeds, strict=True)], pa.binary()
    )


def topk_items(blobs: pa.Array | pa.ChunkedArray, ks: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Top-k items of each serialized heavy-hitter summary with lower/upper count bounds."""
    barr, karr = _as_array(blobs), _as_array(ks)
    out: list[list[dict[str, Any]] | None] = []
    for b, k in zip(barr, karr, strict=True):
        if not b.is_valid or not k.is_valid:
            out.append(None)
            continue
        if k.as_py() < 0:
            raise ValueError(f"topk_items: k must be >= 0, got {k.as_py()}")
        try:
            hh = HeavyHitters.from_bytes(b.as_py())
        except SketchFormatError as exc:
            raise ValueError(f"topk_items: {exc}") from None
        t = hh.top(k.as_py())
        items = pc.cast(t.column("item"), pa.string()).to_pylist()
        out.append(
            [
                {"item": i, "lower": lo, "upper": up}
                for i, lo, up in zip(items, t.column("lower").to_pylist(), t.column("upper").to_pylist(), strict=True)
            ]
        )
    return pa.array(out, TOPK_TYPE)


# A UDF: its SQL name, its function, its parameter types and its return type.
UdfSpec = tuple[str, Callable[..., pa.Array], list[str], str]


def udf_specs(cache: FilterCache) -> list[UdfSpec]:
    """The sketch UDFs, their Bloom filters sharing `cache`."""
    return [
        ("stable_hash64", stable_hash64, ["BIGINT"], "BIGINT"),
        ("stable_hash64_str", stable_hash64, ["VARCHAR"], "BIGINT"),
        ("bloom_contains", make_bloom_contains(cache), ["BLOB", "BIGINT"], "BOOLEAN"),
        ("bloom_contains_str", make_bloom_contains(cache), ["BLOB", "VARCHAR"], "BOOLEAN"),
        ("bloom_ref", make_bloom_ref(cache), ["BLOB"], "BLOB"),
        ("hll_estimate", hll_estimate, ["BLOB"], "DOUBLE"),
        ("hll_union_estimate", hll_union_estimate, ["BLOB[]"], "DOUBLE"),
        ("hll_union", hll_union, ["BLOB[]"], "BLOB"),
        ("topk_items", topk_items, ["BLOB", "INTEGER"], "STRUCT(item VARCHAR, lower BIGINT, upper BIGINT)[]"),
    ]


def register_udfs(con: Any, cache_size: int = 8) -> None:
    """Register all sketch UDFs and the code digest on a DuckDB connection; calling it again is a no-op."""
    specs = udf_specs(FilterCache(cache_size))
    if not all_udfs_bound(con, specs):
        _create_missing(con, specs)
    _register_code_digest(con)


def all_udfs_bound(con: Any, specs: list[UdfSpec]) -> bool:
    """True when every UDF of `specs` binds on `con`: one LIMIT 0 query, which calls none of them.

    dbt-duckdb opens a cursor for every node and the plugin checks each one: binding costs a few
    milliseconds, where listing duckdb_functions() cost tens (a build has hundreds of nodes).
    """
    calls = ", ".join(f"{name}({', '.join(f'NULL::{t}' for t in params)})" for name, _, params, _ in specs)
    try:
        # Names and types are the constants of register_udfs, never user input.
        con.execute(f"SELECT {calls} LIMIT 0").fetchall()
    except (duckdb.CatalogException, duckdb.BinderException):
        # Missing, or a function of that name with other parameter types: the catalog decides.
        return False
    return True


def _create_missing(con: Any, specs: list[UdfSpec]) -> None:
    """Create the UDFs of `specs` that `con` does not list yet."""
    names = [s[0] for s in specs]
    # DuckDB cannot reliably drop and re-create a Python UDF once the catalog
    # has been written to, so a second call keeps the existing registrations.
    existing = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_name IN "
            f"({', '.join('?' for _ in names)})",
            names,
        ).fetchall()
    }
    for name, fn, params, ret in specs:
        if name not in existing:
            con.create_function(name, fn, params, ret, type="arrow", null_handling="special", side_effects=False)


def _register_code_digest(con: Any) -> None:
    """Register shop_analytics_code_digest() unless this connection can already call it."""
    try:
        con.execute("SELECT shop_analytics_code_digest()").fetchall()
        return
    except duckdb.CatalogException:
        pass
    # No argument, one value per query: a native UDF (arrow UDFs need an input column).
    # Some dbt-duckdb cursors list it in duckdb_functions() yet cannot call it: the call
    # above, not the catalog listing, decides.
    con.create_function("shop_analytics_code_digest", package_code_digest, [], "VARCHAR", side_effects=False)
