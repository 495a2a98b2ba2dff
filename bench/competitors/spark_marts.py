"""PySpark local[*] running the engagement marts' SQL on the same lake Parquet files (default vars).

Usage: python spark_marts.py LAKE_DIR SEEDS_DIR OUT_DIR [--driver-memory 2g] [--only rpt_item_popularity,...]
The queries are the dbt models' SQL in Spark's dialect (UTC dates, the default vars, no staging dedup),
for the three engagement marts of raw contract v2 (text user and item keys; the audience's country
resolved from the country seeds as int_users__country_resolved does). The purchase marts of contract
v2 (order-line netting, currency conversion) have no Spark twin here. Each mart is written to
OUT_DIR/<mart> as Parquet, as dbt materializes each mart as a table.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

from pyspark.sql import SparkSession

SINCE, COUNTRY, TRENDS_SINCE, WINDOW_DAYS = "2017-01-01", "US", "2018-01-01", 7


# int_countries__lookup: every text that resolves to a country, the lowest match rank winning.
COUNTRY_LOOKUP = """
    select lookup_text, alpha2 from (
        select *, row_number() over (partition by lookup_text order by match_rank, alpha2) as rn from (
            select upper(alpha2) as lookup_text, upper(alpha2) as alpha2, 1 as match_rank from countries_seed
            union all select upper(alpha3), upper(alpha2), 2 from countries_seed
            union all select {alias}, upper(alpha2), 3 from country_aliases_seed
            union all select {name}, upper(alpha2), 4 from countries_seed)
        where lookup_text is not null and lookup_text <> '')
    where rn = 1"""


def _normalized_country_text(column: str) -> str:
    """Spark twin of macro normalized_country_text: trimmed, whitespace runs collapsed, upper case."""
    return f"upper(regexp_replace(trim({column}), '\\\\s+', ' '))"


STAGING = {
    "country_lookup": COUNTRY_LOOKUP.format(
        alias=_normalized_country_text("alias"), name=_normalized_country_text("name")
    ),
    # stg_shop__users (latest snapshot) joined to the lookup, as int_users__country_resolved.
    "stg_shop__users": f"""
        select u.user_id, l.alpha2 as country_code from (
            select *, row_number() over (partition by user_id order by batch_file desc) as rn
            from (select cast(user_id as string) as user_id, country_code, input_file_name() as batch_file
                  from users_raw)) u
        left join country_lookup l on {_normalized_country_text("u.country_code")} = l.lookup_text
        where u.rn = 1""",
    "stg_shop__items": """
        select item_id, category, page_url_path from (
            select *, row_number() over (partition by item_id order by batch_file desc) as rn
            from (select cast(item_id as string) as item_id, category, page_url_path,
                         input_file_name() as batch_file from items_raw))
        where rn = 1""",
    # Ingest admits each event id once, so staging reads the lake as is (var deduplicate_lake_events: false).
    "stg_shop__page_views": """
        select page_view_id, cast(user_id as string) as user_id, cast(item_id as string) as item_id,
               viewed_at, event_date
        from page_views_raw""",
}

# int_page_views__counted_by_item_day, a temp view as it is a dbt view. Not a CTE: a CTE over
# input_file_name() (non-deterministic) referenced twice fails Spark's ReplaceCTERefWithRepartition rule.
ITEM_DAYS = f"""
    select item_id, to_date(viewed_at) as view_date, count(*) as view_count
    from stg_shop__page_views
    where event_date >= date_sub(date '{TRENDS_SINCE}', {WINDOW_DAYS})
    group by item_id, to_date(viewed_at)"""

# int_page_views__filtered_to_audience, a temp view as it is a dbt view.
AUDIENCE_VIEWS = f"""
    select pv.user_id, pv.item_id, pv.viewed_at
    from stg_shop__page_views pv
    join stg_shop__users u on pv.user_id = u.user_id
    where pv.event_date >= date '{SINCE}' and pv.user_id is not null and u.country_code = '{COUNTRY}'"""

# int_page_views__aggregated_to_user_items, a table in dbt: written once, read by two marts.
USER_ITEMS = """
    select user_id, item_id, count(*) as view_count, min(viewed_at) as first_viewed_at, max(viewed_at) as last_viewed_at
    from audience_views
    group by user_id, item_id"""

# rpt_item_trends' window sums as the dbt model computes them: lags of the previous viewed days of the item.
_LAGS = ",\n".join(
    f"datediff(d.view_date, lag(d.view_date, {k}) over by_item) as days_since_{k}, "
    f"lag(d.view_count, {k}) over by_item as count_{k}"
    for k in range(1, WINDOW_DAYS + 1)
)
# The window ending the day before a viewed day: the previous viewed days 1 to WINDOW_DAYS days back.
_PREVIOUS_DAY_COUNT = "0" + "".join(
    f" + case when days_since_{k} <= {WINDOW_DAYS} then count_{k} else 0 end" for k in range(1, WINDOW_DAYS + 1)
)


def _rank_by_count_per_day(rows_sql: str, count_column: str, rank_column: str) -> str:
    """Spark twin of macro rank_by_count_per_day: 1 + the rows with a larger count that day, per (day, count)."""
    return f"""
            select view_date, {count_column},
                   1 + coalesce(sum(items) over (partition by view_date order by {count_column} desc
                                                 rows between unbounded preceding and 1 preceding), 0) as {rank_column}
            from (select view_date, {count_column}, count(*) as items from ({rows_sql}) group by 1, 2)"""


_WINDOW_COUNTS = ", ".join(
    "view_count"
    + "".join(
        f" + case when days_since_{k} <= {WINDOW_DAYS - 1 - j} then count_{k} else 0 end" for k in range(1, WINDOW_DAYS)
    )
    for j in range(WINDOW_DAYS)
)

MARTS = {
    "fct_user_item_views": """
        select v.user_id, v.item_id, i.page_url_path, v.view_count, v.first_viewed_at, v.last_viewed_at
        from user_items v
        join stg_shop__items i on v.item_id = i.item_id
        order by v.view_count, v.user_id, i.page_url_path""",
    "rpt_item_popularity": """
        select p.item_id, i.page_url_path, i.category, p.viewer_count, p.view_count,
               rank() over (order by p.viewer_count desc) as popularity_rank
        from (select item_id, count(*) as viewer_count, cast(sum(view_count) as bigint) as view_count
              from user_items group by item_id) p
        join stg_shop__items i on p.item_id = i.item_id
        order by popularity_rank, page_url_path""",
    "rpt_item_trends": f"""
        with neighbours as (
            select d.item_id, d.view_date, d.view_count,
                   least({WINDOW_DAYS}, datediff(coalesce(lead(d.view_date) over by_item,
                                                          date_add(e.last_view_date, 1)), d.view_date)) as days_to_next,
                   {_LAGS}
            from item_days d cross join (select max(view_date) as last_view_date from item_days) e
            window by_item as (partition by d.item_id order by d.view_date)),
        viewed_days as (
            select item_id, view_date, view_count, days_to_next, array({_WINDOW_COUNTS}) as window_counts,
                   {_PREVIOUS_DAY_COUNT} as previous_day_window_count
            from neighbours),
        windowed as (
            select item_id, date_add(view_date, k) as view_date,
                   case when k = 0 then view_count else cast(0 as bigint) end as view_count,
                   cast(window_counts[k] as bigint) as window_view_count,
                   cast(case when k = 0 then previous_day_window_count else window_counts[k - 1] end as bigint)
                       as previous_window_view_count
            from (select *, explode(sequence(0, days_to_next - 1)) as k from viewed_days)
            where date_add(view_date, k) >= date_sub(date '{TRENDS_SINCE}', 1)),
        window_count_ranks as ({
        _rank_by_count_per_day("select view_date, window_view_count from windowed", "window_view_count", "window_rank")
    }),
        daily_count_ranks as ({
        _rank_by_count_per_day(
            f"select view_date, view_count from item_days where view_date >= date '{TRENDS_SINCE}'",
            "view_count",
            "daily_rank",
        )
    })
        select w.item_id, w.view_date, w.view_count, w.window_view_count, d.daily_rank, r.window_rank,
               p.window_rank as previous_window_rank, p.window_rank - r.window_rank as window_rank_change
        from windowed w
        join window_count_ranks r on r.view_date = w.view_date and r.window_view_count = w.window_view_count
        left join window_count_ranks p on p.view_date = date_sub(w.view_date, 1)
                                      and p.window_view_count = w.previous_window_view_count
        left join daily_count_ranks d on d.view_date = w.view_date and d.view_count = w.view_count
        where w.view_date >= date '{TRENDS_SINCE}'""",
}


def _stop_after(spark: SparkSession, seconds: float, marker: Path) -> None:
    """Kill the JVM and exit after `seconds`, leaving `marker`, so a time-limited run still ends cleanly."""

    def stop() -> None:
        marker.write_text(f"stopped after {seconds:.0f} s\n")
        gateway = spark.sparkContext._gateway  # the JVM child process, which must not outlive us
        if gateway is not None and getattr(gateway, "proc", None) is not None:
            gateway.proc.kill()
        os._exit(0)

    timer = threading.Timer(max(seconds, 0.0), stop)
    timer.daemon = True
    timer.start()


def main() -> None:
    """Register the lake, run every mart, write each one."""
    parser = argparse.ArgumentParser()
    parser.add_argument("lake", type=Path)
    parser.add_argument("seeds", type=Path, help="the project's seeds folder (countries.csv, country_aliases.csv)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--only", default="", help="comma-separated marts (default: all)")
    parser.add_argument("--time-limit", type=float, help="stop after this many seconds; writes OUT_DIR/_stopped")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[*]")
        .appName("shop_analytics_marts")
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(max(8, 4 * (os.cpu_count() or 1))))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.local.dir", str(args.out / "_spark_tmp"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    if args.time_limit:
        _stop_after(spark, args.time_limit - (time.perf_counter() - started), args.out / "_stopped")
    lake = args.lake.resolve()
    for name in ("users", "items"):
        spark.read.parquet(str(lake / name)).createOrReplaceTempView(f"{name}_raw")
    spark.read.option("basePath", str(lake / "page_views")).parquet(str(lake / "page_views")).createOrReplaceTempView(
        "page_views_raw"
    )
    for seed in ("countries", "country_aliases"):
        # Every column as text, as the seeds' column_types declare ('NA' is Namibia, not a NULL).
        spark.read.option("header", True).csv(str(args.seeds.resolve() / f"{seed}.csv")).createOrReplaceTempView(
            f"{seed}_seed"
        )
    for name, sql in STAGING.items():
        spark.sql(sql).createOrReplaceTempView(name)
    spark.sql(ITEM_DAYS).createOrReplaceTempView("item_days")
    spark.sql(AUDIENCE_VIEWS).createOrReplaceTempView("audience_views")
    wanted = [m for m in args.only.split(",") if m] or list(MARTS)
    if {"fct_user_item_views", "rpt_item_popularity"} & set(wanted):
        # Written once and read back, as dbt materializes int_page_views__aggregated_to_user_items.
        spark.sql(USER_ITEMS).write.mode("overwrite").parquet(str(args.out / "user_items"))
        spark.read.parquet(str(args.out / "user_items")).createOrReplaceTempView("user_items")
    for name in MARTS:
        if name in wanted:
            spark.sql(MARTS[name]).write.mode("overwrite").parquet(str(args.out / name))
            # Later marts read earlier ones from their written tables, as dbt's do.
            spark.read.parquet(str(args.out / name)).createOrReplaceTempView(name)
    spark.stop()


if __name__ == "__main__":
    main()
