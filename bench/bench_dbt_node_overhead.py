"""dbt's fixed cost per node: the profile's per-cursor work before and after it moved to the connection.

Usage: python bench/bench_dbt_node_overhead.py [--scale 0.02] [--rounds 3]

dbt-duckdb opens a cursor for every node it runs (each model and data test) and on each one
applies the profile's `settings` and calls the plugins' `configure_cursor`. Two profiles of the
same project run side by side on the same built warehouse, alternated round by round, each with
its own target folder (so both parse partially, as a user's second run does):
- `per_cursor`: what the project did before: the plugin checked every cursor for the sketch UDFs
  (one `LIMIT 0` query binding all nine; bench_udf_check.py) and the instance-wide options
  (memory_limit, threads, ...) were `settings`, SET again on every cursor;
- `per_connection`: what profiles.yml does now: the options are `config_options`, given once
  when the database opens, only the time zone is SET per cursor, and the plugin registers the
  UDFs once on the parent connection.
Each round times `dbt test` (every data test of the project) and `dbt build` of the staging and
intermediate views (models and their tests) and reports wall and CPU seconds (the dbt process's
user + system time), medians over rounds, and their ratios. Writes bench/results/dbt_node_overhead.json.
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from harness import write_result
from project_commands import ROOT, cli_command, dbt_command, project_env

BENCH = Path(__file__).resolve().parent
# The project's profile before this change: the per-cursor check, as a plugin subclass.
CHECKED_PLUGIN = """
from shop_analytics.dbt.plugin import Plugin as _Plugin
from shop_analytics.dbt.udfs import register_udfs


class Plugin(_Plugin):
    def configure_cursor(self, cursor):
        register_udfs(cursor, cache_size=self.cache_size)
"""
COMMANDS = {
    "dbt test": ["test"],
    "dbt build staging+intermediate views": ["build", "--select", "staging", "intermediate,config.materialized:view"],
}


def _profiles(work: Path) -> dict[str, Path]:
    """The two profiles folders: the project's profile as is, and as it was (per-cursor work)."""
    current = yaml.safe_load((ROOT / "profiles.yml").read_text())
    output = current["shop_analytics"]["outputs"]["dev"]
    before = copy.deepcopy(current)
    old = before["shop_analytics"]["outputs"]["dev"]
    instance_wide = {k: v for k, v in output["config_options"].items() if k != "temp_directory"}
    old["config_options"] = {"temp_directory": output["config_options"]["temp_directory"]}
    old["settings"] = {**instance_wide, **output["settings"]}
    old["plugins"] = [{**p, "module": "bench_checked_plugin"} for p in output["plugins"]]
    folders = {"per_connection": work / "profile_per_connection", "per_cursor": work / "profile_per_cursor"}
    for name, folder in folders.items():
        folder.mkdir(parents=True)
        doc = current if name == "per_connection" else before
        (folder / "profiles.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (folders["per_cursor"] / "bench_checked_plugin.py").write_text(CHECKED_PLUGIN)
    return folders


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one dbt run in the project folder; raises when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    """Build a small warehouse once, then time both profiles round by round."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_dbt_node_overhead_"))
    try:
        data, warehouse = work / "data", work / "warehouse" / "shop.duckdb"
        warehouse.parent.mkdir(parents=True)
        base_env = {**os.environ, **project_env(data, warehouse, work, "2GB"), "DBT_LOG_LEVEL_FILE": "none"}
        subprocess.run(
            cli_command(data, "generate", "--scale", str(args.scale), "--no-progress"), env=base_env, check=True
        )
        # Exit 3: a batch over its quarantine threshold (the generator's dirty share at a small scale).
        ingest = subprocess.run(
            cli_command(data, "ingest", "--no-progress", "--no-data-docs"), env=base_env, text=True, capture_output=True
        )
        if ingest.returncode not in (0, 3):
            raise RuntimeError(f"ingest failed ({ingest.returncode}):\n{ingest.stderr[-4000:]}")
        subprocess.run(dbt_command(work / "history", "build"), cwd=ROOT, env=base_env, check=True, capture_output=True)
        folders = _profiles(work)
        envs = {
            name: {
                **base_env,
                "DBT_PROFILES_DIR": str(folder),
                "PYTHONPATH": os.pathsep.join([str(folder), base_env.get("PYTHONPATH", "")]),
            }
            for name, folder in folders.items()
        }
        timings: dict[str, dict[str, list[tuple[float, float]]]] = {c: {n: [] for n in envs} for c in COMMANDS}
        for _ in range(args.rounds + 1):  # the first round parses in full: not counted
            for label, dbt_args in COMMANDS.items():
                for name, env in envs.items():
                    timings[label][name].append(_timed(dbt_command(work / name, *dbt_args), env))
        rows, ratios = [], {}
        for label, by_profile in timings.items():
            medians = {}
            for name, runs in by_profile.items():
                counted = runs[1:]
                medians[name] = (statistics.median(w for w, _ in counted), statistics.median(c for _, c in counted))
                rows.append(
                    {
                        "command": label,
                        "profile": name,
                        "wall s (median)": round(medians[name][0], 2),
                        "cpu s (median)": round(medians[name][1], 2),
                        "rounds (wall s)": [round(w, 2) for w, _ in counted],
                    }
                )
            ratios[f"{label}: per_connection / per_cursor, wall"] = round(
                medians["per_connection"][0] / medians["per_cursor"][0], 3
            )
            ratios[f"{label}: per_connection / per_cursor, cpu"] = round(
                medians["per_connection"][1] / medians["per_cursor"][1], 3
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = write_result(
        BENCH / "results",
        "dbt_node_overhead",
        {
            "title": "dbt's fixed cost per node: per-cursor settings and UDF check vs once per connection",
            "command": f"python bench/bench_dbt_node_overhead.py --scale {args.scale} --rounds {args.rounds}",
            "inputs": {"scale": args.scale, "rounds": args.rounds},
            "rows": rows,
            "ratios": ratios,
            "software": {"python": sys.version.split()[0]},
        },
    )
    for row in rows:
        wall, cpu = row["wall s (median)"], row["cpu s (median)"]
        print(f"{row['command']:40} {row['profile']:15} wall {wall:7.2f} s  cpu {cpu:7.2f} s")
    for name, value in ratios.items():
        print(f"{name}: {value}")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
