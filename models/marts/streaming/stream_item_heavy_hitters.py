"""Top-K items by page views over the whole lake, from one streaming Misra-Gries pass."""

import duckdb

from shop_analytics.dbt.streaming_models import (
    heavy_hitters_table,
    iter_range_batches,
    plan_date_ranges,
    relation_sql,
    staging_when_no_files,
)


def model(dbt, session):
    dbt.config(materialized="table")
    capacity = int(dbt.config.get("heavy_hitter_capacity"))
    top_k = int(dbt.config.get("top_k"))
    views = relation_sql(dbt.ref("stg_shop__page_views"))
    try:
        raw = relation_sql(dbt.source("shop", "page_views"))
    except duckdb.IOException as error:
        raw = staging_when_no_files(error, views)
    ranges = plan_date_ranges(session, raw, "event_date", int(dbt.config.get("range_rows")))
    batches = iter_range_batches(session, views, ["item_id"], "event_date", ranges)
    return heavy_hitters_table(batches, "item_id", capacity, top_k)
