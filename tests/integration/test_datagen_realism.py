"""The generated data has the shape the marts rely on: skew, seasonality, countries, repeats."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from support.pipeline import SMALL, Pipeline


@pytest.fixture(scope="module")
def con(pipeline: Pipeline) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for source in ("users", "items", "page_views", "purchases", "ratings"):
        con.execute(
            f"CREATE VIEW {source} AS SELECT * FROM "
            f"read_parquet('{pipeline.layout.landing}/{source}/*/*.parquet', hive_partitioning = true)"
        )
    # Clean events only, so defects do not blur the distributions.
    con.execute(
        "CREATE VIEW views_clean AS SELECT * FROM page_views WHERE item_id <= "
        f"{SMALL.rows('items')} AND viewed_at BETWEEN '2016-01-01' AND '2019-01-01'"
    )
    return con


def test_us_is_about_forty_percent(con: duckdb.DuckDBPyConnection) -> None:
    share = con.execute("SELECT avg((country_code = 'US')::int) FROM users").fetchone()[0]
    assert 0.36 < share < 0.44
    assert con.execute("SELECT count(DISTINCT country_code) FROM users").fetchone()[0] >= 8


def test_item_popularity_is_zipf(con: duckdb.DuckDBPyConnection) -> None:
    counts = np.array(
        [c for (c,) in con.execute("SELECT count(*) c FROM views_clean GROUP BY item_id ORDER BY c DESC").fetchall()],
        dtype=float,
    )
    # Slope of log(count) on log(rank) over the well-sampled head of the distribution.
    head = counts[:200]
    slope = np.polyfit(np.log(np.arange(1, len(head) + 1)), np.log(head), 1)[0]
    assert 0.8 < -slope < 1.4


def test_user_activity_is_heavy_tailed(con: duckdb.DuckDBPyConnection) -> None:
    top_share = con.execute("""
        WITH per_user AS (SELECT user_id, count(*) c FROM views_clean WHERE user_id IS NOT NULL GROUP BY 1),
        ranked AS (SELECT c, row_number() OVER (ORDER BY c DESC) r, count(*) OVER () n FROM per_user)
        SELECT sum(c) FILTER (WHERE r <= n / 10) / sum(c) FROM ranked""").fetchone()[0]
    assert top_share > 0.3  # the top 10% of users produce well over 10% of views


def test_anonymous_views_share(con: duckdb.DuckDBPyConnection) -> None:
    share = con.execute("SELECT avg((user_id IS NULL)::int) FROM views_clean").fetchone()[0]
    assert share == pytest.approx(SMALL.anonymous_view_share, abs=0.03)


def test_time_range_and_seasonality(con: duckdb.DuckDBPyConnection) -> None:
    years = {y for (y,) in con.execute("SELECT DISTINCT year(viewed_at) FROM views_clean").fetchall()}
    assert {2016, 2017, 2018} <= years
    by_hour = dict(con.execute("SELECT hour(viewed_at), count(*) FROM views_clean GROUP BY 1").fetchall())
    assert by_hour[20] > 3 * by_hour[4]  # evening peak, night trough
    by_dow = dict(con.execute("SELECT isodow(viewed_at), count(*) FROM views_clean GROUP BY 1").fetchall())
    assert by_dow[6] > by_dow[2]  # Saturdays busier than Tuesdays
    by_month = dict(con.execute("SELECT month(viewed_at), count(*) FROM views_clean GROUP BY 1").fetchall())
    assert by_month[12] > by_month[2]  # holiday season


def test_same_day_repeat_purchases_exist(con: duckdb.DuckDBPyConnection) -> None:
    share = con.execute("""
        SELECT sum(c) FILTER (WHERE c > 1) / sum(c) FROM (
            SELECT count(*) c FROM purchases WHERE user_id IS NOT NULL
            GROUP BY user_id, CAST(purchased_at AS DATE))""").fetchone()[0]
    assert 0.1 < share < 0.4


def test_rating_revisions_exist(con: duckdb.DuckDBPyConnection) -> None:
    revised = con.execute("""
        SELECT count(*) FROM (SELECT user_id, item_id FROM ratings WHERE user_id IS NOT NULL
        GROUP BY ALL HAVING count(DISTINCT rated_at) > 1)""").fetchone()[0]
    total = con.execute("SELECT count(*) FROM ratings").fetchone()[0]
    assert revised > 0.02 * total
