"""Streaming sketches merged into their stored state: the incremental runs of the daily HLLs and the event-id filter."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import duckdb
import pyarrow as pa
import pytest

from shop_analytics.dbt.streaming_models import (
    EVENT_FILTER_SCHEMA,
    bloom_capacity,
    bloom_filter_table,
    daily_distinct_reader,
    heavy_hitters_table,
    plan_date_ranges,
    stored_bloom_filter,
    stored_heavy_hitters,
)
from shop_analytics.sketches import HeavyHitters

START = dt.date(2024, 3, 1)


def _views(seed: int, n: int) -> list[tuple[str, str | None, dt.date]]:
    """(item, viewer or None for anonymous, day): skewed items, repeat viewers, a few anonymous views."""
    rng = random.Random(seed)
    return [
        (
            f"item-{min(int(rng.paretovariate(1.2)), 40)}",
            None if rng.random() < 0.05 else f"user-{rng.randrange(3000)}",
            START + dt.timedelta(days=rng.randrange(12)),
        )
        for _ in range(n)
    ]


def _load(con: duckdb.DuckDBPyConnection, name: str, rows: list[tuple[str, str | None, dt.date]]) -> None:
    items, users, days = zip(*rows, strict=True)
    con.register("rows_to_load", pa.table({"item_id": items, "user_id": users, "event_date": days}))
    con.execute(f"create table {name} as select * from rows_to_load")
    con.unregister("rows_to_load")


def _sketches(con: duckdb.DuckDBPyConnection, relation: str, p: int = 12, stored: str | None = None) -> list[tuple]:
    # Small ranges, so a merge spans several reader queries.
    ranges = plan_date_ranges(con, relation, "event_date", 500)
    reader = daily_distinct_reader(
        con, relation, "item_id", "user_id", "event_date", "event_date", ranges, p=p, stored=stored
    )
    return sorted(tuple(row.values()) for row in reader.read_all().to_pylist())


def _store(con: duckdb.DuckDBPyConnection, name: str, rows: list[tuple]) -> None:
    con.execute(
        f"create or replace table {name} "
        "(item_id varchar, view_date date, distinct_viewers_estimate double, viewer_sketch blob)"
    )
    con.executemany(f"insert into {name} values (?, ?, ?, ?)", rows)


def _delete_insert(con: duckdb.DuckDBPyConnection, name: str, rows: list[tuple]) -> None:
    """What dbt's delete+insert on (item_id, view_date) does with the merged rows."""
    con.executemany(f"delete from {name} where item_id = ? and view_date = ?", [r[:2] for r in rows])
    con.executemany(f"insert into {name} values (?, ?, ?, ?)", rows)


def _table(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple]:
    return sorted(con.execute(f"select * from {name}").fetchall())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_merging_later_batches_gives_the_full_builds_sketches_byte_for_byte(seed: int) -> None:
    con = duckdb.connect()
    earlier, later = _views(seed, 6000), _views(seed + 100, 2500)
    # Later batches revisit earlier (item, day)s, and bring a day the stored table does not have.
    later += [("item-new", "user-1", START + dt.timedelta(days=30)), ("item-1", "user-1", START)]
    _load(con, "earlier", earlier)
    _load(con, "later", later)
    _load(con, "everything", earlier + later)
    _store(con, "daily", _sketches(con, "earlier"))
    merged = _sketches(con, "later", stored="daily")
    # Only the window's (item, day)s are written.
    assert len(merged) < len(_sketches(con, "everything"))
    _delete_insert(con, "daily", merged)
    assert _table(con, "daily") == _sketches(con, "everything")
    # Merging the same batches again (a build killed before its watermark moved) changes nothing.
    _delete_insert(con, "daily", _sketches(con, "later", stored="daily"))
    assert _table(con, "daily") == _sketches(con, "everything")


def test_a_window_of_anonymous_views_writes_nothing() -> None:
    con = duckdb.connect()
    _load(con, "earlier", _views(5, 1000))
    _load(con, "later", [("item-1", None, START)])
    _store(con, "daily", _sketches(con, "earlier"))
    assert _sketches(con, "later", stored="daily") == []


def test_stored_sketches_of_another_precision_ask_for_a_full_refresh() -> None:
    con = duckdb.connect()
    _load(con, "earlier", _views(7, 1000))
    _store(con, "daily", _sketches(con, "earlier", p=10))
    with pytest.raises(ValueError, match=r"p=10, this run's p=12.*--full-refresh"):
        _sketches(con, "earlier", p=12, stored="daily")


def _ids(ids: range) -> list[pa.RecordBatch]:
    return pa.table({"page_view_id": pa.array(ids, pa.int64())}).to_batches(max_chunksize=700)


