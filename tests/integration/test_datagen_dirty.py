"""The manifest's dirty-row counts match an independent count over the landing files."""

from __future__ import annotations

import duckdb
import pytest

from support.pipeline import SMALL, Pipeline

# Independent definitions of each defect, in SQL over the raw landing files.
RULES = {
    "page_views": {
        "null_key": "page_view_id IS NULL OR item_id IS NULL",
        "timestamp_out_of_range": "viewed_at < '2000-01-01' OR viewed_at >= '2050-01-01'",
        "unknown_user": "user_id > {n_users}",
        "unknown_item": "item_id > {n_items}",
    },
    "purchases": {
        "null_key": "purchase_id IS NULL OR user_id IS NULL OR item_id IS NULL",
        "timestamp_out_of_range": "purchased_at < '2000-01-01' OR purchased_at >= '2050-01-01'",
        "unknown_user": "user_id > {n_users}",
        "unknown_item": "item_id > {n_items}",
        "invalid_value": "amount <= 0",
    },
    "ratings": {
        "null_key": "rating_id IS NULL OR user_id IS NULL OR item_id IS NULL",
        "timestamp_out_of_range": "rated_at < '2000-01-01' OR rated_at >= '2050-01-01'",
        "unknown_user": "user_id > {n_users}",
        "unknown_item": "item_id > {n_items}",
        "invalid_value": "rating NOT BETWEEN 1 AND 5",
    },
}
KEYS = {
    "page_views": ("page_view_id", "viewed_at"),
    "purchases": ("purchase_id", "purchased_at"),
    "ratings": ("rating_id", "rated_at"),
}


@pytest.mark.parametrize("source", sorted(RULES))
def test_dirty_counts_match_independent_count(pipeline: Pipeline, source: str) -> None:
    files = f"{pipeline.layout.landing}/{source}/*/*.parquet"
    counts = pipeline.manifest["sources"][source]["counts"]
    con = duckdb.connect()
    con.execute(f"CREATE VIEW raw AS SELECT * FROM read_parquet('{files}', hive_partitioning = true)")
    sizes = {"n_users": SMALL.rows("users"), "n_items": SMALL.rows("items")}
    for kind, predicate in RULES[source].items():
        observed = con.execute(f"SELECT count(*) FROM raw WHERE {predicate.format(**sizes)}").fetchone()[0]
        assert observed == counts[kind] > 0, kind
    key, ts = KEYS[source]
    duplicates = con.execute(f"SELECT count({key}) - count(DISTINCT {key}) FROM raw").fetchone()[0]
    assert duplicates == counts["duplicate_event_id"] > 0
    late = con.execute(
        f"SELECT count(*) FROM raw WHERE {ts} >= '2000-01-01' AND CAST({ts} AS DATE) < CAST(batch_date AS DATE)"
    ).fetchone()[0]
    assert late == counts["late_arriving"] > 0
    total = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    assert total == pipeline.manifest["sources"][source]["rows"]


def test_each_dirty_row_has_one_defect(pipeline: Pipeline) -> None:
    # Kinds are disjoint, so the rate of dirty rows is about dirty_rate.
    entry = pipeline.manifest["sources"]["page_views"]
    kinds = ("null_key", "unknown_user", "unknown_item", "timestamp_out_of_range", "duplicate_event_id")
    dirty = sum(entry["counts"][k] for k in kinds)
    assert dirty / entry["rows"] == pytest.approx(SMALL.dirty_rate, rel=0.15)
