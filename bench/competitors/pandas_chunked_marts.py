"""The source document's approach: pandas over the lake in chunks, merging partial results across chunks.

Usage: python pandas_chunked_marts.py LAKE_DIR OUT_DIR [--since 2017-01-01] [--country US]
       [--chunk-rows 1000000] [--progress-file PATH]
Computes the customer purchase summary and the item popularity count (distinct audience viewers per
page) and writes them as Parquet. Progress (share of input rows done) goes to --progress-file so that
a run stopped by a time limit can be extrapolated. The lake's event ids are unique (ingest enforces
it with its seen-keys catalog), so no cross-chunk deduplication of events is attempted; the dbt
staging views do not deduplicate either unless var deduplicate_lake_events is set.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def _write_progress(path: Path | None, done: int, total: int) -> None:
    if path is not None:
        path.write_text(f"{done} {total}\n")


def _dataset(lake: Path, source: str) -> ds.Dataset:
    partitioning = ds.partitioning(pa.schema([("event_date", pa.date32())]), flavor="hive")
    return ds.dataset(lake / source, format="parquet", partitioning=partitioning)


def _latest_snapshot(lake: Path, source: str, key: str) -> pd.DataFrame:
    frames = [pq.read_table(p).to_pandas().assign(_batch=p.name) for p in sorted((lake / source).glob("*.parquet"))]
    frame = pd.concat(frames).sort_values("_batch")
    return frame.drop_duplicates(key, keep="last").drop(columns="_batch")


def _chunks(
    dataset: ds.Dataset, columns: list[str], chunk_rows: int, flt: ds.Expression | None = None
) -> Iterator[pd.DataFrame]:
    """DataFrames of about `chunk_rows` rows (the lake's files are smaller than a chunk)."""
    pending, rows = [], 0
    for batch in dataset.to_batches(columns=columns, filter=flt, batch_size=chunk_rows):
        pending.append(batch)
        rows += batch.num_rows
        if rows >= chunk_rows:
            yield pa.Table.from_batches(pending).to_pandas()
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending).to_pandas()


# Partial aggregates per (customer, UTC day): output column -> (input column, function within a chunk,
# function that merges the partials of several chunks).
_DAY_PARTIALS = {
    "purchase_count": ("amount_cents", "size", "sum"),
    "total_quantity": ("quantity", "sum", "sum"),
    "total_cents": ("amount_cents", "sum", "sum"),
    "min_cents": ("amount_cents", "min", "min"),
    "max_cents": ("amount_cents", "max", "max"),
    "first_purchased_at": ("purchased_at", "min", "min"),
    "last_purchased_at": ("purchased_at", "max", "max"),
}


def _chunk_partials() -> dict[str, tuple[str, str]]:
    """Named aggregations that compute the _DAY_PARTIALS columns from one chunk of purchases."""
    return {name: (column, per_chunk) for name, (column, per_chunk, _) in _DAY_PARTIALS.items()}


def _merged_partials() -> dict[str, tuple[str, str]]:
    """Named aggregations that combine _DAY_PARTIALS columns into coarser groups."""
    return {name: (name, merge) for name, (_, _, merge) in _DAY_PARTIALS.items()}