def _filter_row(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register("filter_row", table)
    con.execute(f"create or replace table {name} as select * from filter_row")
    con.unregister("filter_row")


def test_ids_added_to_a_stored_filter_give_the_full_builds_filter() -> None:
    con = duckdb.connect()
    capacity = bloom_capacity(5000)
    _filter_row(con, "event_filter", bloom_filter_table(iter(_ids(range(3000))), "page_view_id", capacity, 0.01, 7))
    stored = stored_bloom_filter(con, "event_filter", "page_view_id", capacity, 0.01)
    assert stored is not None and stored[1] == 7
    grown = bloom_filter_table(iter(_ids(range(3000, 5000))), "page_view_id", capacity, 0.01, 9, initial=stored[0])
    full = bloom_filter_table(iter(_ids(range(5000))), "page_view_id", capacity, 0.01, 9)
    assert grown.schema.remove_metadata().field("consumed_through_commit_seq") == EVENT_FILTER_SCHEMA.field(
        "consumed_through_commit_seq"
    )
    assert grown.to_pylist() == full.to_pylist()
    assert grown.column("keys_inserted")[0].as_py() == 5000


def test_a_stored_filter_of_another_size_or_fpr_is_built_again() -> None:
    con = duckdb.connect()
    capacity = bloom_capacity(1000)
    _filter_row(con, "event_filter", bloom_filter_table(iter(_ids(range(1000))), "page_view_id", capacity, 0.01, 3))
    assert stored_bloom_filter(con, "event_filter", "page_view_id", capacity, 0.01) is not None
    # The lake outgrew the capacity, the FPR changed, or it is another column's filter.
    assert stored_bloom_filter(con, "event_filter", "page_view_id", bloom_capacity(capacity + 1), 0.01) is None
    assert stored_bloom_filter(con, "event_filter", "page_view_id", capacity, 0.001) is None
    assert stored_bloom_filter(con, "event_filter", "event_id", capacity, 0.01) is None


@pytest.mark.parametrize("rows", [1, 7, 15, 16, 17, 100, 1000, 1001, 123_456_789])
def test_bloom_capacity_fits_the_rows_with_at_most_an_eighth_to_spare(rows: int) -> None:
    capacity = bloom_capacity(rows)
    assert rows <= capacity <= rows * 1.125
    # A capacity is its own: a lake that grows into it keeps the filter's size.
    assert bloom_capacity(capacity) == capacity


def test_a_filter_stored_without_its_watermark_is_built_again() -> None:
    con = duckdb.connect()
    capacity = bloom_capacity(100)
    row = bloom_filter_table(iter(_ids(range(100))), "page_view_id", capacity, 0.01, 1)
    # The table as built before the filter kept its watermark in its row.
    _filter_row(con, "event_filter", row.drop_columns(["consumed_through_commit_seq"]))
    assert stored_bloom_filter(con, "event_filter", "page_view_id", capacity, 0.01) is None


def _items(seed: int, n: int, distinct: int) -> list[pa.RecordBatch]:
    """n page views of Zipf-like items out of `distinct`, in small batches."""
    rng = random.Random(seed)
    items = [f"item-{min(int(rng.paretovariate(1.1)), distinct)}" for _ in range(n)]
    return pa.table({"item_id": items}).to_batches(max_chunksize=500)


def _rows_of(batches: list[pa.RecordBatch]) -> Counter[str]:
    return Counter(v for b in batches for v in b.column(0).to_pylist())


def _stored_summary(con: duckdb.DuckDBPyConnection, table: pa.Table, capacity: int) -> tuple:
    con.register("summary_rows", table)
    con.execute("create or replace table heavy_hitters as select * from summary_rows")
    con.unregister("summary_rows")
    stored = stored_heavy_hitters(con, "heavy_hitters", "item_id", capacity)
    assert stored is not None
    return stored


@pytest.mark.parametrize("seed", [1, 2])
def test_counting_on_from_a_stored_summary_keeps_every_bound(seed: int) -> None:
    con = duckdb.connect()
    capacity, top_k = 30, 10
    earlier, later = _items(seed, 6000, 400), _items(seed + 50, 3000, 400)
    exact = _rows_of(earlier) + _rows_of(later)
    assert len(exact) > 3 * capacity, "the summary must be saturated for the bound to matter"
    summary, through = _stored_summary(con, heavy_hitters_table(iter(earlier), "item_id", capacity, top_k, 4), capacity)
    assert through == 4
    merged = heavy_hitters_table(iter(later), "item_id", capacity, top_k, 6, initial=summary).to_pylist()
    n = sum(exact.values())
    assert {r["total_views"] for r in merged} == {n}
    assert {r["consumed_through_commit_seq"] for r in merged} == {6}
    assert merged[0]["max_count_error"] <= n / (capacity + 1)
    for r in merged:
        assert r["views_lower"] <= exact[r["item_id"]] <= r["views_upper"], r
    # Every item above N / (capacity + 1) is reported, and the certain ones are in the true top-K.
    kth = sorted(exact.values(), reverse=True)[top_k - 1]
    heavy = {i for i, c in exact.items() if c > n / (capacity + 1)}
    in_summary = {r["item_id"] for r in merged} | set(
        HeavyHitters.from_bytes(merged[0]["summary"]).top().column("item").to_pylist()
    )
    assert heavy <= in_summary
    assert all(exact[r["item_id"]] >= kth for r in merged if r["is_certain_top_k"])


def test_with_room_for_every_item_the_merged_summary_equals_one_pass() -> None:
    con = duckdb.connect()
    earlier, later = _items(3, 4000, 50), _items(4, 2000, 50)
    summary, _ = _stored_summary(con, heavy_hitters_table(iter(earlier), "item_id", 64, 20, 1), 64)
    merged = heavy_hitters_table(iter(later), "item_id", 64, 20, 2, initial=summary)
    assert merged.to_pylist() == heavy_hitters_table(iter(earlier + later), "item_id", 64, 20, 2).to_pylist()


def test_a_summary_of_another_capacity_or_without_a_watermark_is_built_again() -> None:
    con = duckdb.connect()
    table = heavy_hitters_table(iter(_items(5, 500, 20)), "item_id", 64, 5, 1)
    _stored_summary(con, table, 64)
    assert stored_heavy_hitters(con, "heavy_hitters", "item_id", 128) is None
    con.execute("alter table heavy_hitters drop column consumed_through_commit_seq")
    assert stored_heavy_hitters(con, "heavy_hitters", "item_id", 64) is None
