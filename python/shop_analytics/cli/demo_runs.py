"""The two runs of `make demo`: the history, then one more day built incrementally, and what each consumed.

`python -m shop_analytics.cli.demo_runs run NAME [--full-refresh] [--no-tests]` runs
`shop-analytics ingest` and `dbt build` (their output passes through), times both, and
records in `<warehouse folder>/demo_runs.json` the run's window per model (the watermarks
of `_shop_meta.incremental_state` before and after), the retrained models it kept (their
inputs had not changed) and dbt's per-model timings.
`python -m shop_analytics.cli.demo_runs report` prints the runs side by side. A failing
step stops the demo with its exit code.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from shop_analytics.settings import Settings
from shop_analytics.warehouse.incremental_state import (
    AuditBatch,
    in_window,
    ingested_batches,
    kept_models,
    materializations,
    model_timings,
    read_watermarks,
)

RUNS_FILE = "demo_runs.json"
TARGET = Path("target")  # dbt's target path: `make demo` runs dbt from the project folder
SHOWN_BATCHES = 6
SLOWEST = 5


def _timed(command: list[str]) -> float:
    print("==> " + " ".join(command), flush=True)
    start = time.perf_counter()
    code = subprocess.call(command)
    if code != 0:
        raise SystemExit(code)
    return time.perf_counter() - start


def run(name: str, settings: Settings, *, full_refresh: bool, tests: bool) -> dict[str, Any]:
    """Ingest and dbt build (`full_refresh`: from the whole lake), timed; the run's record, also saved."""
    bin_dir = Path(sys.executable).parent
    before = {} if full_refresh else read_watermarks(settings.warehouse)
    ingest_s = _timed([str(bin_dir / "shop-analytics"), "ingest"])
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    dbt_args = ["build", *(["--full-refresh"] if full_refresh else [])]
    dbt_args += [] if tests else ["--resource-type", "seed", "--resource-type", "model"]
    dbt_s = _timed([str(bin_dir / "dbt"), *dbt_args])
    after = read_watermarks(settings.warehouse)
    record = {
        "name": name,
        "ingest_seconds": round(ingest_s, 2),
        "dbt_build_seconds": round(dbt_s, 2),
        "dbt": " ".join(dbt_args),
        "windows": {model: [before.get(model, 0), through] for model, through in after.items()},
        "model_seconds": model_timings(TARGET / "run_results.json"),
        "materialized": materializations(TARGET / "manifest.json"),
        "kept": sorted(kept_models(settings.warehouse)),
    }
    path = settings.warehouse.parent / RUNS_FILE
    runs = json.loads(path.read_text()) if path.exists() and not full_refresh else []  # a full build starts anew
    path.write_text(json.dumps([*runs, record], indent=2) + "\n")
    return record


def _batches(batches: list[AuditBatch]) -> str:
    shown = ", ".join(f"{b.source}/{b.batch_id} ({b.rows_admitted:,} rows)" for b in batches[:SHOWN_BATCHES])
    more = f", ... {len(batches) - SHOWN_BATCHES} more" if len(batches) > SHOWN_BATCHES else ""
    return shown + more


def report(runs: list[dict[str, Any]], batches: list[AuditBatch]) -> str:
    """The runs side by side: wall times, the batches each consumed, each model's window and time."""
    lines = ["Incremental builds (docs/incremental.md): what each run consumed and how long it took", ""]
    for r in runs:
        lo = min((w[0] for w in r["windows"].values()), default=0)
        hi = max((w[1] for w in r["windows"].values()), default=0)
        window = in_window(batches, lo, hi)
        lines.append(
            f"  {r['name']:<10} ingest {r['ingest_seconds']:7.1f} s   dbt build {r['dbt_build_seconds']:7.1f} s   "
            f"{len(window):,} batches, commit_seq ({lo}, {hi}]   (dbt {r['dbt']})"
        )
        if len(window) <= SHOWN_BATCHES:
            lines.append(f"  {'':<10} {_batches(window)}")
    models = sorted({m for r in runs for m in r["windows"]})
    kinds = runs[-1]["materialized"] if runs else {}
    # As wide as the longest materialization name (insert_by_bucket is 16 characters).
    kind_width = max([12, *(len(kind) for kind in kinds.values())])
    header = f"  {'model':<42} {'materialized':<{kind_width}}" + "".join(
        f" {r['name'] + ' window':>24} {'time':>7}" for r in runs
    )
    lines += ["", "Per model: the commit_seq window it consumed (W, H] and its time in the build", header]
    for model in models:
        cells = ""
        for r in runs:
            w = r["windows"].get(model)
            text = "-" if w is None else (f"({w[0]}, {w[1]}]" if kinds.get(model) == "incremental" else f"all, {w[1]}")
            text = f"kept, {w[1]}" if w is not None and model in r.get("kept", []) else text
            cells += f" {text:>24} {r['model_seconds'].get(model, 0.0):6.2f}s"
        lines.append(f"  {model:<42} {kinds.get(model, '?'):<{kind_width}}{cells}")
    lines.append(
        "  (incremental: reads only the window's batches and replaces the keys they touch; "
        "'all': rebuilt from the whole lake; 'kept': a retrained model whose inputs had not changed)"
    )
    if runs:
        slowest = sorted(runs[-1]["model_seconds"].items(), key=lambda kv: -kv[1])[:SLOWEST]
        lines += ["", f"Slowest models of the {runs[-1]['name']} run (still full rebuilds unless marked incremental):"]
        lines += [f"  {m:<52} {kinds.get(m, '?'):<{kind_width}} {s:6.2f} s" for m, s in slowest]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`run NAME` or `report`."""
    parser = argparse.ArgumentParser(prog="python -m shop_analytics.cli.demo_runs")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run")
    run_parser.add_argument("name")
    run_parser.add_argument("--full-refresh", action="store_true", help="dbt build --full-refresh; a new list of runs")
    run_parser.add_argument("--no-tests", action="store_true", help="build seeds and models only (a later run tests)")
    sub.add_parser("report")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "run":
        run(args.name, settings, full_refresh=args.full_refresh, tests=not args.no_tests)
        return 0
    path = settings.warehouse.parent / RUNS_FILE
    if not path.exists():
        print(f"no {path}: run `make demo`", file=sys.stderr)
        return 1
    print(report(json.loads(path.read_text()), ingested_batches(settings.lake_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
