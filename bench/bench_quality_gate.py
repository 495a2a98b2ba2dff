"""Quality gate vs hand-written single-pass SQL on one 10M-row page-view batch.

Usage: python bench/bench_quality_gate.py [--rows 10000000] [--repeats 3]
Writes bench/results/quality_gate.json.

Competitors, each run in its own subprocess (peak RSS from os.wait4), same landing data,
same DuckDB settings (2 threads, memory_limit, temp_directory):
  gate            schema contract check + GX suite (pushed down to DuckDB, over the
                  materialized check table) + row split from each failed expectation's
                  own GX unexpected_index_query; what ingest runs (validate_batch default)
  gate_sql_split  same GX verdict, but the row split re-runs the independent single-pass
                  SQL over the Parquet batch (validate_batch(row_reasons="sql"))
  sql             the hand-written single-pass query alone (rules_sql.row_reasons_sql)
Seconds are measured inside the child after imports; import time is reported apart.
CPU seconds (user + system, all threads, same section) are reported too: on a shared
machine they are much less sensitive to other jobs than wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import write_result

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "_work" / "quality_gate"
DUCKDB_MEMORY_LIMIT = "500MB"
TODAY = dt.date(2026, 11, 20)


def _landing(rows: int) -> Path:
    """Generate (or reuse) a landing folder whose page views are one batch of `rows` rows."""
    from shop_analytics.datagen import GeneratorConfig, generate

    out = WORK / f"landing_{rows}"
    config = GeneratorConfig(
        scale=1.0, seed=11, start=dt.date(2018, 1, 1), end=dt.date(2018, 2, 1), overrides=(("page_views", rows),)
    )
    manifest = out / "_manifest.json"
    if manifest.exists() and json.loads(manifest.read_text())["config"]["overrides"] == [["page_views", rows]]:
        return out
    generate(config, out, workers=2, overwrite=True, progress=False)
    return out


def _child(kind: str, landing: Path) -> dict:
    """Run one competitor in this process and return its timings and per-reason counts."""
    t_import = time.perf_counter()
    import duckdb

    from shop_analytics.quality.batch import batch_files, create_batch_view
    from shop_analytics.quality.raw_contract import PAGE_VIEWS
    from shop_analytics.quality.rules import RuleParams, rules_for

    if kind != "sql":
        from shop_analytics.quality.contracts import check_batch_contract
        from shop_analytics.quality.validate import validate_batch
    else:
        from shop_analytics.quality.rules_sql import write_row_reasons
    import_s = time.perf_counter() - t_import

    t0, cpu0 = time.perf_counter(), time.process_time()
    con = duckdb.connect()
    tmp = WORK / f"spill_{kind}"
    tmp.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET threads = 2; SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'; SET temp_directory = '{tmp}'")
    batch_dir = next((landing / "page_views").iterdir())
    files = batch_files(batch_dir)
    create_batch_view(con, "known_users", batch_files(next((landing / "users").iterdir())))
    create_batch_view(con, "known_items", batch_files(next((landing / "items").iterdir())))
    create_batch_view(con, "batch", files)
    params = RuleParams(today=TODAY, known_users="known_users", known_items="known_items")
    phases: dict[str, float] = {}
    if kind == "sql":
        t = time.perf_counter()
        write_row_reasons(con, "batch", rules_for(PAGE_VIEWS, params), "reasons")
        phases["row_split_s"] = time.perf_counter() - t
    else:
        t = time.perf_counter()
        contract = check_batch_contract(con, files, PAGE_VIEWS, WORK / f"contracts_{kind}")
        phases["schema_check_s"] = time.perf_counter() - t
        if not contract.accepted:
            raise SystemExit(contract.message())
        t = time.perf_counter()
        validation = validate_batch(
            con, "batch", PAGE_VIEWS, params, reasons_table="reasons", row_reasons="gx" if kind == "gate" else "sql"
        )
        phases["gx_and_row_split_s"] = time.perf_counter() - t
    total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    counts = dict(con.execute("SELECT reason, count(*) FROM reasons GROUP BY reason ORDER BY reason").fetchall())
    rows = con.execute("SELECT count(*) FROM batch").fetchone()[0]
    return {
        "kind": kind,
        "seconds": total,
        "cpu_s": cpu,
        "import_s": import_s,
        "phases": phases,
        "counts": counts,
        "rows": rows,
        **({"gx_success": validation.success} if kind != "sql" else {}),
    }


def _run_child(kind: str, landing: Path) -> tuple[dict, float]:
    """Run a competitor in a subprocess; return its report and its peak RSS in MiB."""
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, "--landing", str(landing)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"competitor {kind} failed with exit code {proc.returncode}")
    report = json.loads(out.strip().splitlines()[-1])
    return report, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    """Run every competitor `repeats` times, interleaved, and write the results file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["gate", "gate_sql_split", "sql"])
    parser.add_argument("--landing", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.landing)))
        return

    WORK.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    landing = _landing(args.rows)
    print(f"landing ready in {time.perf_counter() - t:.1f}s: {landing}", file=sys.stderr)
    runs: dict[str, list[tuple[dict, float]]] = {"sql": [], "gate": [], "gate_sql_split": []}
    for i in range(args.repeats):
        for kind in runs:
            report, rss = _run_child(kind, landing)
            report["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
            runs[kind].append((report, rss))
            print(
                f"[{i}] {kind}: {report['seconds']:.2f}s cpu {report['cpu_s']:.2f}s {rss:.0f} MiB {report['phases']}",
                file=sys.stderr,
            )

    counts = {kind: r[0][0]["counts"] for kind, r in runs.items()}
    if not (counts["sql"] == counts["gate"] == counts["gate_sql_split"]):
        raise SystemExit(f"competitors disagree on reasons: {counts}")
    manifest = json.loads((landing / "_manifest.json").read_text())["sources"]["page_views"]["counts"]

    def summary(kind: str) -> dict:
        reports = runs[kind]
        med = statistics.median(r[0]["seconds"] for r in reports)
        phases = {k: round(statistics.median(r[0]["phases"][k] for r in reports), 2) for k in reports[0][0]["phases"]}
        cpu = statistics.median(r[0]["cpu_s"] for r in reports)
        return {
            "competitor": kind,
            "median_s": round(med, 2),
            "median_cpu_s": round(cpu, 2),
            "runs_s": [round(r[0]["seconds"], 2) for r in reports],
            "phases_median_s": phases,
            "import_s": round(statistics.median(r[0]["import_s"] for r in reports), 2),
            "peak_rss_mib": round(max(r[1] for r in reports)),
            "load_avg_1m_after_runs": [r[0]["load_avg_1m_after"] for r in reports],
            "rows_per_s": round(reports[0][0]["rows"] / med),
        }

    rows = [summary(k) for k in runs]
    by = {r["competitor"]: r for r in rows}
    result = {
        "title": "Quality gate (schema contract + GX suite + row split) vs hand-written single-pass SQL",
        "command": "python bench/bench_quality_gate.py"
        + (f" --rows {args.rows}" if args.rows != 10_000_000 else "")
        + (f" --repeats {args.repeats}" if args.repeats != 3 else ""),
        "inputs": {
            "page_view_rows": runs["sql"][0][0]["rows"],
            "batch_files": len(list(next((landing / "page_views").iterdir()).glob("*.parquet"))),
            "seed": 11,
            "duckdb": {"threads": 2, "memory_limit": DUCKDB_MEMORY_LIMIT},
            "repeats": args.repeats,
            "machine": {
                "cpus": os.cpu_count(),
                "note": "shared machine: other jobs ran concurrently (see load_avg); "
                "compare competitors within this run, not absolute seconds",
            },
        },
        "rows": rows,
        "ratios": {
            "gate_over_sql": round(by["gate"]["median_s"] / by["sql"]["median_s"], 2),
            "gate_over_sql_cpu": round(by["gate"]["median_cpu_s"] / by["sql"]["median_cpu_s"], 2),
            "gate_sql_split_over_sql": round(by["gate_sql_split"]["median_s"] / by["sql"]["median_s"], 2),
        },
        "targets": {
            "gate_within_2x_of_sql": by["gate"]["median_s"] <= 2 * by["sql"]["median_s"],
            "peak_rss_below_1_gib": all(r["peak_rss_mib"] < 1024 for r in rows if r["competitor"] == "gate"),
        },
        "reasons": counts["sql"],
        "manifest_counts": dict(manifest),
    }
    write_result(BENCH / "results", "quality_gate", result)
    print(json.dumps({"ratios": result["ratios"], "targets": result["targets"], "rows": rows}, indent=2))
    shutil.rmtree(WORK / "spill_gate", ignore_errors=True)


if __name__ == "__main__":
    main()
