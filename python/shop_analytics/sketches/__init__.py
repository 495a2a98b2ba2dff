"""Mergeable, serializable sketches vectorized over Arrow/NumPy key arrays.

All sketches hash keys with XXH64 (see ``hashing``), merge as monoids and
serialize to bytes with a versioned envelope (see ``envelope``)::

    bf = BloomFilter.for_capacity(1_000_000, fpr=0.01)   # or BlockedBloomFilter
    bf.add(arrow_or_numpy_keys); hits = bf.contains(keys)  # bool ndarray
    hll = HyperLogLog(p=12); hll.update(keys); hll.estimate()
    hh = HeavyHitters(capacity=1000); hh.update(keys); hh.top(100)  # item, lower, upper
    blob = sketch.to_bytes(); same = type(sketch).from_bytes(blob)
    a.merge(b)  # in place, equals building on the concatenation (see each class for HH)
"""

from shop_analytics.sketches.blocked_bloom import BlockedBloomFilter
from shop_analytics.sketches.bloom import BloomFilter
from shop_analytics.sketches.envelope import SketchFormatError
from shop_analytics.sketches.hashing import hash_bytes, hash_int64, hash_keys, xxh64
from shop_analytics.sketches.heavy_hitters import HeavyHitters
from shop_analytics.sketches.hll import HyperLogLog, relative_standard_error

__all__ = [
    "BlockedBloomFilter",
    "BloomFilter",
    "HeavyHitters",
    "HyperLogLog",
    "SketchFormatError",
    "hash_bytes",
    "hash_int64",
    "hash_keys",
    "relative_standard_error",
    "xxh64",
]
