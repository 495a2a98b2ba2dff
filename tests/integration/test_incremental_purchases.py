"""Incremental purchase and engagement marts (docs/incremental.md): built batch by batch they equal one full build.

A seeded history (support.incremental_history: late lines, an order whose date moves back, a
replayed batch, an empty batch, correction batches of cancellations and returns of orders of any
age, a late exchange-rate batch; page views with late events, a replayed and an empty page view
batch, a users snapshot that moves a viewer into the audience) goes through the real
`shop-analytics ingest` one batch at a time, with `dbt build` of the purchase and engagement marts
after each. The warehouse built that way must equal, row for row, one full build of the final lake
in a fresh warehouse, and `dbt build --full-refresh` of the incremental warehouse must leave it unchanged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from shop_analytics.settings import DataLayout
from support.gate_v2_data import ORDER_LINE_COLUMNS, build_v2_baseline, ingest
from support.handmade_landing import audit, land
from support.incremental_history import PAGE_VIEW_COLUMNS, USER_COLUMNS, Batch, corrections, history, page_views
from support.incremental_marts import SELECTION, TABLES, build, build_run, consumed, rows
from support.pipeline import dbt_env, killed_dbt, run_dbt_together

# The batch-tracked models (kill test points; each must consume every committed batch).
INCREMENTAL_MODELS = (
    "intermediate.int_orders__aggregated_to_customer_days",
    "marts.fct_order_lines",
    "marts.fct_orders",
    "marts.rpt_daily_revenue",
    "marts.fct_same_day_repeat_purchases",
    "intermediate.int_page_views__accumulated_to_user_items",
    "intermediate.int_page_views__counted_by_item_day",
    "marts.rpt_item_trends",
    "marts.stream_item_daily_distinct_viewers",
    "marts.stream_event_id_filter",
    "marts.stream_item_heavy_hitters",
)
# Kills between models: right after an incremental model commits, before the models that read it.
KILLED_AFTER = (
    "intermediate.int_orders__aggregated_to_customer_days",
    "intermediate.int_page_views__accumulated_to_user_items",
    "marts.stream_item_daily_distinct_viewers",
)
# Columns of the landed CSV per source.
COLUMNS = {
    "order_lines": ORDER_LINE_COLUMNS,
    "exchange_rates": ("rate_date", "currency", "base_currency", "rate"),
    "page_views": PAGE_VIEW_COLUMNS,
    "users": USER_COLUMNS,
}
# One seed by default; two more in the slow run (each history is about eleven dbt builds). Each seed's
# tests run on their own worker (tests/conftest.py, PARTS): the histories build side by side.
SEED_VALUES = (11, 23, 37)
SEEDS = (SEED_VALUES[0], *(pytest.param(seed, marks=pytest.mark.slow) for seed in SEED_VALUES[1:]))


@dataclass(frozen=True)
class Built:
    """One history, built incrementally (after every batch) and once in full."""

    root: Path
    incremental: Path
    full: Path
    env: dict[str, str]
    consumed: dict[str, int]  # model -> consumed_through after the last incremental build
    seed: int


def _csv(batch: Batch) -> bytes:
    columns = COLUMNS[batch.source]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in batch.rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return out.getvalue().encode()


@pytest.fixture(scope="module", params=SEEDS, ids=["seed11", "seed23", "seed37"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One seed's history, built step by step (ingest, then `dbt build`) and once in full at the end."""
    seed = request.param
    root = tmp_path_factory.mktemp(f"incremental_{seed}") / "data"
    incremental = root.parent / "incremental" / "warehouse.duckdb"
    full = root.parent / "full" / "warehouse.duckdb"
    build_v2_baseline(root)
    incremental.parent.mkdir()
    full.parent.mkdir()
    # Seeds do not read the lake: both warehouses are seeded up front, side by side.
    run_dbt_together([(["seed"], dbt_env(DataLayout(root), w), w.parent) for w in (incremental, full)])
    steps = history(seed)
    for index, step in enumerate(steps, start=1):
        for batch in step:
            land(root, batch.source, batch.batch_id, {"part-0.csv": _csv(batch)})
        code, out, err = ingest(root)  # every earlier landing folder again: replays of the same id
        assert code in (0, 3), (step, out, err)  # 3: the replayed batch is all quarantined
        if index < len(steps):
            build(root, incremental)
    # The last step's build and the full build read the same final lake: side by side.
    run_dbt_together([build_run(root, incremental), build_run(root, full)])
    return Built(root, incremental, full, dbt_env(DataLayout(root), incremental), consumed(incremental), seed)


