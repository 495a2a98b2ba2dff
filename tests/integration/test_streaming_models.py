"""The streaming Python models, checked against exact DuckDB SQL over the same dbt-built warehouse."""

from __future__ import annotations

import math
from collections.abc import Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from shop_analytics.dbt.plugin import Plugin
from shop_analytics.dbt.streaming_models import (
    DAILY_DISTINCT_SCHEMA,
    EVENT_FILTER_SCHEMA,
    HEAVY_HITTERS_SCHEMA,
    heavy_hitters_table,
    iter_range_batches,
    plan_date_ranges,
)
from shop_analytics.sketches import BlockedBloomFilter, HeavyHitters, HyperLogLog, relative_standard_error
from support.pipeline import Warehouse
from support.sketch_parity import exact_window_viewers

PV = "staging.stg_shop__page_views"
# Sets below this size are in HLL's linear-counting range, where the error is whole viewers lost
# to two keys sharing a register, not a relative error.
SMALL_SET = 100


def assert_register_collisions_are_chance(pairs: list[tuple[float, int]], p: int) -> None:
    """(estimate, exact) of small sets: no more viewers lost than register collisions explain.

    n keys in m = 2**p registers share one with probability about n(n-1)/2m; over many sets the
    sets off by a viewer or more must stay near that expectation. Broken hashing (e.g. text keys
    hashed on a prefix) loses viewers far more often and fails this.
    """
    m = 2**p
    # What n keys in n distinct registers read as (linear counting): slightly above n.
    lost = [m * math.log(m / (m - n)) - est for est, n in pairs]
    expected = sum(n * (n - 1) / (2 * m) for _, n in pairs)
    assert sum(viewers >= 0.5 for viewers in lost) <= 3 * expected + 3, (lost, expected)
    # No set loses more than a few viewers, and none gains one.
    assert all(-0.5 <= viewers <= 4.5 for viewers in lost)


MARTS = {
    "stream_item_heavy_hitters": HEAVY_HITTERS_SCHEMA,
    "stream_item_daily_distinct_viewers": DAILY_DISTINCT_SCHEMA,
    "stream_event_id_filter": EVENT_FILTER_SCHEMA,
}
RPT_COLUMNS = {
    "item_id": "VARCHAR",
    "as_of_date": "DATE",
    "distinct_viewers_1d": "DOUBLE",
    "distinct_viewers_7d": "DOUBLE",
    "distinct_viewers_30d": "DOUBLE",
    "active_days_30d": "INTEGER",
}


@pytest.fixture()
def con(warehouse: Warehouse) -> Iterator[duckdb.DuckDBPyConnection]:
    """A plain read-only DuckDB connection: no plugin, no UDFs (what a BI tool sees)."""
    c = duckdb.connect(str(warehouse.path), read_only=True)
    yield c
    c.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def test_every_streaming_table_reads_without_udfs_and_has_the_documented_types(con: duckdb.DuckDBPyConnection) -> None:
    # dbt cannot enforce contracts on Python models, so their schema is checked here.
    for name, schema in MARTS.items():
        table = con.execute(f"select * from marts.{name}").to_arrow_table()
        assert table.num_rows > 0, name
        got = pa.schema([(f.name, f.type) for f in table.schema])
        assert got == schema, f"{name}: {got} != {schema}"
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'rpt_item_distinct_viewers_windows'"
        ).fetchall()
    )
    assert types == RPT_COLUMNS
    assert _rows(con, "select count(*) from marts.rpt_item_distinct_viewers_windows") > 0
    # No view in the project may need the plugin's UDFs to be read.
    for schema, view in con.execute("select schema_name, view_name from duckdb_views() where not internal").fetchall():
        con.execute(f'select * from "{schema}"."{view}" limit 1').fetchall()


def _exact_item_counts(con: duckdb.DuckDBPyConnection) -> dict[int, int]:
    return dict(con.execute(f"select item_id, count(*) from {PV} where item_id is not null group by 1").fetchall())


