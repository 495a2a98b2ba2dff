"""The streaming models built on DuckDB and on Spark, checked against exact counts (test_spark_parity.py).

The two engines build the same keys with different sketches: DuckDB the project's own HyperLogLog
and Misra-Gries summary (dbt Python models), Spark Apache DataSketches' HLL (hll_sketch_agg) and
exact counts for the heavy hitters (docs/spark.md). So keys, counts and dates are compared exactly,
between the engines and with exact SQL over DuckDB's staging page views, and Spark's distinct-viewer
estimates with the exact distinct counts within the HLL's stated error (`hll_error_bound`). The
sketch BLOBs are not compared: their formats differ. DuckDB's estimates are checked against the
same exact counts by tests/integration/test_streaming_models.py.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from statistics import NormalDist
from typing import Any

import duckdb
import pyarrow as pa

PV = "staging.stg_shop__page_views"
# The views the distinct-viewer models count: a viewer and an (item, day).
SIGNED_IN = "user_id is not null and item_id is not null"
# The chance that any estimate of a comparison falls outside its bound although the sketch meets
# its stated error (union bound over the estimates, normal errors).
FALSE_ALARM = 1e-3


def hll_error_bound(exact: int, estimates: int, lg_k: int) -> float:
    """The largest |estimate - exact| accepted from a Spark HLL estimate (one of `estimates` checked).

    Apache DataSketches states a relative standard error of 1.04 / sqrt(2^lg_k) for an HLL in
    HLL mode (the composite estimator of a union; a sketch's own HIP estimator is tighter,
    0.836 / sqrt(2^lg_k)); below a few hundred values the sketch is in coupon (LIST/SET) mode and
    counts 26-bit coupons, practically exactly. With errors about normal, sigma = RSE * exact, and
    z = Phi^-1(1 - FALSE_ALARM / (2 * estimates)) bounds every one of `estimates` at once except
    with probability FALSE_ALARM (about 5.4 sigma for 13,000 estimates). Spark's
    hll_sketch_estimate rounds the estimate to an integer: 0.5 more.
    """
    rse = 1.04 / math.sqrt(2**lg_k)
    z = NormalDist().inv_cdf(1 - FALSE_ALARM / (2 * estimates))
    return z * rse * exact + 0.5


def exact_window_viewers(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, tuple[int, ...]]:
    """Per item viewed in the 30 days ending on `as_of`: its exact distinct signed-in viewers on
    `as_of`, over the 7 and the 30 days ending on it, and its days with views among the 30."""
    rows = con.execute(
        f"""select item_id,
                   count(distinct user_id) filter (where event_date = ?::date),
                   count(distinct user_id) filter (where event_date > ?::date - 7),
                   count(distinct user_id),
                   count(distinct event_date)
            from {PV}
            where {SIGNED_IN} and event_date > ?::date - 30 and event_date <= ?::date
            group by 1""",
        [as_of] * 4,
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def _exact(warehouse: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _same_schema(model: str, duck: pa.Table, spark: pa.Table) -> None:
    assert spark.column_names == duck.column_names, f"{model}: columns differ"
    assert spark.schema.types == duck.schema.types, f"{model}: {duck.schema} on DuckDB, {spark.schema} on Spark"


def check_daily_distinct_viewers(warehouse: Path, duck: pa.Table, spark: pa.Table, lg_k: int) -> None:
    """One row per (item, day) with a signed-in view on both engines; Spark's estimates within the HLL bound."""
    model = "stream_item_daily_distinct_viewers"
    _same_schema(model, duck, spark)
    exact = {
        (item, day): n
        for item, day, n in _exact(
            warehouse,
            f"select item_id, event_date, count(distinct user_id) from {PV} where {SIGNED_IN} group by 1, 2",
        )
    }
    duck_keys = list(zip(duck["item_id"].to_pylist(), duck["view_date"].to_pylist(), strict=True))
    spark_keys = list(zip(spark["item_id"].to_pylist(), spark["view_date"].to_pylist(), strict=True))
    assert len(set(spark_keys)) == len(spark_keys) == spark.num_rows, f"{model}: duplicate keys on Spark"
    assert set(spark_keys) == set(duck_keys) == set(exact), f"{model}: (item_id, view_date) sets differ"
    estimates = spark["distinct_viewers_estimate"].to_pylist()
    for key, estimate in zip(spark_keys, estimates, strict=True):
        bound = hll_error_bound(exact[key], len(estimates), lg_k)
        assert abs(estimate - exact[key]) <= bound, f"{model} {key}: {estimate} on Spark, exact {exact[key]}"


