"""Top-K items by page views over the whole lake, from one streaming Misra-Gries pass.

Incremental (docs/incremental.md, "Streaming sketches"): a run goes on counting from the stored
summary with the page views of the batches after its watermark (consumed_through_commit_seq,
stored in the same rows, so it commits with the summary), and replaces the table's rows.
"""

import duckdb

from shop_analytics.dbt.batch_window import window_bounds
from shop_analytics.dbt.streaming_models import (
    heavy_hitters_table,
    iter_range_batches,
    relation_sql,
    staging_when_no_files,
    stored_heavy_hitters,
    window_or_lake,
)


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        # Every row carries the summary's key column: the delete replaces the whole top-K.
        unique_key="key_column",
        on_schema_change="fail",
    )
    capacity = int(dbt.config.get("heavy_hitter_capacity"))
    top_k = int(dbt.config.get("top_k"))
    range_rows = int(dbt.config.get("range_rows"))
    views = relation_sql(dbt.ref("stg_shop__page_views"))
    audit = relation_sql(dbt.ref("stg_shop__ingest_audit"))
    try:
        raw = relation_sql(dbt.source("shop", "page_views"))
    except duckdb.IOException as error:
        raw = staging_when_no_files(error, views)
    horizon = window_bounds(session, dbt.this.identifier)[1]
    stored = stored_heavy_hitters(session, str(dbt.this), "item_id", capacity) if dbt.is_incremental else None
    window = None if stored is None else (audit, stored[1], horizon)
    source, ranges = window_or_lake(session, views, raw, window, range_rows)
    batches = iter_range_batches(session, source, ["item_id"], "event_date", ranges)
    initial = None if stored is None else stored[0]
    return heavy_hitters_table(batches, "item_id", capacity, top_k, consumed_through=horizon, initial=initial)
