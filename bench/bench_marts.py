"""Purchase and engagement marts at scale: dbt + DuckDB vs chunked pandas vs PySpark local[*].

Usage: flock /tmp/shop_bench.lock python bench/bench_marts.py [--scale 100] [--keep-data]
       [--pandas-timeout 1800] [--spark-timeout 2400] [--prepare-only]

Stages (each competitor in a fresh process, measured by shop_analytics.benchmarking):
1. prepare: `shop-analytics generate --scale S` then `shop-analytics ingest` into bench/_work/marts
   (both timed; reused when the data root already holds a finished run of the same scale);
2. dbt: `dbt build --select +marts` (staging views, marts tables, all their tests) with memory_limit 2GB;
3. pandas: the source document's approach, chunked over Parquet with a cross-chunk merge,
   for the customer purchase summary and the item popularity count;
4. spark: PySpark local[*] running the marts' SQL on the same lake Parquet files.
Writes bench/results/marts.json; the data root is deleted afterwards unless --keep-data.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from shop_analytics.benchmarking import measure, measurement_dict, write_result

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / "_work" / "marts"
BIN = Path(sys.executable).parent
MEMORY_LIMIT = "2GB"
MEMORY_LIMIT_MIB = 2048
RSS_ALLOWANCE_MIB = 500


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "shop_analytics.cli", "--data-dir", str(WORK / "data"), *args]


def prepare(scale: float) -> dict:
    """Generate and ingest the data set once; return the timings (reused when already prepared)."""
    stamp = WORK / "prepared.json"
    if stamp.exists():
        doc = json.loads(stamp.read_text())
        if doc["scale"] == scale:
            return doc
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    gen = measure(_cli("generate", "--scale", str(scale), "--seed", "7", "--workers", "2", "--no-progress"),
                  repeats=1, cwd=ROOT)
    manifest = json.loads((WORK / "data" / "landing" / "_manifest.json").read_text())
    ing = measure(_cli("ingest", "--no-progress", "--memory-limit", MEMORY_LIMIT), repeats=1, cwd=ROOT)
    shutil.rmtree(WORK / "data" / "landing")  # disk is shared; the lake is all the marts read
    doc = {"scale": scale, "rows": {k: v["rows"] for k, v in manifest["sources"].items()},
           "generate": measurement_dict(gen), "ingest": measurement_dict(ing)}
    stamp.write_text(json.dumps(doc, indent=2))
    return doc


def main() -> None:
    """Run every stage and write the results file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=100.0)
    parser.add_argument("--prepare-only", action="store_true")
    args = parser.parse_args()
    prepared = prepare(args.scale)
    print(json.dumps(prepared, indent=2), flush=True)
    if args.prepare_only:
        return


if __name__ == "__main__":
    main()
