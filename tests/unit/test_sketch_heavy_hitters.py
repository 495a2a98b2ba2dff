"""Misra-Gries heavy hitters: guarantee, bounds, recall, merge, serialization."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from shop_analytics.sketches import HeavyHitters, SketchFormatError


def _exact(con: duckdb.DuckDBPyConnection, rel: str) -> tuple[np.ndarray, np.ndarray]:
    t = con.sql(
        f"SELECT item_id, count(*) AS n FROM {rel} WHERE item_id IS NOT NULL GROUP BY 1 ORDER BY n DESC, item_id"
    )
    tab = t.to_arrow_table()
    return tab.column(0).to_numpy(), tab.column(1).to_numpy()


@pytest.mark.parametrize("capacity", [50, 500])
def test_guarantee_bounds_and_recall_on_zipf(page_views: Path, capacity: int) -> None:
    con = duckdb.connect()
    rel = f"read_parquet('{page_views}/**/*.parquet', hive_partitioning=true)"
    items, counts = _exact(con, rel)
    n_total = int(counts.sum())
    hh = HeavyHitters(capacity)
    for batch in con.sql(f"SELECT item_id FROM {rel}").to_arrow_reader(7_777):
        hh.update(batch.column(0))
    assert hh.n == n_total
    assert len(hh.counts) <= capacity
    # The mergeable-summaries bound on the error offset.
    assert hh.error <= (n_total - hh.counts.sum()) / (capacity + 1)
    lower, upper = hh.bounds(pa.array(items))
    assert (lower <= counts).all() and (counts <= upper).all()
    reported = set(hh.items.to_pylist())
    must = set(items[counts > n_total / (capacity + 1)].tolist())
    assert must and must <= reported
    top = hh.top(10)
    assert (np.array(top.column("lower")) <= np.array(top.column("upper"))).all()
    k = 10 if capacity == 50 else 100
    recall = len(set(hh.top(k).column("item").to_pylist()) & set(items[:k].tolist())) / k
    assert recall >= (0.8 if capacity == 50 else 0.95), recall


def test_exact_when_distinct_fits_and_merge_equals_concatenation() -> None:
    rng = np.random.default_rng(4)
    a_keys, b_keys = rng.integers(0, 40, 1000), rng.integers(20, 60, 700)
    a, b, both = HeavyHitters(100), HeavyHitters(100), HeavyHitters(100)
    a.update(a_keys)
    b.update(b_keys)
    both.update(np.concatenate([a_keys, b_keys]))
    merged = a.copy().merge(b)
    assert merged.to_bytes() == both.to_bytes()
    assert merged.error == 0
    vals, cnts = np.unique(np.concatenate([a_keys, b_keys]), return_counts=True)
    lower, upper = merged.bounds(vals)
    assert np.array_equal(lower, cnts) and np.array_equal(upper, cnts)


def test_merge_keeps_guarantee_when_pruning() -> None:
    rng = np.random.default_rng(5)
    parts = [rng.zipf(1.3, 20_000) for _ in range(6)]
    summaries = []
    for part in parts:
        s = HeavyHitters(30)
        s.update(part)
        summaries.append(s)
    merged = summaries[0]
    for s in summaries[1:]:
        merged.merge(s)
    everything = np.concatenate(parts)
    vals, cnts = np.unique(everything, return_counts=True)
    lower, upper = merged.bounds(vals)
    assert merged.n == everything.size
    assert (lower <= cnts).all() and (cnts <= upper).all()
    assert set(vals[cnts > everything.size / 31].tolist()) <= set(merged.items.to_pylist())


def test_string_keys_nulls_and_serialization() -> None:
    hh = HeavyHitters(3)
    hh.update(pa.array(["a", "b", "a", None, "c", "a", "d", "ü"]))
    assert hh.n == 7
    back = HeavyHitters.from_bytes(hh.to_bytes())
    assert back == hh and back.top().equals(hh.top())
    assert hh.frequent(1, no_false_negatives=False).column("item").to_pylist() == ["a"]
    with pytest.raises(TypeError, match="key type changed"):
        hh.update(np.array([1, 2]))
    with pytest.raises(TypeError, match="integer or string"):
        hh.update(pa.array([1.5]))
    blob = bytearray(hh.to_bytes())
    blob[40] ^= 1
    with pytest.raises(SketchFormatError):
        HeavyHitters.from_bytes(bytes(blob))
    with pytest.raises(ValueError, match="capacities"):
        hh.merge(HeavyHitters(4))
    assert HeavyHitters.from_bytes(HeavyHitters(5).to_bytes()).n == 0
