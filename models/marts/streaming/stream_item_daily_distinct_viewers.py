"""One mergeable HyperLogLog of viewer ids per (item, day), stored as a BLOB with its estimate."""

import duckdb

from shop_analytics.dbt.streaming_models import (
    daily_distinct_reader,
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
    ranges = plan_date_ranges(session, raw, "event_date", int(dbt.config.get("range_rows")))
    # A reader, not a table: DuckDB pulls one date range's sketches at a time.
    return daily_distinct_reader(
        session, views, "item_id", "user_id", "event_date", "event_date", ranges, p=int(dbt.config.get("hll_precision"))
    )
