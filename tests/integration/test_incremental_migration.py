"""A shop moving from contract v1 to v2, batch by batch: the incremental marts equal one full build.

docs/incremental.md; the seeded histories are in test_incremental_purchases.py.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from shop_analytics.settings import DataLayout
from support.gate_v2_data import build_v2_baseline, ingest, land_lines, line
from support.handmade_landing import land, purchases_table
from support.incremental_marts import TABLES, build, rows
from support.pipeline import dbt_env, run_dbt_together


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
        build(root, incremental)
    build(root, full)
    for table in TABLES:
        assert rows(incremental, table) == rows(full, table), table
    with duckdb.connect(str(incremental), read_only=True) as con:
        statuses = dict(con.execute("SELECT order_id, order_status FROM marts.fct_orders").fetchall())
    assert statuses == {
        "purchase:5001": "cancelled",
        "purchase:5002": "completed",
        "5001": "partially_reversed",
        "5002": "completed",
    }