def _check_heavy_hitters(table: pa.Table, exact: dict[int, int], top_k: int) -> None:
    rows = table.to_pylist()
    n = sum(exact.values())
    assert rows and all(r["total_views"] == n for r in rows)
    d, capacity = rows[0]["max_count_error"], rows[0]["summary_capacity"]
    assert d <= n / (capacity + 1)
    for r in rows:
        assert r["views_lower"] <= exact[r["item_id"]] <= r["views_upper"], r
    ranked = sorted(exact.values(), reverse=True)
    kth = ranked[min(top_k, len(ranked)) - 1]
    reported = {r["item_id"] for r in rows}
    # Recall: every item strictly above the K-th exact count is reported (ties at K are interchangeable).
    must = {i for i, c in exact.items() if c > kth}
    assert must <= reported, f"missed {sorted(must - reported)[:10]}"
    # Every item with more than N / (capacity + 1) views is in the summary itself.
    summary = HeavyHitters.from_bytes(rows[0]["summary"])
    in_summary = set(summary.top().column("item").to_pylist())
    assert {i for i, c in exact.items() if c > n / (capacity + 1)} <= in_summary
    for r in rows:
        if r["is_certain_top_k"]:
            assert exact[r["item_id"]] >= kth


def test_heavy_hitters_model_matches_exact_counts(con: duckdb.DuckDBPyConnection, warehouse: Warehouse) -> None:
    exact = _exact_item_counts(con)
    table = con.execute("select * from marts.stream_item_heavy_hitters order by view_rank").to_arrow_table()
    _check_heavy_hitters(table, exact, top_k=table.num_rows)


@pytest.mark.parametrize("capacity", [20, 64])
def test_heavy_hitter_bounds_hold_when_the_summary_is_saturated(con: duckdb.DuckDBPyConnection, capacity: int) -> None:
    # The small fixture has fewer items than the model's capacity (an exact summary),
    # so the same code path is also run with few counters, where D > 0.
    exact = _exact_item_counts(con)
    assert len(exact) > 2 * capacity
    ranges = plan_date_ranges(con, PV, "event_date", target_rows=3_000)
    assert len(ranges) > 3
    table = heavy_hitters_table(
        iter_range_batches(con, PV, ["item_id"], "event_date", ranges, 1_000), "item_id", capacity, top_k=5
    )
    assert table.column("max_count_error")[0].as_py() > 0
    _check_heavy_hitters(table, exact, top_k=5)


def test_daily_sketches_cover_every_item_day_and_roll_up_within_the_error_bound(con: duckdb.DuckDBPyConnection) -> None:
    exact_daily = con.execute(
        f"select item_id, event_date, count(distinct user_id) from {PV} where user_id is not null "
        "group by 1, 2 order by 1, 2"
    ).fetchall()
    model = con.execute(
        "select item_id, view_date, distinct_viewers_estimate, viewer_sketch "
        "from marts.stream_item_daily_distinct_viewers order by 1, 2"
    ).fetchall()
    assert [(i, d) for i, d, _ in exact_daily] == [(i, d) for i, d, _, _ in model]
    p = HyperLogLog.from_bytes(model[0][3]).p
    rse = relative_standard_error(p)
    rel = np.array([e / x - 1 for (_, _, x), (_, _, e, _) in zip(exact_daily, model, strict=True)])
    assert np.sqrt(np.mean(rel**2)) <= rse
    # Roll every item's days up to its whole-history sketch and compare with exact SQL.
    exact_items = dict(
        con.execute(
            f"select item_id, count(distinct user_id) from {PV} where user_id is not null group by 1"
        ).fetchall()
    )
    merged: dict[int, HyperLogLog] = {}
    for item, _, _, blob in model:
        h = HyperLogLog.from_bytes(blob)
        merged[item] = merged[item].merge(h) if item in merged else h
    errors = np.array([merged[i].estimate() / exact_items[i] - 1 for i in exact_items])
    # The fixture's sets are mostly small (HLL's linear-counting range); large sets are
    # covered by tests/unit/test_sketch_hll.py.
    big = np.array([exact_items[i] >= SMALL_SET for i in exact_items])
    assert big.sum() >= 5, "fixture too small for a meaningful HLL check"
    assert np.sqrt(np.mean(errors[big] ** 2)) <= 1.25 * rse
    assert np.abs(errors[big]).max() <= 5 * rse
    assert_register_collisions_are_chance(
        [(merged[i].estimate(), n) for i, n in exact_items.items() if n < SMALL_SET], p
    )


