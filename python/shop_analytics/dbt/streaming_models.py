"""Building blocks of the dbt Python models in ``models/marts/streaming``.

Each model streams a dbt relation (a DuckDB view over the Parquet lake) as
Arrow record batches and folds them into a sketch, so memory is one batch
plus the sketch state whatever the size of the lake.

The relation is read in ranges of whole days (``plan_date_ranges``), one
query per range of a few million rows. With ``deduplicate_lake_events``
staging aggregates the keys it reads, and the range's date filter reaches
that aggregate through partition pruning, so no query holds every key of the
lake. By default staging is a plain scan and the ranges cost nothing extra.

Every table built here is readable without the UDFs: sketches are BLOB
columns next to plain estimate columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shop_analytics.dbt.batch_window import window_rows_sql
from shop_analytics.dbt.udfs import hll_estimate, hll_union
from shop_analytics.sketches.blocked_bloom import BlockedBloomFilter
from shop_analytics.sketches.bloom import BloomFilter
from shop_analytics.sketches.heavy_hitters import HeavyHitters
from shop_analytics.sketches.hll import decode_registers
from shop_analytics.sql import quote_ident
from shop_analytics.streaming.sketch_aggs import BloomAggregator, GroupedDistinctAggregator, HeavyHittersAggregator

DEFAULT_RANGE_ROWS = 4_000_000
DEFAULT_BATCH_ROWS = 65_536

HEAVY_HITTERS_SCHEMA = pa.schema(
    [
        ("view_rank", pa.int32()),
        ("item_id", pa.string()),
        ("views_lower", pa.int64()),
        ("views_upper", pa.int64()),
        ("is_certain_top_k", pa.bool_()),
        ("total_views", pa.int64()),
        ("max_count_error", pa.int64()),
        ("summary_capacity", pa.int32()),
        ("summary", pa.binary()),
        ("key_column", pa.string()),
        ("consumed_through_commit_seq", pa.int64()),
    ]
)

# Keys are the text natural keys of contract v2 (stg_shop__page_views).
DAILY_DISTINCT_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("view_date", pa.date32()),
        ("distinct_viewers_estimate", pa.float64()),
        ("viewer_sketch", pa.binary()),
    ]
)

EVENT_FILTER_SCHEMA = pa.schema(
    [
        ("key_column", pa.string()),
        ("filter_kind", pa.string()),
        ("keys_inserted", pa.int64()),
        ("expected_keys", pa.int64()),
        ("target_fpr", pa.float64()),
        ("estimated_fpr", pa.float64()),
        ("num_bits", pa.int64()),
        ("num_hashes", pa.int32()),
        ("size_bytes", pa.int64()),
        ("bloom_filter", pa.binary()),
        ("consumed_through_commit_seq", pa.int64()),
    ]
)


def relation_sql(rel: Any) -> str:
    """A FROM-clause item for a table name or a DuckDB relation (dbt-duckdb's ``dbt.ref``/``dbt.source``).

    A relation becomes a parenthesized subquery of its SQL, so it can be
    re-queried with filters on another cursor (DuckDB pushes them down).
    """
    if isinstance(rel, str):
        return rel
    if type(rel).__name__ == "DuckDBPyRelation":
        return f"({rel.sql_query()})"
    raise TypeError(f"expected a table name or a DuckDB relation, got {type(rel).__name__}")


def staging_when_no_files(error: duckdb.IOException, staging: str) -> str:
    """`staging` when loading the raw lake source failed because it has no file yet; else re-raise.

    Counting rows per day on the raw Parquet is cheap (file metadata), but loading a source
    with no file fails; the staging view then stands in (it is empty: macros/lake/lake_source.sql).
    The models call dbt.source() themselves, where dbt's parser sees it.
    """
    if "No files found" not in str(error):
        raise error
    return staging


def plan_date_ranges(
    con: Any, count_relation: str, date_column: str, target_rows: int = DEFAULT_RANGE_ROWS
) -> list[tuple[dt.date, dt.date]]:
    """Split the days of a relation into consecutive [first, last] ranges of about target_rows rows.

    count_relation should be cheap to count per day (the raw Parquet source:
    DuckDB answers from file metadata and the hive partition column). A day
    is never split, so per-day groups stay within one range.
    """
    if target_rows < 1:
        raise ValueError(f"target_rows must be >= 1, got {target_rows}")
    days = con.execute(
        f"select cast({date_column} as date) as d, count(*) from {count_relation} "
        f"where {date_column} is not null group by 1 order by 1"
    ).fetchall()
    ranges: list[tuple[dt.date, dt.date]] = []
    rows = 0  # in the last range
    for day, n in days:
        if ranges and rows + n <= target_rows:
            ranges[-1] = (ranges[-1][0], day)
            rows += n
        else:
            ranges.append((day, day))
            rows = n
    return ranges


def iter_range_batches(
    con: Any,
    relation: str,
    columns: Sequence[str],
    date_column: str,
    ranges: Sequence[tuple[dt.date, dt.date]],
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Record batches of ``columns`` of relation, one date range (one query) at a time.

    Runs on its own cursor so it can be consumed while the caller's
    connection is busy writing the model's result.
    """
    cur = con.cursor()
    try:
        cols = ", ".join(columns)
        for first, last in ranges:
            cur.execute(f"select {cols} from {relation} where {date_column} between ? and ?", [first, last])
            reader = cur.to_arrow_reader(batch_rows)
            yield from reader
    finally:
        cur.close()


def stored_state_row(
    con: Any, stored: str, columns: Sequence[str], where: str, params: Sequence[object]
) -> tuple[Any, ...] | None:
    """The first row of `columns` of a model's stored table where `where` holds (bound to `params`).

    None when there is no such row, or the table predates one of the columns (it is then built
    again, and dbt's on_schema_change asks for --full-refresh). `columns` and `where` are the
    caller's constants.
    """
    cur = con.cursor()
    try:
        names = {d[0] for d in cur.execute(f"select * from {stored} limit 0").description}
        if not set(columns) <= names:
            return None
        row = cur.execute(f"select {', '.join(columns)} from {stored} where {where} limit 1", list(params)).fetchone()
        return None if row is None else tuple(row)
    finally:
        cur.close()


def stored_heavy_hitters(con: Any, stored: str, column: str, capacity: int) -> tuple[HeavyHitters, int] | None:
    """The stored Misra-Gries summary over `column` and the commit_seq it covers, if it has `capacity` counters.

    None (build the summary again from the whole lake) when the capacity changed, or there is
    no stored summary or no watermark.
    """
    row = stored_state_row(
        con,
        stored,
        ["summary", "consumed_through_commit_seq"],
        "key_column = ? and summary_capacity = ?",
        [column, capacity],
    )
    if row is None or row[1] is None:
        return None
    return HeavyHitters.from_bytes(row[0]), int(row[1])


def window_or_lake(
    con: Any, views: str, raw: str, window: tuple[str, int, int] | None, range_rows: int
) -> tuple[str, list[tuple[dt.date, dt.date]]]:
    """The page views a streaming model reads, and their day ranges: a window's batches, or the whole lake.

    `window` is (audit relation, stored watermark, horizon) on an incremental run that goes on
    from a stored state; None to read every view (day ranges counted on the raw source, cheap).
    """
    if window is None:
        return views, plan_date_ranges(con, raw, "event_date", range_rows)
    audit, through, horizon = window
    source = window_rows_sql(views, audit, "page_views", through, horizon)
    return source, plan_date_ranges(con, source, "event_date", range_rows)


def heavy_hitters_table(
    batches: Iterator[pa.RecordBatch],
    column: str,
    capacity: int,
    top_k: int,
    consumed_through: int = 0,
    initial: HeavyHitters | None = None,
) -> pa.Table:
    """Top-k of a Misra-Gries summary over one column, with bounds, the serialized summary and its watermark.

    `initial` is a stored summary with `capacity` counters to go on counting from (an
    incremental run): merging batches into it keeps every bound of the summary.
    """
    if top_k < 1 or top_k > capacity:
        raise ValueError(f"top_k must be in 1..capacity ({capacity}), got {top_k}")
    agg = HeavyHittersAggregator(column, capacity)
    state = agg.init() if initial is None else initial
    for batch in batches:
        state = agg.update(state, batch)
    hh: HeavyHitters = agg.finalize(state)
    top = hh.top(top_k + 1)
    k = min(top_k, top.num_rows)
    lower = top.column("lower").to_numpy()[:k]
    upper = top.column("upper").to_numpy()[:k]
    # An item surely belongs to the true top-k when its lower bound reaches the
    # upper bound of every item ranked below it: the next reported counter, or
    # D (the bound of every unreported item).
    outside = max(int(top.column("upper")[k].as_py()) if top.num_rows > k else 0, hh.error)
    blob = hh.to_bytes()
    return pa.table(
        {
            "view_rank": pa.array(range(1, k + 1), pa.int32()),
            "item_id": top.column("item").slice(0, k).cast(pa.string()),
            "views_lower": pa.array(lower, pa.int64()),
            "views_upper": pa.array(upper, pa.int64()),
            "is_certain_top_k": pa.array(lower >= outside, pa.bool_()),
            "total_views": pa.array([hh.n] * k, pa.int64()),
            "max_count_error": pa.array([hh.error] * k, pa.int64()),
            "summary_capacity": pa.array([capacity] * k, pa.int32()),
            "summary": pa.array([blob] * k, pa.binary()),
            "key_column": pa.array([column] * k, pa.string()),
            "consumed_through_commit_seq": pa.array([consumed_through] * k, pa.int64()),
        },
        schema=HEAVY_HITTERS_SCHEMA,
    )


def daily_distinct_reader(
    con: Any,
    relation: str,
    group_column: str,
    value_column: str,
    time_column: str,
    date_column: str,
    ranges: Sequence[tuple[dt.date, dt.date]],
    p: int,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    stored: str | None = None,
) -> pa.RecordBatchReader:
    """A reader of one HLL per (group, day), finalized range by range so only one range's state is held.

    With `stored` (the model's own table, on an incremental run that reads only the window's
    batches), each (group, day) sketch is unioned with its stored sketch: HLL union is a
    register-wise max, so the result is byte for byte the sketch of all the rows, whatever the
    order of batches, and merging a batch twice changes nothing.
    """
    agg = GroupedDistinctAggregator([group_column], value_column, time_column=time_column, p=p, day_column="view_date")
    schema = pa.schema([(group_column, pa.string()), *list(DAILY_DISTINCT_SCHEMA)[1:]])
    columns = list(dict.fromkeys([group_column, value_column, time_column, date_column]))

    def batches() -> Iterator[pa.RecordBatch]:
        for first_last in ranges:
            state = agg.init()
            counted = False  # a range of anonymous views only (NULL values) has nothing to sketch
            for batch in iter_range_batches(con, relation, columns, date_column, [first_last], batch_rows):
                counted = counted or batch.column(value_column).null_count < batch.num_rows
                state = agg.update(state, batch)
            if not counted:
                continue
            table = agg.finalize(state).rename_columns(
                [group_column, "view_date", "distinct_viewers_estimate", "viewer_sketch"]
            )
            table = table.cast(schema)
            del state
            if stored is not None:
                table = union_stored_sketches(con, table, stored, group_column, first_last)
            yield from table.to_batches(max_chunksize=batch_rows)
            # Give the range's freed Arrow memory back before the next one.
            pa.default_memory_pool().release_unused()

    return pa.RecordBatchReader.from_batches(schema, batches())


def union_stored_sketches(
    con: Any, table: pa.Table, stored: str, group_column: str, days: tuple[dt.date, dt.date]
) -> pa.Table:
    """Each row's `viewer_sketch` unioned with the stored sketch of its (group, view_date), estimate recomputed."""
    n = table.num_rows
    keys = pa.table(
        {"position": pa.array(np.arange(n)), "group_key": table.column(group_column), "view_date": table["view_date"]}
    )
    cur = con.cursor()
    try:
        cur.register("window_keys", keys)
        # The window's rows in their order, each with its stored sketch (NULL for a new group or day).
        stored_sketches = cur.execute(
            f"select stored.viewer_sketch from window_keys "
            f"left join {stored} as stored on stored.{quote_ident(group_column)} = window_keys.group_key "
            f"and stored.view_date = window_keys.view_date and stored.view_date between ? and ? "
            f"order by window_keys.position",
            list(days),
        ).to_arrow_table()
    finally:
        cur.close()
    window = table.column("viewer_sketch").combine_chunks()
    old = stored_sketches.column(0).combine_chunks().cast(window.type)
    # Lists [window sketch, stored sketch] per row; hll_union skips the NULL of a new key.
    pairs = pa.ListArray.from_arrays(
        pa.array(np.arange(0, 2 * n + 1, 2), pa.int32()),
        pc.take(pa.concat_arrays([window, old]), pa.array(np.stack([np.arange(n), np.arange(n) + n], 1).reshape(-1))),
    )
    check_same_precision(window, old)
    merged = hll_union(pairs).cast(window.type)
    return table.set_column(
        table.schema.get_field_index("distinct_viewers_estimate"), "distinct_viewers_estimate", hll_estimate(merged)
    ).set_column(table.schema.get_field_index("viewer_sketch"), "viewer_sketch", merged)


def check_same_precision(window: pa.Array, stored: pa.Array) -> None:
    """Stop, asking for a full refresh, when the stored sketches have another precision than this run's."""
    present = stored.filter(pc.is_valid(stored))
    if len(present) == 0 or len(window) == 0:
        return
    stored_p, new_p = decode_registers(present[0].as_py())[0], decode_registers(window[0].as_py())[0]
    if stored_p != new_p:
        raise ValueError(
            f"the stored daily sketches have precision p={stored_p}, this run's p={new_p} (var "
            "streaming_hll_precision): rebuild them with `dbt build --full-refresh --select "
            "stream_item_daily_distinct_viewers+`"
        )


def bloom_capacity(rows: int) -> int:
    """The filter capacity for `rows` keys: the next number with four significant bits (at most 12.5% above).

    A function of the row count alone, coarse enough that a filter kept across incremental
    runs keeps its size (and takes more keys) until the lake outgrows it, and a full build
    of the same lake sizes it the same way.
    """
    rows = max(int(rows), 1)
    shift = max(rows.bit_length() - 4, 0)
    return -(-rows >> shift) << shift


def stored_bloom_filter(
    con: Any, stored: str, column: str, expected_keys: int, fpr: float
) -> tuple[BlockedBloomFilter, int] | None:
    """The stored split-block filter over `column` and the commit_seq it covers, if it has this run's size and FPR.

    None (build the filter again from the whole lake) when the lake outgrew the stored
    filter's capacity, the target FPR changed, or there is no stored filter or no watermark.
    """
    row = stored_state_row(
        con,
        stored,
        ["bloom_filter", "consumed_through_commit_seq"],
        "key_column = ? and filter_kind = 'split_block' and expected_keys = ? and target_fpr = ?",
        [column, expected_keys, fpr],
    )
    if row is None or row[1] is None:
        return None
    return BlockedBloomFilter.from_bytes(row[0]), int(row[1])


def bloom_filter_table(
    batches: Iterator[pa.RecordBatch],
    column: str,
    expected_keys: int,
    fpr: float,
    consumed_through: int,
    blocked: bool = True,
    initial: BloomFilter | BlockedBloomFilter | None = None,
) -> pa.Table:
    """One-row table: a Bloom filter over one column, its parameters, its measured fill and the commit_seq it covers.

    blocked=True (the default) builds the split-block filter (``filter_kind``
    split_block: several times faster to build and to query, +4.5% bits at
    1% FPR); blocked=False the standard one (``bloom``). `initial` is a stored
    filter of the same size to add the batches' keys to (an incremental run).
    """
    expected = max(int(expected_keys), 1)
    agg = BloomAggregator(column, expected, fpr, blocked=blocked)
    state = agg.init() if initial is None else initial
    for batch in batches:
        state = agg.update(state, batch)
    bf = agg.finalize(state)
    blob = bf.to_bytes()
    params = (bf.n_added, bf.estimated_fpr(), bf.num_bits, bf.num_hashes)
    # The filter is ~1.2 bytes per key: drop it and wrap the serialized bytes
    # without another copy, so at most two copies exist while DuckDB stores it.
    del bf, state, initial
    blob_array = pa.Array.from_buffers(
        pa.large_binary(), 1, [None, pa.py_buffer(np.array([0, len(blob)], dtype=np.int64)), pa.py_buffer(blob)]
    )
    return pa.table(
        {
            "key_column": [column],
            "filter_kind": ["split_block" if blocked else "bloom"],
            "keys_inserted": pa.array([params[0]], pa.int64()),
            "expected_keys": pa.array([expected], pa.int64()),
            "target_fpr": pa.array([fpr], pa.float64()),
            "estimated_fpr": pa.array([params[1]], pa.float64()),
            "num_bits": pa.array([params[2]], pa.int64()),
            "num_hashes": pa.array([params[3]], pa.int32()),
            "size_bytes": pa.array([len(blob)], pa.int64()),
            "bloom_filter": blob_array,
            "consumed_through_commit_seq": pa.array([consumed_through], pa.int64()),
        },
        schema=EVENT_FILTER_SCHEMA.set(9, pa.field("bloom_filter", pa.large_binary())),
    )
