"""One mergeable HyperLogLog of viewer ids per (item, day), stored as a BLOB with its estimate.

Incremental (docs/incremental.md, "Streaming sketches"): a run sketches only the page views of
the batches in its window and unions each (item, day) sketch with the stored one. Union is a
register-wise max, so the table equals a full build's byte for byte, and a batch merged twice
(a build killed after the table committed and before its watermark moved) changes nothing.
"""

import duckdb

from shop_analytics.dbt.batch_window import window_bounds, window_rows_sql
from shop_analytics.dbt.streaming_models import (
    daily_distinct_reader,
    plan_date_ranges,
    relation_sql,
    staging_when_no_files,
)


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["item_id", "view_date"],
        on_schema_change="fail",
    )
    p = int(dbt.config.get("hll_precision"))
    range_rows = int(dbt.config.get("range_rows"))
    # Views without an item have no (item, day) to count (the gate admits none; a lake written
    # around it might), and a NULL key would never match its stored row.
    views = f"(select * from {relation_sql(dbt.ref('stg_shop__page_views'))} where item_id is not null)"
    audit = relation_sql(dbt.ref("stg_shop__ingest_audit"))
    if dbt.is_incremental:
        window = window_rows_sql(views, audit, "page_views", *window_bounds(session, dbt.this.identifier))
        ranges = plan_date_ranges(session, window, "event_date", range_rows)
        return daily_distinct_reader(
            session, window, "item_id", "user_id", "event_date", "event_date", ranges, p=p, stored=str(dbt.this)
        )
    try:
        raw = relation_sql(dbt.source("shop", "page_views"))
    except duckdb.IOException as error:
        raw = staging_when_no_files(error, views)
    ranges = plan_date_ranges(session, raw, "event_date", range_rows)
    # A reader, not a table: DuckDB pulls one date range's sketches at a time.
    return daily_distinct_reader(session, views, "item_id", "user_id", "event_date", "event_date", ranges, p=p)
