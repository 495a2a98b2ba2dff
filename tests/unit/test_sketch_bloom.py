"""Bloom filter: sizing, no false negatives, FPR as stated, merge, serialization."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from shop_analytics.sketches import BloomFilter, SketchFormatError
from shop_analytics.sketches.bloom import optimal_num_bits


@pytest.mark.parametrize("fpr", [0.05, 0.01, 0.001])
def test_fpr_and_space_as_stated(fpr: float) -> None:
    n = 100_000
    bf = BloomFilter.for_capacity(n, fpr)
    bits_per_element = bf.num_bits / n
    assert abs(bits_per_element / (1.44 * math.log2(1 / fpr)) - 1) < 0.05
    members = np.arange(n, dtype=np.int64) * 7 + 3
    bf.add(members)
    assert bf.contains(members).all(), "false negative"
    queries = np.arange(10**9, 10**9 + 20 * int(1 / fpr) * 100, dtype=np.int64)  # disjoint from members
    measured = bf.contains(queries).mean()
    theoretical = (1 - math.exp(-bf.num_hashes * n / bf.num_bits)) ** bf.num_hashes
    assert abs(measured / fpr - 1) < 0.15, (measured, fpr)
    assert abs(measured / theoretical - 1) < 0.15
    assert abs(bf.estimated_fpr() / theoretical - 1) < 0.05
    assert abs(bf.estimated_count() / n - 1) < 0.02


def test_sparse_and_dense_insert_paths_agree() -> None:
    keys = np.arange(5_000, dtype=np.int64)
    dense = BloomFilter.for_capacity(5_000, 0.01)
    dense.add(keys)  # one big batch takes the byte-map path
    sparse = BloomFilter.for_capacity(5_000, 0.01)
    for start in range(0, keys.size, 50):
        sparse.add(keys[start : start + 50])  # small batches take the scatter-OR path
    assert dense == sparse
    assert dense.to_bytes()[32:] == sparse.to_bytes()[32:]


def test_merge_equals_concatenation() -> None:
    rng = np.random.default_rng(1)
    a_keys, b_keys = rng.integers(0, 10**12, 3000), rng.integers(0, 10**12, 5000)
    a, b, both = (BloomFilter.for_capacity(10_000, 0.01) for _ in range(3))
    a.add(a_keys)
    b.add(b_keys)
    both.add(np.concatenate([a_keys, b_keys]))
    assert a.copy().merge(b).to_bytes() == both.to_bytes()
    assert b.copy().merge(a) == both


def test_union_requires_equal_parameters() -> None:
    a = BloomFilter.for_capacity(1000, 0.01)
    with pytest.raises(ValueError, match="different parameters"):
        a.merge(BloomFilter.for_capacity(2000, 0.01))
    with pytest.raises(ValueError, match="different parameters"):
        a.merge(BloomFilter(a.num_bits, a.num_hashes, seed=1))
    with pytest.raises(TypeError, match="BloomFilter"):
        a.merge("x")  # type: ignore[arg-type]  # a wrong type on purpose


def test_string_keys_and_nulls() -> None:
    bf = BloomFilter.for_capacity(1000, 0.01)
    bf.add(pa.array(["a", None, "b"]))
    assert bf.n_added == 2
    assert bf.contains(pa.array(["a", "b", None])).tolist() == [True, True, False]


def test_serialization_roundtrip_and_errors() -> None:
    bf = BloomFilter.for_capacity(1000, 0.01, seed=9)
    bf.add(np.arange(1000))
    blob = bf.to_bytes()
    assert blob[:4] == b"SASK" and blob[4:6] == b"BF"
    back = BloomFilter.from_bytes(blob)
    assert back == bf and back.seed == 9 and back.n_added == 1000
    corrupt = bytearray(blob)
    corrupt[-1] ^= 0xFF
    with pytest.raises(SketchFormatError, match="digest mismatch"):
        BloomFilter.from_bytes(bytes(corrupt))
    wrong_version = bytearray(blob)
    wrong_version[6] = 99
    with pytest.raises(SketchFormatError, match="unsupported BF sketch version 99"):
        BloomFilter.from_bytes(bytes(wrong_version))
    with pytest.raises(SketchFormatError, match="truncated"):
        BloomFilter.from_bytes(blob[:-8])
    with pytest.raises(SketchFormatError, match="bad magic"):
        BloomFilter.from_bytes(b"X" * 64)
    with pytest.raises(SketchFormatError, match="shorter than"):
        BloomFilter.from_bytes(b"SASK")


def test_invalid_sizing() -> None:
    with pytest.raises(ValueError, match="fpr"):
        BloomFilter.for_capacity(10, 1.5)
    with pytest.raises(ValueError, match="expected_items"):
        BloomFilter.for_capacity(0, 0.01)
    with pytest.raises(ValueError, match="2\\*\\*32"):
        BloomFilter.for_capacity(10**9, 0.0001)
    assert optimal_num_bits(1000, 0.01) == math.ceil(-1000 * math.log(0.01) / math.log(2) ** 2)


def test_against_duckdb_on_generated_data(page_views: Path) -> None:
    # Customer ids are text keys (contract v2), hashed as XXH64 of their UTF-8 bytes.
    con = duckdb.connect()
    rel = f"read_parquet('{page_views}/**/*.parquet', hive_partitioning=true)"
    users = con.sql(f"SELECT DISTINCT user_id FROM {rel} WHERE user_id IS NOT NULL").to_arrow_table().column(0)
    bf = BloomFilter.for_capacity(len(users), 0.01)
    for batch in con.sql(f"SELECT user_id FROM {rel}").to_arrow_reader(4096):
        bf.add(batch.column(0))
    assert bf.contains(users).all()
    absent = (
        con.sql(
            f"SELECT 'absent-' || r AS k FROM range(0, 400000) t(r) "
            f"ANTI JOIN (SELECT user_id FROM {rel}) u ON 'absent-' || r = u.user_id"
        )
        .to_arrow_table()
        .column(0)
    )
    fp = bf.contains(absent).mean()
    # Few distinct users, so allow the binomial noise of ~40k members' worth of bits.
    assert fp < 0.01 * 1.6, fp
