"""A Bloom filter over every page-view id, for "has this event id been seen?" lookups."""

import duckdb

from shop_analytics.dbt.streaming_models import (
    bloom_filter_table,
    iter_range_batches,
    plan_date_ranges,
    relation_sql,
    staging_when_no_files,
)


def model(dbt, session):
    dbt.config(materialized="table")
    views = relation_sql(dbt.ref("stg_shop__page_views"))
    try:
        raw = relation_sql(dbt.source("shop", "page_views"))
    except duckdb.IOException as error:
        raw = staging_when_no_files(error, views)
    # Sized from the raw row count (cheap: Parquet metadata), an upper bound of the deduplicated ids.
    expected = session.execute(f"select count(*) from {raw}").fetchone()[0]
    ranges = plan_date_ranges(session, raw, "event_date", int(dbt.config.get("range_rows")))
    batches = iter_range_batches(session, views, ["page_view_id"], "event_date", ranges)
    return bloom_filter_table(batches, "page_view_id", expected, float(dbt.config.get("bloom_fpr")))
