"""The demo report (shop_analytics.cli.demo_runs.report): each model's window, and the retrained models it kept."""

from __future__ import annotations

from shop_analytics.cli.demo_runs import report
from shop_analytics.warehouse.incremental_state import AuditBatch


def _run(kept: list[str]) -> dict:
    return {
        "name": "next-day",
        "ingest_seconds": 1.0,
        "dbt_build_seconds": 2.0,
        "dbt": "build",
        "windows": {"fct_orders": [5, 7], "int_user_similarity": [0, 7], "int_item_similarity": [0, 7]},
        "model_seconds": {"fct_orders": 0.5, "int_user_similarity": 0.1, "int_item_similarity": 3.0},
        "materialized": {
            "fct_orders": "incremental",
            "int_user_similarity": "retrained_table",
            "int_item_similarity": "retrained_table",
        },
        "kept": kept,
    }


def _row(text: str, model: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(model + " "))


def test_a_kept_model_reads_kept_and_a_retrained_one_all() -> None:
    batches = [AuditBatch(6, "page_views", "2019-01-01", 10), AuditBatch(7, "order_lines", "2019-01-01", 3)]
    text = report([_run(["int_user_similarity"])], batches)
    assert "kept, 7" in _row(text, "int_user_similarity")
    assert "all, 7" in _row(text, "int_item_similarity")
    assert "(5, 7]" in _row(text, "fct_orders")


def test_a_run_recorded_before_kept_existed_still_reports() -> None:
    run = _run([])
    del run["kept"]
    assert "all, 7" in _row(report([run], []), "int_user_similarity")
