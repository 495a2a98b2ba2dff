"""Joins to the small dimensions (users, items) neither fan out nor drop rows: counts reconcile."""

from __future__ import annotations

import duckdb

from support.pipeline import Warehouse


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def test_audience_join_to_users_does_not_fan_out(warehouse: Warehouse) -> None:
    con = duckdb.connect(str(warehouse.path), read_only=True)
    rows = _one(con, "SELECT count(*) FROM intermediate.int_page_views__filtered_to_audience")
    distinct_views = _one(
        con, "SELECT count(DISTINCT page_view_id) FROM intermediate.int_page_views__filtered_to_audience"
    )
    assert rows == distinct_views > 0


def test_item_joins_keep_one_row_per_aggregate(warehouse: Warehouse) -> None:
    con = duckdb.connect(str(warehouse.path), read_only=True)
    audience_views = _one(con, "SELECT count(*) FROM intermediate.int_page_views__filtered_to_audience")
    pairs = _one(
        con,
        "SELECT count(*) FROM (SELECT DISTINCT user_id, item_id "
        "FROM intermediate.int_page_views__filtered_to_audience)",
    )
    items = _one(con, "SELECT count(DISTINCT item_id) FROM intermediate.int_page_views__filtered_to_audience")
    assert _one(con, "SELECT count(*) FROM intermediate.int_page_views__aggregated_to_user_items") == pairs > 0
    assert (
        _one(con, "SELECT sum(view_count) FROM intermediate.int_page_views__aggregated_to_user_items") == audience_views
    )
    assert _one(con, "SELECT count(*) FROM marts.fct_user_item_views") == pairs > 0
    assert _one(con, "SELECT sum(view_count) FROM marts.fct_user_item_views") == audience_views
    assert _one(con, "SELECT count(*) FROM marts.rpt_item_popularity") == items > 0
    assert _one(con, "SELECT sum(viewer_count) FROM marts.rpt_item_popularity") == pairs
    assert _one(con, "SELECT sum(view_count) FROM marts.rpt_item_popularity") == audience_views


def test_customer_join_to_users_does_not_fan_out(warehouse: Warehouse) -> None:
    con = duckdb.connect(str(warehouse.path), read_only=True)
    customers = _one(con, "SELECT count(DISTINCT user_id) FROM staging.stg_shop__order_lines WHERE user_id IS NOT NULL")
    sale_lines = _one(
        con, "SELECT count(*) FROM staging.stg_shop__order_lines WHERE user_id IS NOT NULL AND line_type = 'sale'"
    )
    assert _one(con, "SELECT count(*) FROM marts.dim_customer_purchase_summary") == customers > 0
    assert _one(con, "SELECT sum(line_count) FROM marts.dim_customer_purchase_summary") == sale_lines
