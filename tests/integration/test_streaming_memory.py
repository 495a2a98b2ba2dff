"""The streaming Python models stream a page-view lake several times larger than DuckDB's memory_limit."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from bench.harness import measure
from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest import ingest
from shop_analytics.settings import DataLayout
from support.pipeline import BIN, ROOT, dbt_env, ingest_settings

# The budget is "peak RSS under 500 MB", read strictly: 500 * 10**6 bytes (476.8 MiB).
RSS_BUDGET_MIB = 500 * 10**6 / 2**20
# DuckDB's memory_limit for the run; the lake must be at least 3x it. 96 MB rather than 128 MB: a
# tighter limit is the harder case for the lake-to-memory ratio (~5x here), and it is what keeps
# DuckDB's share of the budget small (docs/streaming.md has the measurements).
MEMORY_LIMIT_MB = 96
# About 16 bytes per page view in the lake's Parquet files: ~28M views give a ~476 MB lake.
PAGE_VIEWS = int(os.environ.get("SHOP_ANALYTICS_MEMORY_TEST_PAGE_VIEWS", "28000000"))
MODELS = [
    "stg_shop__page_views",
    "stream_item_heavy_hitters",
    "stream_item_daily_distinct_viewers",
    "stream_event_id_filter",
]


def _bytes_under(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.parquet"))


# Runs for 5-10 minutes (generation, ingest and three streaming models over 28M page views), so it is
# marked slow: `make test` runs it, `make test-fast` does not.
@pytest.mark.slow
def test_streaming_models_keep_peak_rss_under_budget_on_a_lake_3x_the_memory_limit(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    config = GeneratorConfig(
        seed=3,
        chunk_rows=2_000_000,
        overrides=(
            ("page_views", PAGE_VIEWS),
            ("users", 400_000),
            ("items", 200_000),
            ("purchases", 1_000),
            ("ratings", 1_000),
        ),
    )
    generate(config, layout.landing, workers=2, progress=False)
    ingest(layout, ingest_settings(layout.root))
    lake_bytes = _bytes_under(layout.lake / "page_views")
    assert lake_bytes >= 3 * MEMORY_LIMIT_MB * 10**6, f"lake is only {lake_bytes / 1e6:.0f} MB"

    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    env = {
        **dbt_env(layout, warehouse),
        "SHOP_ANALYTICS_MEMORY_LIMIT": f"{MEMORY_LIMIT_MB}MB",
        "SHOP_ANALYTICS_DBT_THREADS": "1",
    }
    # Day ranges of ~100k page views keep each streamed query and sketch state small.
    command = [
        str(BIN / "dbt"),
        "run",
        "--select",
        *MODELS,
        "--vars",
        "{streaming_range_rows: 100000}",
        "--target-path",
        str(tmp_path / "target"),
        "--log-path",
        str(tmp_path / "logs"),
    ]
    m = measure(command, repeats=1, env=env, cwd=ROOT, timeout=1800)
    print(
        f"lake {lake_bytes / 1e6:.0f} MB, memory_limit {MEMORY_LIMIT_MB} MB, "
        f"dbt run {m.median_seconds:.0f} s, peak RSS of the dbt process tree {m.peak_rss_mib:.0f} MiB "
        f"(budget {RSS_BUDGET_MIB:.1f} MiB)"
    )
    assert m.peak_rss_mib < RSS_BUDGET_MIB

    con = duckdb.connect(str(warehouse), read_only=True)
    raw = con.execute(f"select count(*) from read_parquet('{layout.lake}/page_views/**/*.parquet')").fetchone()[0]
    (hh_total,) = con.execute("select max(total_views) from marts.stream_item_heavy_hitters").fetchone()
    (inserted,) = con.execute("select keys_inserted from marts.stream_event_id_filter").fetchone()
    (days,) = con.execute("select count(distinct view_date) from marts.stream_item_daily_distinct_viewers").fetchone()
    con.close()
    # Every row of the lake went through the models (the lake holds no duplicate ids after ingest).
    assert hh_total == inserted == raw
    assert days > 1000
