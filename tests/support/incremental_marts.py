"""The incremental purchase and engagement marts as the incremental equality tests build and compare them."""

from __future__ import annotations

from pathlib import Path

import duckdb

from shop_analytics.settings import DataLayout
from support.pipeline import dbt_env, run_dbt

# The incremental purchase models and the tables built on them, compared row for row.
TABLES = (
    "intermediate.int_orders__aggregated_to_customer_days",
    "marts.fct_order_lines",
    "marts.fct_orders",
    "marts.rpt_daily_revenue",
    "marts.fct_same_day_repeat_purchases",
    "marts.dim_customer_purchase_summary",
    "intermediate.int_page_views__accumulated_to_user_items",
    "marts.fct_user_item_views",
    "marts.rpt_item_popularity",
    "intermediate.int_page_views__counted_by_item_day",
    "marts.rpt_item_trends",
    "marts.stream_item_daily_distinct_viewers",
    "marts.rpt_item_distinct_viewers_windows",
    "marts.stream_event_id_filter",
    # Fewer items than the summary's counters: exact, so equal to one pass.
    "marts.stream_item_heavy_hitters",
)
SELECTION = [
    "--select",
    "+fct_order_lines +fct_orders +rpt_daily_revenue +fct_same_day_repeat_purchases +dim_customer_purchase_summary"
    " +fct_user_item_views +rpt_item_popularity +rpt_item_trends +rpt_item_distinct_viewers_windows"
    " +stream_event_id_filter"
    " +stream_item_heavy_hitters",
    # The history's users live in GB and EIRE (support.gate_v2_data): GB is the audience. A trend
    # window of 3 days, shorter than the history's late page views (up to 6 days late): a late view
    # rewrites days apart from the new day's, and the days read have gaps.
    "--vars",
    "{popularity_country: GB, trend_window_days: 3}",
]


def build_run(root: Path, warehouse: Path, *extra: str) -> tuple[list[str], dict[str, str], Path]:
    """`dbt build` of the purchase and engagement marts of `root`'s lake into `warehouse`, as run_dbt's arguments."""
    return ["build", *SELECTION, *extra], dbt_env(DataLayout(root), warehouse), warehouse.parent


def build(root: Path, warehouse: Path, *extra: str) -> None:
    """`dbt build` of the purchase and engagement marts of `root`'s lake into `warehouse`; raises on failure."""
    run_dbt(*build_run(root, warehouse, *extra))


def rows(warehouse: Path, table: str) -> list[tuple]:
    """Every row of `table` (a constant of TABLES) in `warehouse`, sorted."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def consumed(warehouse: Path) -> dict[str, int]:
    """model -> the ingest commit_seq it has consumed through, in `warehouse`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(con.execute("SELECT model, consumed_through FROM _shop_meta.incremental_state").fetchall())
