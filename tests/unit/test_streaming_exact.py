"""Exact grouped partial aggregates across chunk boundaries, checked against DuckDB."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from shop_analytics.streaming import GroupedAggregate, run

AGGS = {
    "views": ("count_all", None),
    "users": ("count", "user_id"),
    "user_sum": ("sum", "user_id"),
    "first_id": ("min", "page_view_id"),
    "last_id": ("max", "page_view_id"),
    "mean_user": ("mean", "user_id"),
}
SQL = """
SELECT item_id, kind, count(*) AS views, count(user_id) AS users, sum(user_id)::BIGINT AS user_sum,
       min(page_view_id) AS first_id, max(page_view_id) AS last_id, avg(user_id) AS mean_user
FROM t GROUP BY item_id, kind ORDER BY item_id NULLS LAST, kind NULLS LAST
"""


def _table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 1000, n)
    return pa.table(
        {
            "page_view_id": pa.array(np.arange(n, dtype=np.int64)),
            "item_id": pa.array(rng.zipf(1.5, n) % 50, mask=rng.random(n) < 0.02),
            "kind": pa.array(rng.choice(["view", "click", "buy"], n), mask=rng.random(n) < 0.05),
            "user_id": pa.array(user, mask=rng.random(n) < 0.25),
        }
    )


def _expected(t: pa.Table) -> pa.Table:
    con = duckdb.connect()
    con.register("t", t)
    return con.sql(SQL).to_arrow_table()


def _assert_same(got: pa.Table, want: pa.Table) -> None:
    assert got.column_names == want.column_names
    for name in got.column_names:
        g, w = got.column(name).to_pylist(), want.column(name).to_pylist()
        if name == "mean_user":
            assert all((a is None and b is None) or abs(a - b) < 1e-9 for a, b in zip(g, w, strict=True))
        else:
            assert g == w, name


@pytest.mark.parametrize("chunk", [1, 7, 10**6])
def test_grouped_partials_merge_across_chunks(chunk: int) -> None:
    t = _table({1: 1_000, 7: 5_000}.get(chunk, 100_000), seed=chunk)
    # A small compaction threshold forces many re-aggregations of partials.
    agg = GroupedAggregate(["item_id", "kind"], AGGS, compact_rows=64)
    got = run(agg, t, batch_rows=chunk, progress=False)
    _assert_same(got, _expected(t))


def test_global_aggregate_and_empty_input() -> None:
    t = _table(1000, seed=1)
    got = run(GroupedAggregate([], {"n": ("count_all", None), "s": ("sum", "user_id")}), t, batch_rows=33)
    want = duckdb.sql("SELECT count(*) AS n, sum(user_id)::BIGINT AS s FROM t").to_arrow_table()
    assert got.to_pylist() == want.to_pylist()
    agg = GroupedAggregate(["item_id"], {"n": ("count_all", None)})
    with pytest.raises(ValueError, match="no rows"):
        agg.finalize(agg.init())


def test_merge_of_states_matches_one_pass() -> None:
    t = _table(20_000, seed=3)
    agg = GroupedAggregate(["item_id", "kind"], AGGS, compact_rows=100)
    left, right = agg.init(), agg.init()
    for b in t.slice(0, 9_001).to_batches(max_chunksize=1000):
        left = agg.update(left, b)
    for b in t.slice(9_001).to_batches(max_chunksize=777):
        right = agg.update(right, b)
    _assert_same(agg.finalize(agg.merge(left, right)), _expected(t))


def test_bad_specs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown function"):
        GroupedAggregate(["a"], {"x": ("median", "b")})
    with pytest.raises(ValueError, match="needs a column"):
        GroupedAggregate(["a"], {"x": ("sum", None)})
    with pytest.raises(ValueError, match="clashes"):
        GroupedAggregate(["a"], {"a": ("sum", "b")})
    agg = GroupedAggregate(["nope"], {"n": ("count_all", None)})
    with pytest.raises(KeyError, match="nope"):
        run(agg, _table(10, seed=0))
