"""int_recommendations in one pass per dataset vs in user-hash buckets: wall time, peak RSS, success.

Usage: flock /tmp/shop_bench.lock nice -n 5 python bench/bench_recommendations_memory.py [--scale 1]
       [--limits 2GB,1GB] [--repeats 2]

Prepared once, untimed: `shop-analytics generate --scale S`, `shop-analytics ingest`, and `dbt build` of
the seeds and of every model int_recommendations reads. Then, for each DuckDB memory_limit, in the same
run and each in a fresh process measured by bench/harness.py (wall time, peak RSS of the process tree),
`dbt run --select int_recommendations` with:

  one_pass  --vars '{recommendation_buckets: 1}': each dataset's lists in one statement, as the model
            was built before it took buckets (the item-item similarity, its own model now, is not in
            either run);
  buckets   the default, recommendation_buckets: auto (recs_recommendation_plan picks the count).

A plan whose run fails (DuckDB out of memory) in any repeat is recorded as failed, not retried. The
two tables are compared row for row after the runs (keys exact, scores within 1e-9): bucketing must
not change a list.
Writes bench/results/recommendations_memory.json.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from pathlib import Path

from harness import Measurement, measure, write_result
from project_commands import ROOT, cli_command, dbt_command, project_env

BENCH = Path(__file__).resolve().parent
WORK = Path(os.environ.get("SHOP_BENCH_RECOMMENDATIONS_WORK", BENCH / "_work" / "recommendations_memory"))
COMPETITORS = {"one_pass": "{recommendation_buckets: 1}", "buckets": "{}"}


def _env(data: Path, warehouse: Path, limit: str) -> dict[str, str]:
    return {**os.environ, **project_env(data, warehouse, WORK, limit)}


def _dbt(*args: str) -> list[str]:
    return dbt_command(WORK, *args)


def _passes() -> int | None:
    """Passes of the last int_recommendations build, from dbt's log."""
    log = (WORK / "logs" / "dbt.log").read_text(errors="replace")
    found = re.findall(r"int_recommendations: built in (\d+) passes", log)
    return int(found[-1]) if found else None


def _differences(one_pass: Path, buckets: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect()
    for alias, path in (("one_pass", one_pass), ("buckets", buckets)):
        # ATTACH takes no parameters: the path (under WORK) goes in as an escaped literal.
        literal = "'" + str(path).replace("'", "''") + "'"
        con.execute(f"attach {literal} as {alias} (read_only)")
    columns = "dataset, recommender, user_id, recommendation_rank, item_id, round(score, 9), round(predicted_rating, 9)"
    out = {}
    for left, right in (("one_pass", "buckets"), ("buckets", "one_pass")):
        (out[f"only_{left}"],) = con.execute(
            f"select count(*) from (select {columns} from {left}.intermediate.int_recommendations "
            f"except all select {columns} from {right}.intermediate.int_recommendations)"
        ).fetchone()
    (out["rows"],) = con.execute("select count(*) from buckets.intermediate.int_recommendations").fetchone()
    return out


def main() -> int:
    """Prepare the inputs once, time both plans at every limit, compare the tables, record the result."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limits", default="2GB,1GB", help="DuckDB memory_limit values")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args()
    limits = args.limits.split(",")

    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "duckdb_tmp").mkdir(parents=True)
    data, prepared = WORK / "data", WORK / "prepared" / "warehouse.duckdb"
    prepared.parent.mkdir()
    env = _env(data, prepared, limits[0])
    generate = ["generate", "--scale", f"{args.scale:g}", "--seed", str(args.seed), "--workers", "2"]
    subprocess.run([*cli_command(data, *generate), "--no-progress"], check=True, env=env)
    ingest = cli_command(data, "ingest", "--no-progress", "--no-data-docs", "--memory-limit", limits[0])
    # Exit 3 (a batch's quarantined share over its threshold) is a finished ingest: dirty rows are generated.
    if subprocess.run(ingest, env=env, check=False).returncode not in (0, 3):
        raise SystemExit("ingest failed")
    inputs = ["+int_recommendations", "--exclude", "int_recommendations"]
    subprocess.run(
        _dbt("build", "--resource-type", "seed", "--resource-type", "model", "--select", *inputs),
        check=True,
        env=env,
        cwd=ROOT,
    )

    rows, built = [], {}
    for limit in limits:
        for name, vars_yaml in COMPETITORS.items():
            warehouse = WORK / f"{name}_{limit}" / "warehouse.duckdb"
            warehouse.parent.mkdir()
            shutil.copyfile(prepared, warehouse)
            command = _dbt("run", "--select", "int_recommendations", "--vars", vars_yaml)
            try:
                m: Measurement | None = measure(
                    command, repeats=args.repeats, env=_env(data, warehouse, limit), cwd=ROOT
                )
            except subprocess.CalledProcessError:
                m = None
            row = {
                "memory_limit": limit,
                "plan": name,
                "ok": m is not None,
                "passes": _passes() if m is not None else None,
                "median_seconds": round(m.median_seconds, 1) if m else None,
                "wall_seconds": [round(s, 1) for s in m.wall_seconds] if m else None,
                "peak_rss_mib": round(m.peak_rss_mib, 1) if m else None,
            }
            print(row, flush=True)
            rows.append(row)
            if m is not None:
                built[(limit, name)] = warehouse
    comparisons = {
        limit: _differences(built[(limit, "one_pass")], built[(limit, "buckets")])
        for limit in limits
        if (limit, "one_pass") in built and (limit, "buckets") in built
    }
    ratios = {}
    for limit in limits:
        one, bucketed = (next(r for r in rows if r["memory_limit"] == limit and r["plan"] == p) for p in COMPETITORS)
        if one["ok"] and bucketed["ok"]:
            ratios[limit] = {
                "wall_buckets_over_one_pass": round(bucketed["median_seconds"] / one["median_seconds"], 2),
                "rss_buckets_over_one_pass": round(bucketed["peak_rss_mib"] / one["peak_rss_mib"], 2),
            }
    write_result(
        BENCH / "results",
        "recommendations_memory",
        {
            "title": "int_recommendations: one pass per dataset vs user-hash buckets, by DuckDB memory_limit",
            "command": f"flock /tmp/shop_bench.lock nice -n 5 python bench/bench_recommendations_memory.py "
            f"--scale {args.scale:g} --limits {args.limits} --repeats {args.repeats}",
            "inputs": {"scale": args.scale, "seed": args.seed, "repeats": args.repeats, "duckdb_threads": 2},
            "rows": rows,
            "ratios": ratios,
            "equal_within_1e-9": comparisons,
        },
    )
    if not args.keep_data:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
