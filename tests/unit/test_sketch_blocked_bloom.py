"""Split-block Bloom filter: stated FPR and space trade, merge, serialization, SQL."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from shop_analytics.dbt.udfs import register_udfs
from shop_analytics.sketches import BlockedBloomFilter, BloomFilter, SketchFormatError
from shop_analytics.sketches.blocked_bloom import blocked_fpr
from shop_analytics.sketches.envelope import HEADER_SIZE, wrap
from shop_analytics.streaming import BloomAggregator, run

# The space the module docstring states it trades for one-cache-line lookups.
STATED_OVERHEAD = {0.05: 0.028, 0.01: 0.045, 0.001: 0.071}


@pytest.mark.parametrize("fpr", sorted(STATED_OVERHEAD))
def test_fpr_as_stated_with_stated_space(fpr: float) -> None:
    n = 100_000
    bf = BlockedBloomFilter.for_capacity(n, fpr)
    assert abs(bf.space_overhead(n, fpr) - STATED_OVERHEAD[fpr]) < 0.005
    assert blocked_fpr(bf.num_bits / n, bf.num_hashes) <= fpr
    members = np.arange(n, dtype=np.int64) * 3
    bf.add(members)
    assert bf.contains(members).all(), "false negative"
    queries = np.arange(10**10, 10**10 + 2_000 * int(1 / fpr), dtype=np.int64)
    measured = bf.contains(queries).mean()
    assert abs(measured / fpr - 1) < 0.15, measured
    assert abs(bf.estimated_fpr() / fpr - 1) < 0.15


def test_merge_equals_concatenation_and_parameters_checked() -> None:
    rng = np.random.default_rng(8)
    a_keys, b_keys = rng.integers(0, 10**12, 4000), rng.integers(0, 10**12, 6000)
    a, b, both = (BlockedBloomFilter.for_capacity(10_000, 0.01) for _ in range(3))
    a.add(a_keys)
    for start in range(0, b_keys.size, 100):  # small batches take the scatter-OR path
        b.add(b_keys[start : start + 100])
    both.add(np.concatenate([a_keys, b_keys]))
    assert a.copy().merge(b).to_bytes() == both.to_bytes()
    with pytest.raises(ValueError, match="different parameters"):
        a.merge(BlockedBloomFilter.for_capacity(20_000, 0.01))
    with pytest.raises(TypeError):
        a.merge(BloomFilter.for_capacity(10_000, 0.01))  # type: ignore[arg-type]  # another filter kind on purpose


def test_serialization_and_errors() -> None:
    bf = BlockedBloomFilter.for_capacity(500, 0.02, seed=3)
    bf.add(pa.array(["x", None, "y"]))
    blob = bf.to_bytes()
    back = BlockedBloomFilter.from_bytes(blob)
    assert back == bf and back.n_added == 2
    assert back.contains(pa.array(["x", "y", None])).tolist() == [True, True, False]
    with pytest.raises(SketchFormatError, match="wrong sketch kind"):
        BloomFilter.from_bytes(blob)
    with pytest.raises(SketchFormatError, match="digest"):
        BlockedBloomFilter.from_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(ValueError, match="fpr"):
        BlockedBloomFilter.for_capacity(10, 0.0)


def test_version_1_blobs_are_refused_with_a_clear_error() -> None:
    blob = BlockedBloomFilter.for_capacity(500, 0.02).to_bytes()
    payload = blob[HEADER_SIZE:]
    v1 = wrap(b"BB", 1, payload)
    with pytest.raises(SketchFormatError, match=r"version 1 .* no longer readable.*Rebuild"):
        BlockedBloomFilter.from_bytes(v1)
    with pytest.raises(SketchFormatError, match="unsupported BB sketch version 3"):
        BlockedBloomFilter.from_bytes(wrap(b"BB", 3, payload))


def test_insert_order_and_batching_do_not_change_the_bits() -> None:
    # Inserts sort each batch and resolve keys that share a block in rounds;
    # the result must be the plain union of every key's bits.
    rng = np.random.default_rng(4)
    keys = rng.integers(0, 10**12, 50_000)
    keys[::7] = keys[0]  # many repeats of one key: one block hit many times in a step
    tiny = BlockedBloomFilter(3, 7)  # 3 blocks: nearly every step has shared blocks
    one_by_one, shuffled, whole = (BlockedBloomFilter.for_capacity(20_000, 0.01) for _ in range(3))
    whole.add(keys)
    for start in range(0, keys.size, 333):
        one_by_one.add(keys[start : start + 333])
    shuffled.add(rng.permutation(keys))
    assert whole == one_by_one == shuffled
    tiny.add(keys)
    expected = np.zeros_like(tiny.words)
    for key in keys[:2000]:  # reference: OR each key's masks into its block, one key at a time
        ref = BlockedBloomFilter(3, 7)
        ref.add(np.array([key]))
        expected |= ref.words
    tiny_part = BlockedBloomFilter(3, 7)
    tiny_part.add(keys[:2000])
    assert np.array_equal(tiny_part.words, expected)
    assert tiny.contains(keys).all()


def test_aggregator_and_udf_accept_blocked_filters() -> None:
    keys = pa.table({"k": pa.array(np.arange(0, 20_000, 2, dtype=np.int64))})
    bf = run(BloomAggregator("k", expected_items=10_000, blocked=True), keys, batch_rows=999, progress=False)
    assert isinstance(bf, BlockedBloomFilter) and bf.contains(keys.column("k")).all()
    con = duckdb.connect()
    register_udfs(con)
    con.execute("CREATE TABLE f AS SELECT ?::BLOB AS blob", [bf.to_bytes()])
    hits = con.sql("SELECT count(*) FROM range(20000) t(k) WHERE bloom_contains((SELECT bloom_ref(blob) FROM f), k)")
    n_hits = hits.fetchone()[0]
    assert 10_000 <= n_hits < 10_000 * (1 + 0.01 * 1.5) + 5
    assert math.isclose(bf.num_bits / 10_000, -math.log(0.01) / math.log(2) ** 2 * 1.045, rel_tol=0.01)
