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
from support.gate_v2_data import ORDER_LINE_COLUMNS, build_v2_baseline, ingest, land_lines, line
from support.handmade_landing import audit, land, purchases_table
from support.incremental_history import PAGE_VIEW_COLUMNS, USER_COLUMNS, Batch, corrections, history, page_views
from support.pipeline import dbt_env, killed_dbt, run_dbt, run_dbt_together

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
# Columns of the landed CSV per source.
COLUMNS = {
    "order_lines": ORDER_LINE_COLUMNS,
    "exchange_rates": ("rate_date", "currency", "base_currency", "rate"),
    "page_views": PAGE_VIEW_COLUMNS,
    "users": USER_COLUMNS,
}
# One seed by default; two more in the slow run (each history is about eleven dbt builds).
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


def _build_run(root: Path, warehouse: Path, *extra: str) -> tuple[list[str], dict[str, str], Path]:
    """`dbt build` of the purchase and engagement marts of `root`'s lake into `warehouse`, as run_dbt's arguments."""
    return ["build", *SELECTION, *extra], dbt_env(DataLayout(root), warehouse), warehouse.parent


def _build(root: Path, warehouse: Path, *extra: str) -> None:
    run_dbt(*_build_run(root, warehouse, *extra))


def _rows(warehouse: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def _consumed(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(con.execute("SELECT model, consumed_through FROM _shop_meta.incremental_state").fetchall())


def _selected_seeds(session: pytest.Session) -> list[int]:
    """The seeds of `built` that the run selected (`-m "not slow"` keeps only the first)."""
    seeds = {
        item.callspec.params["built"]
        for item in session.items
        if item.module is not None
        and item.module.__name__ == __name__
        and hasattr(item, "callspec")
        and "built" in item.callspec.params
    }
    return sorted(seeds)


@pytest.fixture(scope="module")
def histories(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Built]:
    """Every selected seed's history, built step by step side by side.

    The histories are independent, so each step's ingests run one after the other (in this process)
    and then the seeds' `dbt build`s run together, one process per core (run_dbt_together): a dbt
    build of these small lakes is mostly one busy Python thread, and it is most of a step's time.
    """
    seeds = _selected_seeds(request.session)
    roots = {seed: tmp_path_factory.mktemp(f"incremental_{seed}") / "data" for seed in seeds}
    incremental = {seed: root.parent / "incremental" / "warehouse.duckdb" for seed, root in roots.items()}
    full = {seed: root.parent / "full" / "warehouse.duckdb" for seed, root in roots.items()}
    for seed, root in roots.items():
        build_v2_baseline(root)
        incremental[seed].parent.mkdir()
        full[seed].parent.mkdir()
    # Seeds do not read the lake: both warehouses of every history are seeded up front.
    warehouses = [(roots[seed], w) for seed in seeds for w in (incremental[seed], full[seed])]
    run_dbt_together([(["seed"], dbt_env(DataLayout(root), w), w.parent) for root, w in warehouses])
    steps = {seed: history(seed) for seed in seeds}
    for index in range(max(len(s) for s in steps.values())):
        stepping = [seed for seed in seeds if index < len(steps[seed])]
        for seed in stepping:
            step = steps[seed][index]
            for batch in step:
                land(roots[seed], batch.source, batch.batch_id, {"part-0.csv": _csv(batch)})
            code, out, err = ingest(roots[seed])  # every earlier landing folder again: replays of the same id
            assert code in (0, 3), (step, out, err)  # 3: the replayed batch is all quarantined
        run_dbt_together([_build_run(roots[seed], incremental[seed]) for seed in stepping])
    run_dbt_together([_build_run(roots[seed], full[seed]) for seed in seeds])
    return {
        seed: Built(
            roots[seed],
            incremental[seed],
            full[seed],
            dbt_env(DataLayout(roots[seed]), incremental[seed]),
            _consumed(incremental[seed]),
            seed,
        )
        for seed in seeds
    }


@pytest.fixture(scope="module", params=SEEDS, ids=["seed11", "seed23", "seed37"])
def built(request: pytest.FixtureRequest, histories: dict[int, Built]) -> Built:
    """One seed's history, out of `histories`."""
    return histories[request.param]


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
    full = _rows(built.full, table)
    assert full, f"{table} is empty: the history exercises nothing"
    assert _rows(built.incremental, table) == full


def test_every_committed_batch_is_consumed(built: Built) -> None:
    highest = max(row["commit_seq"] for row in audit(built.root).values() if row["commit_seq"] is not None)
    incremental_models = {name.split(".")[1] for name in INCREMENTAL_MODELS}
    assert incremental_models <= set(built.consumed)
    assert {built.consumed[m] for m in incremental_models} == {highest}


def test_full_refresh_equals_the_incremental_tables(built: Built) -> None:
    before = {table: _rows(built.incremental, table) for table in TABLES}
    copy = built.incremental.parent.parent / "refreshed" / "warehouse.duckdb"
    copy.parent.mkdir(exist_ok=True)
    copy.write_bytes(built.incremental.read_bytes())
    _build(built.root, copy, "--full-refresh")
    assert {table: _rows(copy, table) for table in TABLES} == before


def test_a_build_with_no_new_batch_changes_nothing(built: Built) -> None:
    copy = built.incremental.parent.parent / "rerun" / "warehouse.duckdb"
    copy.parent.mkdir(exist_ok=True)
    copy.write_bytes(built.incremental.read_bytes())
    before = {table: _rows(copy, table) for table in TABLES}
    _build(built.root, copy)
    assert {table: _rows(copy, table) for table in TABLES} == before
    assert _consumed(copy) == built.consumed


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
    run_dbt_together([_build_run(root, warehouse), (["seed"], dbt_env(DataLayout(root), full), full.parent)])
    _build(root, full)
    assert {t: _rows(warehouse, t) for t in TABLES} == {t: _rows(full, t) for t in TABLES}, kills


def test_migrated_purchases_and_v2_orders_with_the_same_numbers(tmp_path: Path) -> None:
    """A shop moving from v1 to v2: purchases 5001 and 5002, then v2 orders 5001 and 5002, then reversals of
    both kinds, each batch built incrementally; equal to one full build, the purchases their own orders."""
    root = tmp_path / "data"
    build_v2_baseline(root)
    incremental, full = tmp_path / "incremental" / "warehouse.duckdb", tmp_path / "full" / "warehouse.duckdb"
    for warehouse in (incremental, full):
        warehouse.parent.mkdir()
    run_dbt_together([(["seed"], dbt_env(DataLayout(root), w), w.parent) for w in (incremental, full)])
    sale = {"user": "007", "item": "42", "currency": "USD", "unit_price": "9.99"}
    reversal = {"user": "7", "item": "42", "currency": "USD", "unit_price": "9.99"}
    steps = [
        lambda: land(
            root, "purchases", "p1", {"part-0.parquet": purchases_table(5001, 2, user_id=[7, 7], item_id=[42, 42])}
        ),
        lambda: land_lines(root, "b1", [line("5001", 1, **sale), line("5001", 2, **sale), line("5002", 1, **sale)]),
        lambda: land_lines(
            root,
            "b2",
            [
                line(
                    "C-P5001",
                    1,
                    at="2018-06-03T10:00:00",
                    line_type="cancellation",
                    original_order_id="purchase:5001",
                    **reversal,
                ),
                line(
                    "R-5001",
                    1,
                    at="2018-06-03T11:00:00",
                    line_type="return",
                    original_order_id="5001",
                    original_line_number=2,
                    **sale,
                ),
            ],
        ),
    ]
    for step in steps:
        step()
        code, out, err = ingest(root)
        assert code == 0, (out, err)
        _build(root, incremental)
    _build(root, full)
    for table in TABLES:
        assert _rows(incremental, table) == _rows(full, table), table
    with duckdb.connect(str(incremental), read_only=True) as con:
        statuses = dict(con.execute("SELECT order_id, order_status FROM marts.fct_orders").fetchall())
    assert statuses == {
        "purchase:5001": "cancelled",
        "purchase:5002": "completed",
        "5001": "partially_reversed",
        "5002": "completed",
    }
