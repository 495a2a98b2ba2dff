"""Peak RSS of the streaming models' `dbt run` at several DuckDB memory limits, beside dbt's own floor.

Usage::

    python bench/bench_streaming_memory.py [--page-views 12000000] [--limits 48,64,96,128] [--repeats 2]

One page-view lake (text keys, written straight into ingest's layout by the tests' lake writer,
tests/support/page_view_lake.py) serves every run. For each DuckDB ``memory_limit`` it measures,
in fresh processes through ``measure`` of bench/harness.py (peak RSS of the process tree):

- floor: ``dbt run`` of the staging view only (dbt, the adapter, the plugin's imports, a connection);
- streaming: ``dbt run`` of the staging view and the three streaming Python models, as
  tests/integration/test_streaming_memory.py runs them.

The difference is what the models and DuckDB add on top of dbt's floor; the budget is the issue's
"under 500 MB" (476.8 MiB). Writes bench/results/streaming_memory.json.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from harness import measure, write_result
from shop_analytics.datagen import GeneratorConfig
from shop_analytics.settings import DataLayout

ROOT = Path(__file__).resolve().parents[1]
# The lake writer and dbt's test environment are the tests' own (tests/support), so the benchmark
# measures exactly what tests/integration/test_streaming_memory.py runs.
sys.path.insert(0, str(ROOT / "tests"))

BUDGET_MIB = 500 * 10**6 / 2**20
STREAMING = ["stream_item_heavy_hitters", "stream_item_daily_distinct_viewers", "stream_event_id_filter"]
RANGE_ROWS = 100_000


def _dbt_run(work: Path, layout: DataLayout, limit_mb: int, models: list[str], repeats: int) -> float:
    from support.pipeline import BIN, dbt_env

    warehouse = work / f"wh_{limit_mb}_{len(models)}" / "warehouse.duckdb"
    shutil.rmtree(warehouse.parent, ignore_errors=True)
    warehouse.parent.mkdir(parents=True)
    env = {
        **dbt_env(layout, warehouse),
        "SHOP_ANALYTICS_MEMORY_LIMIT": f"{limit_mb}MB",
        "SHOP_ANALYTICS_DBT_THREADS": "1",
    }
    command = [
        str(BIN / "dbt"),
        "run",
        "--select",
        "stg_shop__page_views",
        # Read by the models' batch-window hooks (empty: the lake is written around ingest).
        "stg_shop__ingest_audit",
        *models,
        "--vars",
        f"{{streaming_range_rows: {RANGE_ROWS}}}",
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]
    # A fresh warehouse per repeat: each run builds the tables from nothing, as the test does.
    setup = ["rm", "-f", str(warehouse), f"{warehouse}.wal"]
    return measure(command, repeats=repeats, env=env, cwd=ROOT, setup=setup, timeout=3600).peak_rss_mib


def main() -> int:
    """Build the lake, measure every limit, write the result."""
    from support.page_view_lake import KeyFormat, write_page_view_lake

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page-views", type=int, default=12_000_000)
    parser.add_argument("--limits", default="48,64,96,128", help="DuckDB memory_limit values in MB")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    limits = [int(x) for x in args.limits.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_streaming_memory_"))
    layout = DataLayout(work / "data")
    config = GeneratorConfig(
        seed=3,
        chunk_rows=2_000_000,
        overrides=(("page_views", args.page_views), ("users", 400_000), ("items", 200_000)),
    )
    lake = write_page_view_lake(layout.lake, config, KeyFormat.NATURAL)
    lake_mb = sum(p.stat().st_size for p in (layout.lake / "page_views").rglob("*.parquet")) / 1e6
    rows = []
    for limit in limits:
        floor = _dbt_run(work, layout, limit, [], args.repeats)
        peak = _dbt_run(work, layout, limit, STREAMING, args.repeats)
        row = {
            "duckdb_memory_limit_mb": limit,
            "lake_to_limit": round(lake_mb / limit, 1),
            "floor_peak_rss_mib": round(floor, 1),
            "streaming_peak_rss_mib": round(peak, 1),
            "added_by_models_mib": round(peak - floor, 1),
            "margin_to_budget_mib": round(BUDGET_MIB - peak, 1),
        }
        print(row, flush=True)
        rows.append(row)
    write_result(
        Path(__file__).parent / "results",
        "streaming_memory",
        {
            "title": "Streaming models: peak RSS of one `dbt run` by DuckDB memory_limit, beside dbt's floor",
            "command": f"python bench/bench_streaming_memory.py --page-views {args.page_views} "
            f"--limits {args.limits} --repeats {args.repeats}",
            "inputs": {
                "page_views": lake.rows,
                "lake_mb": round(lake_mb),
                "range_rows": RANGE_ROWS,
                "repeats": args.repeats,
                "budget": "500 * 10^6 bytes = 476.8 MiB",
            },
            "rows": rows,
        },
    )
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
