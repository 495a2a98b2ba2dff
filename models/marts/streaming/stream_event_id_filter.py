"""A Bloom filter over every page-view id, for "has this event id been seen?" lookups.

Incremental (docs/incremental.md, "Streaming sketches"): while the lake fits the stored filter's
capacity, a run adds the ids of the batches after the stored filter's own watermark
(consumed_through_commit_seq, written in the same row, so it commits with the filter) to it;
the bits are an OR, so the filter equals a full build's. When the lake outgrows it, or the
target FPR changes, the run builds it again from the whole lake at the new size.
"""

import duckdb

from shop_analytics.dbt.batch_window import window_bounds
from shop_analytics.dbt.streaming_models import (
    bloom_capacity,
    bloom_filter_table,
    iter_range_batches,
    relation_sql,
    staging_when_no_files,
    stored_bloom_filter,
    window_or_lake,
)


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="key_column",
        on_schema_change="fail",
    )
    fpr = float(dbt.config.get("bloom_fpr"))
    range_rows = int(dbt.config.get("range_rows"))
    views = relation_sql(dbt.ref("stg_shop__page_views"))
    audit = relation_sql(dbt.ref("stg_shop__ingest_audit"))
    try:
        raw = relation_sql(dbt.source("shop", "page_views"))
    except duckdb.IOException as error:
        raw = staging_when_no_files(error, views)
    # Sized from the raw row count (cheap: Parquet metadata), an upper bound of the deduplicated ids.
    expected = bloom_capacity(session.execute(f"select count(*) from {raw}").fetchone()[0])
    horizon = window_bounds(session, dbt.this.identifier)[1]
    stored = stored_bloom_filter(session, str(dbt.this), "page_view_id", expected, fpr) if dbt.is_incremental else None
    window = None if stored is None else (audit, stored[1], horizon)
    source, ranges = window_or_lake(session, views, raw, window, range_rows)
    batches = iter_range_batches(session, source, ["page_view_id"], "event_date", ranges)
    initial = None if stored is None else stored[0]
    return bloom_filter_table(batches, "page_view_id", expected, fpr, consumed_through=horizon, initial=initial)