def test_history_has_every_kind_of_batch(built: Built) -> None:
    batches = {batch_id: row for (_, batch_id), row in audit(built.root).items()}
    assert (batches["replay"]["rows_admitted"], batches["replay"]["rows_quarantined"]) == (0, 3)
    assert (batches["empty"]["status"], batches["empty"]["rows_in"]) == ("ingested", 0)
    with duckdb.connect(str(built.full), read_only=True) as con:
        kinds = con.execute(
            "SELECT count(*) FILTER (WHERE line_type <> 'sale' AND NOT is_credit_note), "
            "count(*) FILTER (WHERE is_credit_note), count(*) FILTER (WHERE is_over_reversed) "
            "FROM marts.fct_order_lines"
        ).fetchone()
        moved = con.execute(
            "SELECT count(*) FROM marts.fct_order_lines WHERE line_number = 9 AND batch_id LIKE 'day-%' "
            "AND ordered_at < (SELECT min(o.ordered_at) FROM marts.fct_order_lines o "
            "WHERE o.order_id = fct_order_lines.order_id AND o.line_number < 9)"
        ).fetchone()
    assert kinds is not None and kinds[0] > 0 and kinds[1] > 0
    assert moved is not None and moved[0] > 0, "no late line moved an order to an earlier time"
    assert (batches["views-replay"]["rows_admitted"], batches["views-replay"]["rows_quarantined"]) == (0, 3)
    assert (batches["views-empty"]["status"], batches["views-empty"]["rows_in"]) == ("ingested", 0)
    late_views = [
        row
        for step in history(built.seed)
        for batch in step
        if batch.source == "page_views" and batch.batch_id[-2:].isdigit()
        for row in batch.rows
        if str(row["viewed_at"])[:10] < (dt.date(2018, 6, 1) + dt.timedelta(days=int(batch.batch_id[-2:]))).isoformat()
    ]
    with duckdb.connect(str(built.full), read_only=True) as con:
        moved_viewer = con.execute("SELECT count(*) FROM marts.fct_user_item_views WHERE user_id = 'C-1'").fetchone()
    assert late_views, "no late page view"
    assert moved_viewer is not None and moved_viewer[0] > 0, "the user moved into the audience has no views there"


@pytest.mark.parametrize("table", TABLES)
def test_batch_by_batch_equals_one_full_build(built: Built, table: str) -> None:
    full = rows(built.full, table)
    assert full, f"{table} is empty: the history exercises nothing"
    assert rows(built.incremental, table) == full


def test_every_committed_batch_is_consumed(built: Built) -> None:
    highest = max(row["commit_seq"] for row in audit(built.root).values() if row["commit_seq"] is not None)
    incremental_models = {name.split(".")[1] for name in INCREMENTAL_MODELS}
    assert incremental_models <= set(built.consumed)
    assert {built.consumed[m] for m in incremental_models} == {highest}


def test_full_refresh_equals_the_incremental_tables(built: Built) -> None:
    before = {table: rows(built.incremental, table) for table in TABLES}
    copy = built.incremental.parent.parent / "refreshed" / "warehouse.duckdb"
    copy.parent.mkdir(exist_ok=True)
    copy.write_bytes(built.incremental.read_bytes())
    build(built.root, copy, "--full-refresh")
    assert {table: rows(copy, table) for table in TABLES} == before


def test_a_build_with_no_new_batch_changes_nothing(built: Built) -> None:
    copy = built.incremental.parent.parent / "rerun" / "warehouse.duckdb"
    copy.parent.mkdir(exist_ok=True)
    copy.write_bytes(built.incremental.read_bytes())
    before = {table: rows(copy, table) for table in TABLES}
    build(built.root, copy)
    assert {table: rows(copy, table) for table in TABLES} == before
    assert consumed(copy) == built.consumed


def _killed_build(root: Path, warehouse: Path, model: str, delay: float | None) -> bool:
    """`dbt build`, SIGKILLed `delay` seconds after it starts `model` (None: as soon as `model` is built).

    True if it was killed before finishing.
    """
    event = "START" if delay is not None else "OK created"
    line = rf"{event} (sql|python) incremental model {re.escape(model)} "
    return killed_dbt(["build", *SELECTION], dbt_env(DataLayout(root), warehouse), warehouse.parent, line, delay or 0.0)


def test_builds_killed_in_every_incremental_model_converge(built: Built) -> None:
    """Kill `dbt build` at a random point inside incremental models, one after the other, re-run: equal to a full build.

    The seeds share the incremental models out (seed i kills in models i, i + 3, ...), so a run of
    every seed (`make test`) kills a build inside each of them, and one between models (right after
    one of KILLED_AFTER commits); each kill hits a warehouse the previous kills left half-built.
    """
    rng = random.Random(built.seed)
    work = built.root.parent / "killed"
    root = work / "data"
    shutil.copytree(built.root, root)
    warehouse = work / "warehouse.duckdb"
    warehouse.write_bytes(built.incremental.read_bytes())
    batch = corrections("kill-corrections", history(built.seed), built.seed)
    land(root, batch.source, batch.batch_id, {"part-0.csv": _csv(batch)})
    views = page_views("kill-views", 6, random.Random(built.seed), 900_000)
    land(root, views.source, views.batch_id, {"part-0.csv": _csv(views)})
    code, out, err = ingest(root)
    assert code == 0, (out, err)
    share = SEED_VALUES.index(built.seed)
    kills: list[tuple[str, float | None]] = [
        (model, rng.uniform(0.0, 0.5)) for model in INCREMENTAL_MODELS[share :: len(SEED_VALUES)]
    ]
    kills.append((KILLED_AFTER[share % len(KILLED_AFTER)], None))
    for model, delay in kills:
        assert _killed_build(root, warehouse, model, delay), f"dbt finished before the kill ({model}, {delay})"
    full = work / "full" / "warehouse.duckdb"
    full.parent.mkdir()
    # The re-run of the killed build and the seeding of a fresh warehouse are independent.
    run_dbt_together([build_run(root, warehouse), (["seed"], dbt_env(DataLayout(root), full), full.parent)])
    build(root, full)
    assert {t: rows(warehouse, t) for t in TABLES} == {t: rows(full, t) for t in TABLES}, kills
