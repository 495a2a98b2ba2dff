"""One more day after a generated history (what `make demo` shows): consumed exactly once, equal to a full build.

The shared SMALL pipeline (generated, ingested) is copied and built in full; then
`shop-analytics generate --next-day`'s writer lands the next day (page views, order lines with
their late and dirty rows, the day's rates, a batch cancelling an earlier order of the lake),
the real `shop-analytics ingest` admits it, and an incremental `dbt build` runs. Every
incremental model's window must be exactly the new batches' commit_seqs, and its tables must
equal, row for row, a `dbt build --full-refresh` of the same lake in a fresh warehouse.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from oracles.dbt_runs import assert_same_rows
from shop_analytics.cli.demo_runs import report
from shop_analytics.datagen.next_day import NextDay, next_day
from shop_analytics.settings import DataLayout
from shop_analytics.warehouse.incremental_state import (
    ingested_batches,
    materializations,
    model_timings,
    read_watermarks,
)
from support.gate_v2_data import ingest
from support.handmade_landing import audit
from support.pipeline import Pipeline, dbt_env, run_dbt, run_dbt_together

INCREMENTAL = {
    "int_orders__aggregated_to_customer_days": "intermediate",
    "fct_order_lines": "marts",
    "fct_orders": "marts",
    "rpt_daily_revenue": "marts",
    "fct_same_day_repeat_purchases": "marts",
    "int_page_views__accumulated_to_user_items": "intermediate",
    "int_page_views__counted_by_item_day": "intermediate",
    "rpt_item_trends": "marts",
    "stream_item_daily_distinct_viewers": "marts",
    "stream_event_id_filter": "marts",
    "stream_item_heavy_hitters": "marts",
}
# Equal to a full build row for row; the heavy hitters are within their bounds instead (the demo has
# more items than the summary has counters, so merged counters may differ from one pass's).
EXACT = sorted(set(INCREMENTAL) - {"stream_item_heavy_hitters"})
MODELS_ONLY = ["--resource-type", "seed", "--resource-type", "model"]
SELECTION = ["--select", " ".join(f"+{model}" for model in INCREMENTAL), *MODELS_ONLY]


def read_table(
    warehouse: Path, table: str, columns: str = "*", where: str = "true", params: list | None = None
) -> list:
    """Rows of `table` (one of this module's constant names) in `warehouse`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"SELECT {columns} FROM {table} WHERE {where}", params or []).fetchall()


@dataclass(frozen=True)
class NextDayBuilt:
    """A history built in full, then one more day landed, ingested and built incrementally; and a full build."""

    layout: DataLayout
    landed: NextDay
    before: dict[str, int]  # model -> consumed_through after the history's build
    after: dict[str, int]  # ... after the next day's incremental build
    incremental: Path
    full: Path
    ingest_code: int


@pytest.fixture(scope="module")
def built(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> NextDayBuilt:
    work = tmp_path_factory.mktemp("next_day")
    layout = DataLayout(work / "data")
    shutil.copytree(pipeline.layout.root, layout.root)  # the shared pipeline stays as it is
    incremental = work / "incremental" / "warehouse.duckdb"
    incremental.parent.mkdir()
    run_dbt(["build", *SELECTION], dbt_env(layout, incremental, artifacts=True), incremental.parent)
    before = read_watermarks(incremental)
    landed = next_day(layout.landing, layout.lake)
    code, out, err = ingest(layout.root)
    assert code in (0, 3), (out, err)  # 3: the day's dirty rows can exceed a small batch's threshold
    full = work / "full" / "warehouse.duckdb"
    full.parent.mkdir()
    run_dbt_together(
        [
            (["build", *SELECTION], dbt_env(layout, incremental, artifacts=True), incremental.parent),
            (["build", "--full-refresh", *SELECTION], dbt_env(layout, full, artifacts=True), full.parent),
        ]
    )
    return NextDayBuilt(layout, landed, before, read_watermarks(incremental), incremental, full, code)


def test_the_next_day_lands_every_kind_of_batch(built: NextDayBuilt) -> None:
    landed = {(b.source, b.batch_id): b for b in built.landed.batches}
    day = built.landed.day.isoformat()
    assert {("page_views", day), ("order_lines", day), ("order_lines", f"{day}-corrections")} <= set(landed)
    assert built.landed.cancelled_order is not None
    batches = audit(built.layout.root)
    for source, batch_id in landed:
        assert batches[(source, batch_id)]["status"] == "ingested", (source, batch_id)
    # Event ids and order numbers continue after the history's: nothing of the day is a replay.
    for key in (("page_views", day), ("order_lines", day)):
        assert "duplicate_in_lake" not in str(batches[key]["quarantined_by_reason"]), key


def test_the_cancellation_reverses_the_earlier_order(built: NextDayBuilt) -> None:
    original = built.landed.cancelled_order
    sales, reversals = (
        read_table(
            built.incremental,
            "marts.fct_order_lines",
            "line_number",
            "line_type = ? AND coalesce(original_order_id, order_id) = ?",
            [line_type, original],
        )
        for line_type in ("sale", "cancellation")
    )
    assert sales and len(reversals) == len(sales), (original, sales, reversals)


def test_the_incremental_build_consumed_exactly_the_new_batches(built: NextDayBuilt) -> None:
    new = {(b.source, b.batch_id) for b in built.landed.batches}
    seqs = {row["commit_seq"] for key, row in audit(built.layout.root).items() if key in new}
    assert len(seqs) == len(new)
    for model in INCREMENTAL:
        assert (built.before[model], built.after[model]) == (min(seqs) - 1, max(seqs)), model
    window = [b for b in ingested_batches(built.layout.lake) if built.before[model] < b.commit_seq]
    assert {(b.source, b.batch_id) for b in window} == new


@pytest.mark.parametrize("model", EXACT)
def test_the_incremental_tables_equal_a_full_refresh(built: NextDayBuilt, model: str) -> None:
    table = f"{INCREMENTAL[model]}.{model}"
    full = read_table(built.full, table)
    assert full, f"{table} is empty"
    assert_same_rows(read_table(built.incremental, table), full)


def test_the_incremental_heavy_hitters_keep_their_bounds(built: NextDayBuilt) -> None:
    exact = dict(
        read_table(built.incremental, "staging.stg_shop__page_views", "item_id, count(*)", "true GROUP BY item_id")
    )
    columns = "item_id, views_lower, views_upper, total_views, max_count_error, summary_capacity"
    rows = read_table(built.incremental, "marts.stream_item_heavy_hitters", columns)
    full = read_table(built.full, "marts.stream_item_heavy_hitters", columns)
    n = sum(exact.values())
    assert rows and len(rows) == len(full)
    assert {r[3] for r in rows} == {r[3] for r in full} == {n}
    for item, lower, upper, *_ in rows:
        assert lower <= exact[item] <= upper, item
    assert rows[0][4] <= n / (rows[0][5] + 1)


def test_the_demo_report_shows_each_window(built: NextDayBuilt) -> None:
    target = built.incremental.parent / "target"
    kinds = materializations(target / "manifest.json")
    assert {kinds[m] for m in INCREMENTAL} == {"incremental"}
    timings = model_timings(target / "run_results.json")
    assert set(INCREMENTAL) <= set(timings)
    run = {
        "name": "next-day",
        "ingest_seconds": 1.0,
        "dbt_build_seconds": 2.0,
        "dbt": "build",
        "windows": {m: [built.before[m], built.after[m]] for m in built.after},
        "model_seconds": timings,
        "materialized": kinds,
    }
    text = report([run], ingested_batches(built.layout.lake))
    row = next(line for line in text.splitlines() if line.strip().startswith("fct_orders "))
    assert f"({built.before['fct_orders']}, {built.after['fct_orders']}]" in row
    assert f"order_lines/{built.landed.day.isoformat()}-corrections" in text