def purchase_summary(lake: Path, chunk_rows: int, progress: Path | None, total: int) -> pd.DataFrame:
    """Per chunk: partial aggregates per (customer, UTC day); merged across chunks, then per customer."""
    dataset = _dataset(lake, "purchases")
    done, partials = 0, []
    columns = ["user_id", "purchased_at", "amount", "quantity"]
    for chunk in _chunks(dataset, columns, chunk_rows):
        rows_read = len(chunk)
        chunk = chunk[chunk["user_id"].notna()]
        chunk["amount_cents"] = (chunk["amount"] * 100).round().astype("int64")
        chunk["purchase_date"] = chunk["purchased_at"].dt.floor("D")
        partials.append(chunk.groupby(["user_id", "purchase_date"]).agg(**_chunk_partials()).reset_index())
        done += rows_read
        _write_progress(progress, done, total)
    # Cross-chunk merge: one customer-day may span chunks, so partials are combined, not concatenated.
    days = pd.concat(partials).groupby(["user_id", "purchase_date"]).agg(**_merged_partials()).reset_index()
    days["is_repeat"] = days["purchase_count"] > 1
    summary = (
        days.groupby("user_id")
        .agg(
            **_merged_partials(),
            first_purchase_date=("purchase_date", "min"),
            last_purchase_date=("purchase_date", "max"),
            purchase_days=("purchase_date", "size"),
            repeat_purchase_days=("is_repeat", "sum"),
        )
        .reset_index()
    )
    summary["avg_amount"] = summary["total_cents"] / 100 / summary["purchase_count"]
    users = _latest_snapshot(lake, "users", "user_id")[["user_id", "country_code"]]
    return summary.merge(users, on="user_id", how="left")


def item_popularity(
    lake: Path, since: dt.date, country: str, chunk_rows: int, progress: Path | None, offset: int, total: int
) -> pd.DataFrame:
    """Per chunk: distinct (item, viewer) pairs of the audience; pairs merged across chunks, then counted."""
    users = _latest_snapshot(lake, "users", "user_id")
    audience = set(users.loc[users["country_code"].str.upper() == country.upper(), "user_id"])
    dataset = _dataset(lake, "page_views")
    flt = (ds.field("event_date") >= since) & ds.field("user_id").is_valid()
    pairs = pd.DataFrame({"item_id": pd.Series(dtype="int64"), "user_id": pd.Series(dtype="int64")})
    done = 0
    for chunk in _chunks(dataset, ["item_id", "user_id", "viewed_at"], chunk_rows, flt):
        rows_read = len(chunk)
        chunk = chunk[chunk["user_id"].isin(audience)]
        # Distinct counts do not add up across chunks: keep the distinct pairs and merge them.
        pairs = pd.concat([pairs, chunk[["item_id", "user_id"]].drop_duplicates()]).drop_duplicates()
        done += rows_read
        _write_progress(progress, offset + done, total)
    items = _latest_snapshot(lake, "items", "item_id")[["item_id", "page_url_path"]]
    counts = pairs.groupby("item_id").size().rename("viewer_count").reset_index()
    return counts.merge(items, on="item_id").sort_values("viewer_count")


def main() -> None:
    """Compute both results and write them under OUT_DIR."""
    parser = argparse.ArgumentParser()
    parser.add_argument("lake", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--since", type=dt.date.fromisoformat, default=dt.date(2017, 1, 1))
    parser.add_argument("--country", default="US")
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    parser.add_argument("--progress-file", type=Path)
    parser.add_argument("--time-limit", type=float, help="stop after this many seconds (progress file tells how far)")
    args = parser.parse_args()
    if args.time_limit:
        # A daemon timer ends the process cleanly; the progress file holds the share done for extrapolation.
        timer = threading.Timer(args.time_limit, lambda: os._exit(0))
        timer.daemon = True
        timer.start()
    args.out.mkdir(parents=True, exist_ok=True)
    since_filter = ds.field("event_date") >= args.since
    purchases_rows = _dataset(args.lake, "purchases").count_rows()
    view_rows = _dataset(args.lake, "page_views").count_rows(filter=since_filter & ds.field("user_id").is_valid())
    total = purchases_rows + view_rows
    summary = purchase_summary(args.lake, args.chunk_rows, args.progress_file, total)
    summary.to_parquet(args.out / "dim_customer_purchase_summary.parquet")
    popularity = item_popularity(
        args.lake, args.since, args.country, args.chunk_rows, args.progress_file, purchases_rows, total
    )
    popularity.to_parquet(args.out / "rpt_item_popularity.parquet")


if __name__ == "__main__":
    main()
