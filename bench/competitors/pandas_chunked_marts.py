"""The source document's approach: pandas over the lake in chunks, merging partial results across chunks.

Usage: python pandas_chunked_marts.py LAKE_DIR SEEDS_DIR OUT_DIR [--since 2017-01-01] [--country US]
       [--chunk-rows 1000000] [--progress-file PATH]
Computes the item popularity count (distinct audience viewers per item page) on raw contract v2 (text
keys; the audience's country resolved from the country seeds as int_users__country_resolved does) and
writes it as Parquet. Progress (share of input rows done) goes to --progress-file so that a run stopped
by a time limit can be extrapolated. The lake's event ids are unique (ingest enforces it with its
seen-keys catalog), so no cross-chunk deduplication of events is attempted; the dbt staging views do
not deduplicate either unless var deduplicate_lake_events is set. The contract v1 customer purchase
summary is gone: contract v2's netting of cancellations and returns and its currency conversion have
no pandas twin here.
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


def _normalized_country_text(text: pd.Series) -> pd.Series:
    """As macro normalized_country_text: trimmed (spaces), whitespace runs collapsed to one space, upper case."""
    return text.str.strip(" ").str.replace(r"\s+", " ", regex=True).str.upper()


def _country_lookup(seeds: Path) -> pd.Series:
    """int_countries__lookup: country text -> alpha-2; a text matching several entries takes the lowest rank."""
    # Every column as text ('NA' is Namibia), as the seeds' column_types declare.
    countries = pd.read_csv(seeds / "countries.csv", dtype=str, keep_default_na=False)
    aliases = pd.read_csv(seeds / "country_aliases.csv", dtype=str, keep_default_na=False)
    alpha2 = countries["alpha2"].str.upper()
    candidates = pd.concat(
        [
            pd.DataFrame({"text": alpha2, "alpha2": alpha2, "rank": 1}),
            pd.DataFrame({"text": countries["alpha3"].str.upper(), "alpha2": alpha2, "rank": 2}),
            pd.DataFrame(
                {"text": _normalized_country_text(aliases["alias"]), "alpha2": aliases["alpha2"].str.upper(), "rank": 3}
            ),
            pd.DataFrame({"text": _normalized_country_text(countries["name"]), "alpha2": alpha2, "rank": 4}),
        ]
    )
    candidates = candidates[candidates["text"].notna() & (candidates["text"] != "")]
    best = candidates.sort_values(["text", "rank", "alpha2"]).drop_duplicates("text", keep="first")
    return best.set_index("text")["alpha2"]


def item_popularity(
    lake: Path, seeds: Path, since: dt.date, country: str, chunk_rows: int, progress: Path | None, total: int
) -> pd.DataFrame:
    """Per chunk: distinct (item, viewer) pairs of the audience; pairs merged across chunks, then counted."""
    users = _latest_snapshot(lake, "users", "user_id")
    resolved = _normalized_country_text(users["country_code"]).map(_country_lookup(seeds))
    audience = set(users.loc[resolved == country.upper(), "user_id"])
    dataset = _dataset(lake, "page_views")
    flt = (ds.field("event_date") >= since) & ds.field("user_id").is_valid()
    pairs = pd.DataFrame({"item_id": pd.Series(dtype="object"), "user_id": pd.Series(dtype="object")})
    done = 0
    for chunk in _chunks(dataset, ["item_id", "user_id", "viewed_at"], chunk_rows, flt):
        rows_read = len(chunk)
        chunk = chunk[chunk["user_id"].isin(audience)]
        # Distinct counts do not add up across chunks: keep the distinct pairs and merge them.
        pairs = pd.concat([pairs, chunk[["item_id", "user_id"]].drop_duplicates()]).drop_duplicates()
        done += rows_read
        _write_progress(progress, done, total)
    items = _latest_snapshot(lake, "items", "item_id")[["item_id", "page_url_path"]]
    counts = pairs.groupby("item_id").size().rename("viewer_count").reset_index()
    return counts.merge(items, on="item_id").sort_values("viewer_count")


def main() -> None:
    """Compute the item popularity count and write it under OUT_DIR."""
    parser = argparse.ArgumentParser()
    parser.add_argument("lake", type=Path)
    parser.add_argument("seeds", type=Path, help="the project's seeds folder (countries.csv, country_aliases.csv)")
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
    total = _dataset(args.lake, "page_views").count_rows(filter=since_filter & ds.field("user_id").is_valid())
    popularity = item_popularity(
        args.lake, args.seeds, args.since, args.country, args.chunk_rows, args.progress_file, total
    )
    popularity.to_parquet(args.out / "rpt_item_popularity.parquet")


if __name__ == "__main__":
    main()
