"""Daily HLL sketches merged into stored ones (stream_item_daily_distinct_viewers' incremental run)."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pyarrow as pa
import pytest

from shop_analytics.dbt.streaming_models import daily_distinct_reader, plan_date_ranges

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