def test_window_report_matches_exact_distinct_counts(con: duckdb.DuckDBPyConnection) -> None:
    rpt = con.execute("select * from marts.rpt_item_distinct_viewers_windows").to_arrow_table().to_pylist()
    as_of = rpt[0]["as_of_date"]
    assert as_of == con.execute(f"select max(event_date) from {PV} where user_id is not null").fetchone()[0]
    exact = exact_window_viewers(con, as_of)
    assert set(exact) == {r["item_id"] for r in rpt}
    rse = relative_standard_error(12)
    small: list[tuple[float, int]] = []
    for r in rpt:
        e1, e7, e30, days = exact[r["item_id"]]
        assert r["active_days_30d"] == days
        for est, true in (
            (r["distinct_viewers_1d"], e1),
            (r["distinct_viewers_7d"], e7),
            (r["distinct_viewers_30d"], e30),
        ):
            if true < SMALL_SET:
                small.append((est, true))
            else:
                assert abs(est - true) <= 4 * rse * true, (r, exact[r["item_id"]])
    assert_register_collisions_are_chance(small, 12)


def test_event_id_filter_has_no_false_negatives_and_the_stated_fpr(con: duckdb.DuckDBPyConnection) -> None:
    row = con.execute("select * from marts.stream_event_id_filter").to_arrow_table().to_pylist()
    assert len(row) == 1
    meta = row[0]
    assert meta["filter_kind"] == "split_block"
    bf = BlockedBloomFilter.from_bytes(meta["bloom_filter"])
    assert meta["num_bits"] == bf.num_bits and meta["num_hashes"] == bf.num_hashes
    ids = con.execute(f"select page_view_id from {PV}").to_arrow_table().column(0)
    assert meta["keys_inserted"] == len(ids) <= meta["expected_keys"]
    assert bf.contains(ids).all()
    # Ids that never occur: everything above the largest id.
    top = int(np.max(ids.to_numpy()))
    absent = np.arange(top + 1, top + 1 + 400_000, dtype=np.int64)
    fpr = bf.contains(absent).mean()
    assert fpr <= meta["target_fpr"] * 1.15
    assert abs(fpr - meta["estimated_fpr"]) <= 0.15 * meta["estimated_fpr"]


def test_event_id_filter_through_the_plugin_udfs(warehouse: Warehouse) -> None:
    c = duckdb.connect()
    Plugin(name="dbt_plugin", plugin_config={}).configure_connection(c)
    c.execute(f"attach '{warehouse.path}' as wh (read_only)")
    missing = c.execute(
        "select count(*) from wh.staging.stg_shop__page_views "
        "where not bloom_contains((select bloom_ref(bloom_filter) from wh.marts.stream_event_id_filter), page_view_id)"
    ).fetchone()[0]
    assert missing == 0
    # topk_items reads the stored summary; it must list the table's items in rank order.
    top = c.execute(
        "select [t.item for t in topk_items(summary, (select count(*) from wh.marts.stream_item_heavy_hitters)::int)] "
        "from wh.marts.stream_item_heavy_hitters where view_rank = 1"
    ).fetchone()[0]
    expected = c.execute(
        "select list(item_id::varchar order by view_rank) from wh.marts.stream_item_heavy_hitters"
    ).fetchone()[0]
    assert top == expected
    c.close()


@pytest.mark.parametrize("bad", [0, "many"])
def test_plugin_rejects_a_bad_cache_size(bad: object) -> None:
    with pytest.raises(ValueError, match="udf_cache_size"):
        Plugin(name="dbt_plugin", plugin_config={"udf_cache_size": bad})


def test_plugin_sets_the_configured_arrow_memory_pool_and_rejects_unknown_ones() -> None:
    before = pa.default_memory_pool()
    try:
        Plugin(name="dbt_plugin", plugin_config={"arrow_memory_pool": "system"})
        assert pa.default_memory_pool().backend_name == "system"
        with pytest.raises(ValueError, match="arrow_memory_pool"):
            Plugin(name="dbt_plugin", plugin_config={"arrow_memory_pool": "tcmalloc"})
    finally:
        pa.set_memory_pool(before)
