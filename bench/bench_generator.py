"""Generator throughput and memory: vectorized (2 workers, 1 worker) vs row-at-a-time Python.

Usage: python bench/bench_generator.py [--large-scale 100] [--repeats 3]
Writes bench/results/generator.json. Rows/s counts every row of every source.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from harness import measure, measurement_dict, write_result

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "_work" / "generator"
NAIVE_ROWS = 200_000


def _generate_cmd(scale: float, workers: int, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "shop_analytics.cli",
        "generate",
        "--scale",
        str(scale),
        "--seed",
        "7",
        "--workers",
        str(workers),
        "--out",
        str(out),
        "--overwrite",
        "--no-progress",
    ]


def _rows_written(out: Path) -> int:
    manifest = json.loads((out / "_manifest.json").read_text())
    return sum(entry["rows"] for entry in manifest["sources"].values())


def _bytes(out: Path) -> int:
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


def main() -> None:
    """Run every competitor and write the results file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--large-scale", type=float, default=100.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    rows = []
    by_name = {}
    runs = [
        ("vectorized, 2 workers", 1.0, 2, args.repeats),
        ("vectorized, 1 worker", 1.0, 1, args.repeats),
        ("vectorized, 2 workers", args.large_scale, 2, 1),
    ]
    for name, scale, workers, repeats in runs:
        out = WORK / f"scale{scale:g}_w{workers}"
        m = measure(_generate_cmd(scale, workers, out), repeats=repeats)
        total = _rows_written(out)
        row = {
            "competitor": name,
            "scale": scale,
            "rows": total,
            "median_s": round(m.median_seconds, 2),
            "rows_per_s": round(total / m.median_seconds),
            "peak_rss_mib": round(m.peak_rss_mib),
            "bytes_on_disk": _bytes(out),
        }
        rows.append(row)
        by_name[(name, scale)] = (row, measurement_dict(m))
        shutil.rmtree(out)
    naive_out = WORK / "naive.csv"
    m = measure(
        [sys.executable, str(BENCH / "competitors" / "rowwise_generator.py"), str(NAIVE_ROWS), str(naive_out)],
        repeats=1,
    )
    rows.append(
        {
            "competitor": "row-at-a-time Python (page views only)",
            "scale": "sample",
            "rows": NAIVE_ROWS,
            "median_s": round(m.median_seconds, 2),
            "rows_per_s": round(NAIVE_ROWS / m.median_seconds),
            "peak_rss_mib": round(m.peak_rss_mib),
            "bytes_on_disk": naive_out.stat().st_size,
        }
    )
    shutil.rmtree(WORK, ignore_errors=True)

    small = by_name[("vectorized, 2 workers", 1.0)][0]
    single = by_name[("vectorized, 1 worker", 1.0)][0]
    large = by_name[("vectorized, 2 workers", args.large_scale)][0]
    naive = rows[-1]
    large_views = int(1_000_000 * args.large_scale)
    write_result(
        BENCH / "results",
        "generator",
        {
            "title": "Synthetic event generator",
            "command": "python bench/bench_generator.py"
            + (f" --large-scale {args.large_scale:g}" if args.large_scale != 100 else ""),
            "inputs": {
                "seed": 7,
                "large_scale": args.large_scale,
                "page_views_at_large_scale": large_views,
                "format": "parquet (snappy)",
                "repeats_small": args.repeats,
            },
            "rows": rows,
            "ratios": {
                "2 workers / 1 worker (scale 1)": round(small["rows_per_s"] / single["rows_per_s"], 2),
                "vectorized (scale 1, 2 workers) / row-at-a-time": round(small["rows_per_s"] / naive["rows_per_s"], 1),
            },
            "targets": [
                {
                    "target": ">= 2M rows/s overall (large scale)",
                    "measured": large["rows_per_s"],
                    "met": large["rows_per_s"] >= 2_000_000,
                },
                {
                    "target": f"peak RSS < 1 GiB while generating {large_views:,} page views",
                    "measured": f"{large['peak_rss_mib']} MiB",
                    "met": large["peak_rss_mib"] < 1024,
                },
            ],
            "details": {f"{k[0]} @ {k[1]:g}": v[1] for k, v in by_name.items()},
        },
    )


if __name__ == "__main__":
    main()
