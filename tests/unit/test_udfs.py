"""The sketch UDFs through real DuckDB SQL: results, NULLs, errors, caching."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from shop_analytics.dbt.udfs import FilterCache, all_udfs_bound, make_bloom_contains, register_udfs, udf_specs
from shop_analytics.sketches import BloomFilter, HeavyHitters, HyperLogLog, relative_standard_error, xxh64
from shop_analytics.streaming import GroupedDistinctAggregator, HeavyHittersAggregator, run


@pytest.fixture()
def con(page_views: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    register_udfs(c)
    c.execute(f"CREATE VIEW pv AS SELECT * FROM read_parquet('{page_views}/**/*.parquet', hive_partitioning=true)")
    return c


def test_stable_hash64_matches_python_and_handles_nulls(con: duckdb.DuckDBPyConnection) -> None:
    row = con.sql(
        "SELECT stable_hash64(42), stable_hash64(NULL::BIGINT), stable_hash64_str('abc'), "
        "stable_hash64_str(NULL), stable_hash64(42::INTEGER)"
    ).fetchone()
    as_signed = int(np.uint64(xxh64((42).to_bytes(8, "little"))).view(np.int64))
    assert row == (as_signed, None, int(np.uint64(0x44BC2CF5AD770999).view(np.int64)), None, as_signed)
    register_udfs(con)  # re-registering on the same connection is allowed


def test_bloom_contains_in_where_clause(con: duckdb.DuckDBPyConnection) -> None:
    users = con.sql("SELECT DISTINCT user_id FROM pv WHERE user_id IS NOT NULL").to_arrow_table().column(0)
    bf = BloomFilter.for_capacity(len(users), 0.01)
    bf.add(users)
    con.execute("CREATE TABLE f AS SELECT ?::BLOB AS blob", [bf.to_bytes()])
    n_members = con.sql("SELECT count(DISTINCT user_id) FROM pv WHERE user_id IS NOT NULL").fetchone()[0]
    # Customer ids are text keys (contract v2): the _str variant hashes their UTF-8 bytes.
    direct = con.sql("SELECT count(DISTINCT user_id) FROM pv WHERE bloom_contains_str((SELECT blob FROM f), user_id)")
    assert direct.fetchone()[0] == n_members  # no false negatives
    via_ref = con.sql(
        "SELECT count(DISTINCT user_id) FROM pv WHERE bloom_contains_str((SELECT bloom_ref(blob) FROM f), user_id)"
    )
    assert via_ref.fetchone()[0] == n_members
    absent = con.sql(
        "SELECT count(*) FROM range(10000000, 10100000) t(k) "
        "WHERE bloom_contains_str((SELECT bloom_ref(blob) FROM f), 'x' || k)"
    ).fetchone()[0]
    assert absent / 100_000 < 0.01 * 1.15
    assert con.sql("SELECT bloom_contains(NULL, 1), bloom_contains((SELECT blob FROM f), NULL)").fetchone() == (
        None,
        None,
    )


def test_bloom_contains_str_and_per_row_filters(con: duckdb.DuckDBPyConnection) -> None:
    a, b = BloomFilter.for_capacity(100, 0.01), BloomFilter.for_capacity(100, 0.01)
    a.add(pa.array(["x", "y"]))
    b.add(pa.array(["z"]))
    got = con.execute(
        "SELECT bloom_contains_str(f, k) "
        "FROM (VALUES (?::BLOB, 'x'), (?::BLOB, 'z'), (?::BLOB, 'z'), (?::BLOB, NULL)) t(f, k)",
        [a.to_bytes(), a.to_bytes(), b.to_bytes(), b.to_bytes()],
    ).fetchall()
    assert [r[0] for r in got] == [True, False, True, None]


def test_bad_blobs_raise_readable_errors(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.InvalidInputException, match="not a Bloom filter"):
        con.sql("SELECT bloom_contains('junk'::BLOB, 1)").fetchall()
    hll = HyperLogLog().to_bytes()
    with pytest.raises(duckdb.InvalidInputException, match="wrong sketch kind"):
        con.execute("SELECT bloom_contains(?, 1)", [hll]).fetchall()
    with pytest.raises(duckdb.InvalidInputException, match="hll_estimate: not a shop_analytics sketch"):
        con.execute("SELECT hll_estimate(?)", [b"x" * 40]).fetchall()
    broken = bytearray(hll)
    broken[-1] ^= 1
    with pytest.raises(duckdb.InvalidInputException, match="digest mismatch"):
        con.execute("SELECT hll_estimate(?)", [bytes(broken)]).fetchall()
    with pytest.raises(duckdb.InvalidInputException, match="topk_items"):
        con.execute("SELECT topk_items(?, 3)", [hll]).fetchall()
    ref = con.execute("SELECT bloom_ref(?)", [BloomFilter.for_capacity(10, 0.1).to_bytes()]).fetchone()[0]
    fresh = duckdb.connect()
    register_udfs(fresh)
    with pytest.raises(duckdb.InvalidInputException, match="reference is not loaded"):
        fresh.execute("SELECT bloom_contains(?, 1)", [ref]).fetchall()


def test_filter_cache_is_bounded_and_reused() -> None:
    cache = FilterCache(maxsize=2)
    contains = make_bloom_contains(cache)
    filters = []
    for i in range(3):
        bf = BloomFilter.for_capacity(100, 0.01, seed=i)
        bf.add(np.array([i]))
        filters.append(bf.to_bytes())
    for blob in filters:
        out = contains(pa.array([blob] * 3, pa.binary()), pa.array([0, 1, 2]))
        assert out.to_pylist()[filters.index(blob)] is True
    assert len(cache) == 2


def test_hll_rollup_of_daily_sketches(con: duckdb.DuckDBPyConnection, page_views: Path) -> None:
    daily = run(GroupedDistinctAggregator(["item_id"], "user_id", time_column="viewed_at"), page_views, progress=False)
    con.register("daily_arrow", daily)
    con.execute("CREATE TABLE daily AS SELECT * FROM daily_arrow")
    got = con.sql("""
        WITH est AS (
            SELECT item_id, hll_union_estimate(list(sketch)) AS est, hll_estimate(hll_union(list(sketch))) AS est2
            FROM daily WHERE day BETWEEN DATE '2018-01-08' AND DATE '2018-01-21' GROUP BY item_id),
        exact AS (
            SELECT item_id, count(DISTINCT user_id) AS n FROM pv
            WHERE viewed_at::DATE BETWEEN DATE '2018-01-08' AND DATE '2018-01-21' AND user_id IS NOT NULL
            GROUP BY item_id)
        SELECT n, est, est2 FROM exact JOIN est USING (item_id) WHERE n >= 100
    """).fetchall()
    assert len(got) >= 3
    for n, est, est2 in got:
        assert est == est2
        assert abs(est / n - 1) < 3 * relative_standard_error(12)
    nulls = con.sql("SELECT hll_estimate(NULL), hll_union_estimate(NULL), hll_union_estimate([NULL::BLOB])").fetchone()
    assert nulls == (None, None, None)


def test_topk_items(con: duckdb.DuckDBPyConnection, page_views: Path) -> None:
    hh = run(HeavyHittersAggregator("item_id", capacity=200), page_views, progress=False)
    con.execute("CREATE TABLE hh AS SELECT ?::BLOB AS blob", [hh.to_bytes()])
    top = con.sql("SELECT unnest(topk_items(blob, 5), recursive := true) FROM hh").fetchall()
    exact = con.sql(
        "SELECT item_id::VARCHAR, count(*) FROM pv WHERE item_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
    ).fetchall()
    assert len(top) == 5
    truth = dict(con.sql("SELECT item_id::VARCHAR, count(*) FROM pv GROUP BY 1").fetchall())
    assert all(lo <= truth[item] <= up for item, lo, up in top)
    assert {i for i, _, _ in top} == {i for i, _ in exact}
    assert con.sql("SELECT topk_items(NULL, 3), topk_items(blob, NULL) FROM hh").fetchone() == (None, None)
    small = HeavyHitters(5)
    small.update(pa.array(["a", "a", "b"]))
    assert con.execute("SELECT topk_items(?, 1)", [small.to_bytes()]).fetchone()[0] == [
        {"item": "a", "lower": 2, "upper": 2}
    ]


def test_a_connection_missing_some_udfs_gets_them_and_a_cursor_sees_them() -> None:
    """The per-cursor check binds the UDFs; a miss (here all but one) creates only what is missing."""
    specs = udf_specs(FilterCache(2))
    con = duckdb.connect()
    assert not all_udfs_bound(con, specs)
    name, fn, params, ret = specs[0]
    con.create_function(name, fn, params, ret, type="arrow", null_handling="special", side_effects=False)
    assert not all_udfs_bound(con, specs)
    register_udfs(con)  # creating stable_hash64 again would raise: only the missing ones are created
    assert all_udfs_bound(con, specs)
    cursor = con.cursor()
    assert all_udfs_bound(cursor, specs)
    register_udfs(cursor)
    assert cursor.execute("SELECT hll_estimate(NULL::BLOB), stable_hash64(NULL::BIGINT)").fetchone() == (None, None)


def test_every_cursor_dbt_duckdb_hands_out_sees_the_udfs_of_its_connection(tmp_path: Path) -> None:
    """The plugin registers on dbt-duckdb's parent connection only; each node's cursor binds every UDF.

    The profile's instance-wide options (config_options) hold on every cursor too, and the per-cursor
    settings (the time zone) are applied by dbt-duckdb to each one.
    """
    from dbt.adapters.duckdb.credentials import DuckDBCredentials, PluginConfig
    from dbt.adapters.duckdb.environments.local import LocalEnvironment

    creds = DuckDBCredentials(
        database="warehouse",
        schema="main",
        path=str(tmp_path / "warehouse.duckdb"),
        plugins=[PluginConfig(module="shop_analytics.dbt.plugin")],
        config_options={"threads": "1", "memory_limit": "256MB", "temp_directory": str(tmp_path / "tmp")},
        settings={"TimeZone": "UTC"},
    )
    environment = LocalEnvironment(creds)
    handles = [environment.handle() for _ in range(3)]
    try:
        for handle in handles:
            cursor = handle.cursor()
            assert all_udfs_bound(cursor, udf_specs(FilterCache(2)))
            assert cursor.execute(
                "SELECT current_setting('TimeZone'), current_setting('threads'), current_setting('memory_limit')"
            ).fetchone() == ("UTC", 1, "244.1 MiB")
    finally:
        for handle in handles:
            handle.close()
