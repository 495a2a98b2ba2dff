"""The generated data has the shape real commerce data has: skew, seasonality, baskets, reversals, countries, money."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from shop_analytics.datagen import GeneratorConfig, generate
from support.datagen_landing import landing_connection

CONFIG = GeneratorConfig(scale=0.05, seed=3, chunk_rows=50_000)
# ISO 3166-1 alpha-2 codes are two capital letters; everything else in country_code is another spelling.
ALPHA2 = "regexp_full_match(country_code, '[A-Z]{2}') AND country_code NOT IN ('ZZ', 'UK', 'EL')"


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    out: Path = tmp_path_factory.mktemp("datagen_realism") / "landing"
    generate(CONFIG, out, workers=2, progress=False)
    con = landing_connection(out)
    # Clean rows only, so defects do not blur the distributions.
    con.execute("CREATE TABLE known_items AS SELECT item_id FROM items")
    con.execute(
        "CREATE VIEW views_clean AS SELECT * FROM page_views WHERE item_id IN (SELECT item_id FROM known_items) "
        "AND viewed_at BETWEEN '2016-01-01' AND '2019-01-01'"
    )
    con.execute("""
        CREATE TABLE sales AS SELECT * FROM order_lines
        WHERE line_type = 'sale' AND order_id IS NOT NULL AND line_number IS NOT NULL
          AND ordered_at BETWEEN '2016-01-01' AND '2019-02-01'""")
    con.execute("CREATE TABLE baskets AS SELECT order_id, count(DISTINCT line_number) lines FROM sales GROUP BY 1")
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    return float(con.execute(sql).fetchone()[0])


def test_us_is_about_forty_percent_of_customers(con) -> None:
    share = _one(con, "SELECT avg((country_code = 'US')::int) FROM users")
    # Some US customers are written 'USA' or 'United States' (the dirty share), so a little under 40%.
    assert 0.33 < share < 0.43


def test_thirty_plus_countries_and_a_dirty_share_of_spellings(con) -> None:
    assert _one(con, f"SELECT count(DISTINCT country_code) FROM users WHERE {ALPHA2}") >= 30
    dirty = _one(con, f"SELECT avg((country_code IS NULL OR NOT {ALPHA2})::int) FROM users")
    # Aliases, alpha-3 codes, names naming no country, and NULL.
    assert dirty == pytest.approx(CONFIG.country_dirty_share, abs=0.015)
    kinds = {
        "alias": "country_code IN ('U.S.A.', 'UK', 'United Kingdom', 'United States', 'EIRE', 'EL', 'Deutschland')",
        "alpha3": "regexp_full_match(country_code, '[A-Z]{3}') AND country_code NOT IN ('RSA', 'UAE')",
        "missing": "country_code IS NULL",
        "unknown": "country_code IN ('Unspecified', 'European Community', 'ZZ', 'Atlantis', 'N/A')",
    }
    for name, predicate in kinds.items():
        assert _one(con, f"SELECT count(*) FROM users WHERE {predicate}") > 0, name


def test_item_popularity_is_zipf(con) -> None:
    counts = np.array(
        [c for (c,) in con.execute("SELECT count(*) c FROM views_clean GROUP BY item_id ORDER BY c DESC").fetchall()],
        dtype=float,
    )
    # Slope of log(count) on log(rank) over the well-sampled head of the distribution.
    head = counts[:200]
    slope = np.polyfit(np.log(np.arange(1, len(head) + 1)), np.log(head), 1)[0]
    assert 0.8 < -slope < 1.4


def test_user_activity_is_heavy_tailed(con) -> None:
    top_share = _one(
        con,
        """
        WITH per_user AS (SELECT user_id, count(*) c FROM views_clean WHERE user_id IS NOT NULL GROUP BY 1),
        ranked AS (SELECT c, row_number() OVER (ORDER BY c DESC) r, count(*) OVER () n FROM per_user)
        SELECT sum(c) FILTER (WHERE r <= n / 10) / sum(c) FROM ranked""",
    )
    assert top_share > 0.3  # the top 10% of users produce well over 10% of views


def test_anonymous_views_share(con) -> None:
    share = _one(con, "SELECT avg((user_id IS NULL)::int) FROM views_clean")
    assert share == pytest.approx(CONFIG.anonymous_view_share, abs=0.03)


def test_time_range_and_seasonality(con) -> None:
    years = {y for (y,) in con.execute("SELECT DISTINCT year(viewed_at) FROM views_clean").fetchall()}
    assert {2016, 2017, 2018} <= years
    by_hour = dict(con.execute("SELECT hour(viewed_at), count(*) FROM views_clean GROUP BY 1").fetchall())
    assert by_hour[20] > 3 * by_hour[4]  # evening peak, night trough
    by_dow = dict(con.execute("SELECT isodow(viewed_at), count(*) FROM views_clean GROUP BY 1").fetchall())
    assert by_dow[6] > by_dow[2]  # Saturdays busier than Tuesdays
    by_month = dict(con.execute("SELECT month(viewed_at), count(*) FROM views_clean GROUP BY 1").fetchall())
    assert by_month[12] > by_month[2]  # holiday season


def test_basket_sizes_are_heavy_tailed(con) -> None:
    sizes = np.array([n for (n,) in con.execute("SELECT lines FROM baskets").fetchall()])
    assert len(sizes) > 1000
    assert np.median(sizes) in (2, 3)
    assert 0.2 < np.mean(sizes == 1) < 0.5  # many single-line orders ...
    assert np.quantile(sizes, 0.99) >= 15 and sizes.max() >= 30  # ... and some large baskets
    assert sizes.mean() > np.median(sizes)  # right-skewed, not constant
    # Line numbers run 1..n within each sale order: only a line whose order id or line number is NULL leaves a gap.
    gaps = _one(
        con,
        """
        SELECT count(*) FROM (
            SELECT max(line_number) max_line, count(DISTINCT line_number) n FROM order_lines
            WHERE regexp_full_match(trim(order_id), '[0-9]+') GROUP BY trim(order_id))
        WHERE max_line <> n""",
    )
    assert gaps <= _one(con, "SELECT count(*) FROM order_lines WHERE order_id IS NULL OR line_number IS NULL")


def test_same_day_repeat_orders_exist(con) -> None:
    share = _one(
        con,
        """
        WITH orders AS (SELECT order_id, any_value(user_id) user_id, min(ordered_at) first_at FROM sales
                        WHERE user_id IS NOT NULL GROUP BY 1)
        SELECT sum(c) FILTER (WHERE c > 1) / sum(c) FROM (
            SELECT count(*) c FROM orders GROUP BY user_id, CAST(first_at AS DATE))""",
    )
    assert 0.1 < share < 0.4


def test_cancellations_and_returns(con) -> None:
    shares = con.execute("""
        SELECT avg((line_type = 'cancellation')::int), avg((line_type = 'return')::int),
               avg((line_type IN ('cancellation', 'return') AND original_order_id IS NULL)::int)
        FROM order_lines""").fetchone()
    cancel, ret, credit = shares
    assert cancel + ret == pytest.approx(CONFIG.reversal_share, abs=0.015)
    assert cancel > 0.01 and ret > 0.01 and 0 < credit < 0.2 * (cancel + ret)
    reversals = """
        SELECT r.line_type, r.quantity, s.quantity sold, r.ordered_at, o.first_at order_at, r.original_line_number
        FROM order_lines r
        JOIN (SELECT order_id, min(ordered_at) first_at FROM sales GROUP BY 1) o ON o.order_id = r.original_order_id
        JOIN sales s ON s.order_id = r.original_order_id
          AND s.line_number = coalesce(r.original_line_number, s.line_number) AND s.item_id = r.item_id
        WHERE r.line_type IN ('cancellation', 'return')"""
    con.execute(f"CREATE TEMP TABLE rev AS {reversals}")
    # Never more than was sold on the line (without a line number, a reversal matches the order's lines of its item).
    assert _one(con, "SELECT count(*) FROM rev WHERE quantity > sold AND original_line_number IS NOT NULL") == 0
    assert _one(con, "SELECT count(*) FROM rev WHERE line_type = 'return' AND quantity < sold") > 0  # partial
    assert _one(con, "SELECT count(*) FROM rev WHERE ordered_at < order_at") == 0
    later = _one(con, "SELECT avg((CAST(ordered_at AS DATE) > CAST(order_at AS DATE))::int) FROM rev")
    assert 0.3 < later < 0.9  # returns come days later; most cancellations the same day
    same_day_cancel = _one(
        con,
        "SELECT avg((CAST(ordered_at AS DATE) = CAST(order_at AS DATE))::int) FROM rev "
        "WHERE line_type = 'cancellation'",
    )
    assert same_day_cancel > 0.5
    assert _one(con, "SELECT count(*) FROM rev WHERE original_line_number IS NULL") > 0  # matched by item


def test_currency_mix(con) -> None:
    mix = dict(con.execute("SELECT currency, count(*) / sum(count(*)) OVER () FROM sales GROUP BY 1").fetchall())
    assert len([c for c, share in mix.items() if share > 0.005]) >= 6
    assert 0.3 < mix["USD"] < 0.6
    assert mix["EUR"] > 0.1 and mix["JPY"] > 0.005
    # Whole minor units: yen have none, so no JPY price has a fraction.
    assert _one(con, "SELECT count(*) FROM sales WHERE currency = 'JPY' AND unit_price <> round(unit_price)") < 5


def test_exchange_rates_have_business_day_gaps_and_three_quote_forms(con) -> None:
    assert _one(con, "SELECT count(*) FROM exchange_rates WHERE isodow(rate_date) >= 6") == 0
    gaps = con.execute("""
        SELECT currency, base_currency, max(gap) FROM (
            SELECT currency, base_currency, rate_date - lag(rate_date) OVER (
                PARTITION BY currency, base_currency ORDER BY rate_date) gap FROM exchange_rates)
        GROUP BY ALL""").fetchall()
    assert len(gaps) >= 7
    assert any(g > 7 for *_, g in gaps)  # an outage longer than the default staleness window
    pairs = {(c, b) for c, b, _ in gaps}
    assert ("EUR", "USD") in pairs  # direct
    assert ("USD", "JPY") in pairs  # inverse: yen per dollar
    assert {("CHF", "EUR"), ("SEK", "EUR")} <= pairs  # only via EUR: triangulation
    assert _one(con, "SELECT min(rate) FROM exchange_rates") > 0
    # Prices follow the rates: a EUR price times the EUR/USD rate is close to the USD list price.
    ratio = _one(
        con,
        """
        SELECT median(s.unit_price * r.rate / i.price) FROM sales s
        JOIN items i USING (item_id)
        JOIN exchange_rates r ON r.currency = 'EUR' AND r.base_currency = 'USD'
          AND r.rate_date = CAST(s.ordered_at AS DATE)
        WHERE s.currency = 'EUR' AND i.price IS NOT NULL""",
    )
    assert ratio == pytest.approx(1.0, abs=0.01)


def test_rating_revisions_exist(con) -> None:
    revised = _one(
        con,
        """
        SELECT count(*) FROM (SELECT user_id, item_id FROM ratings WHERE user_id IS NOT NULL
        GROUP BY ALL HAVING count(DISTINCT rated_at) > 1)""",
    )
    assert revised > 0.02 * _one(con, "SELECT count(*) FROM ratings")