def check_distinct_viewers_windows(warehouse: Path, duck: pa.Table, spark: pa.Table, lg_k: int) -> None:
    """The same items, as_of_date and active days on both engines and exactly; Spark's windows within the HLL bound."""
    model = "rpt_item_distinct_viewers_windows"
    _same_schema(model, duck, spark)
    ((as_of,),) = _exact(warehouse, f"select max(event_date) from {PV} where {SIGNED_IN}")
    assert isinstance(as_of, dt.date)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        exact = exact_window_viewers(con, as_of)
    keys = ["item_id", "as_of_date", "active_days_30d"]
    duck_keys = sorted(zip(*(duck[k].to_pylist() for k in keys), strict=True))
    spark_keys = sorted(zip(*(spark[k].to_pylist() for k in keys), strict=True))
    assert spark_keys == duck_keys == sorted((item, as_of, c[3]) for item, c in exact.items()), (
        f"{model}: items, as_of_date or active_days_30d differ"
    )
    windows = ["distinct_viewers_1d", "distinct_viewers_7d", "distinct_viewers_30d"]
    estimates = 3 * spark.num_rows
    for row in spark.to_pylist():
        for window, true in zip(windows, exact[row["item_id"]][:3], strict=True):
            bound = hll_error_bound(true, estimates, lg_k)
            assert abs(row[window] - true) <= bound, f"{model} {row['item_id']} {window}: {row[window]}, exact {true}"


def check_heavy_hitters(warehouse: Path, duck: pa.Table, spark: pa.Table, top_k: int) -> None:
    """Spark's exact top-K with views_lower = views_upper = the exact views; DuckDB's bounds contain them."""
    model = "stream_item_heavy_hitters"
    _same_schema(model, duck, spark)
    exact = dict(_exact(warehouse, f"select item_id, count(*) from {PV} where item_id is not null group by 1"))
    ranked = sorted(exact.values(), reverse=True)
    rows = sorted(spark.to_pylist(), key=lambda r: r["view_rank"])
    k = len(rows)
    assert k == duck.num_rows == min(top_k, len(exact)) > 0, f"{model}: {duck.num_rows} rows on DuckDB, {k} on Spark"
    assert [r["view_rank"] for r in rows] == list(range(1, k + 1))
    # The exact top-K: the K largest counts, each item's own (ties at the K-th count in any order).
    assert [r["views_lower"] for r in rows] == ranked[:k], f"{model}: Spark's counts are not the exact top-K"
    below = ranked[k] if len(ranked) > k else 0
    duck_rows = duck.to_pylist()
    for r in rows:
        assert r["views_lower"] == r["views_upper"] == exact[r["item_id"]], (model, r["item_id"])
        assert r["max_count_error"] == 0
        assert r["is_certain_top_k"] == (r["views_lower"] >= below), (model, r["item_id"])
        assert r["key_column"] == "item_id"
    for column in ["total_views", "summary_capacity", "consumed_through_commit_seq"]:
        assert {r[column] for r in rows} == {r[column] for r in duck_rows}, f"{model}: {column} differs"
    assert rows[0]["total_views"] == sum(exact.values())
    # DuckDB's Misra-Gries bounds hold for every item it reports, and the items it is certain of
    # are in the exact top-K (their views reach the K-th largest count; a tie may rank either first).
    for r in duck_rows:
        assert r["views_lower"] <= exact[r["item_id"]] <= r["views_upper"], (model, r["item_id"])
        assert not r["is_certain_top_k"] or exact[r["item_id"]] >= ranked[k - 1], (model, r["item_id"])
