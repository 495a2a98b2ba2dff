"""Incremental build vs full rebuild of the same lake, after one more day lands (issue #17).

Usage: flock /tmp/shop_bench.lock nice -n 5 python bench/bench_incremental.py [--scale 1] [--keep-data]

Prepared once, untimed: `shop-analytics generate --scale S` (the history, three years), `shop-analytics
ingest`, `dbt build` of seeds and models (the history's state). Then `shop-analytics generate --next-day`
lands one more day (about 0.1% new rows: a day of page views and order lines with their late and dirty
rows, the day's exchange rates, and a correction batch cancelling an earlier order). Timed in the same
run, each in a fresh process measured by bench/harness.py (wall time, peak RSS of the process tree):

  incremental  `shop-analytics ingest` of the new batches + `dbt build` (models and tests): the
               incremental models read only the new batches' window, the retrained models whose
               inputs did not change are kept, every other model rebuilds;
  full         `dbt build --full-refresh` (models and tests) of the same lake, on a copy of the
               warehouse taken after the incremental run: every model from the whole lake;
  start-up     `dbt parse` and `dbt build` of an empty selection (dbt's own start-up, in both runs).

Every dbt run shares one target folder (dbt's partial parsing works as for a user); each build's
run_results.json is kept for per-model timings. After the runs (untimed) the incremental models and
the marts built on them are compared row for row with the full rebuild (EXCEPT ALL both ways; the
heavy hitters, whose merged counters may differ from one pass's, against exact counts and their bounds), and
each incremental model's window must be exactly the new batches; the retrained models the incremental
run kept (their inputs had not changed) must equal the full rebuild's retrain, DOUBLE columns rounded to
9 decimals, rows left over by rounding then matched within a relative 1e-9. Writes bench/results/incremental.json
(incremental_scale<N>.json at another scale); the ratio incremental / full is the figure of the issue's goal
(at most 5% at scale 100).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import Measurement, measure, measurement_dict, write_result
from project_commands import ROOT, cli_command, dbt_command, project_env

BENCH = Path(__file__).resolve().parent
WORK = Path(os.environ.get("SHOP_BENCH_INCREMENTAL_WORK", BENCH / "_work" / "incremental"))
MEMORY_LIMIT = "2GB"
RATIO_GOAL = 0.05
# Compared row for row besides the incremental models (read from dbt's manifest): the mart built on them.
ALSO_COMPARED = ("marts.dim_customer_purchase_summary",)
# Incremental models compared by their stated bounds instead: a Misra-Gries summary counted on from a
# stored state equals a one-pass build only while the lake has fewer items than counters.
BOUNDED = ("marts.stream_item_heavy_hitters",)
TOP_MODELS = 8


def _env(data: Path, warehouse: Path) -> dict[str, str]:
    return project_env(data, warehouse, WORK, MEMORY_LIMIT)


def _dbt(*args: str) -> list[str]:
    return dbt_command(WORK, *args)


def _ingest(data: Path) -> list[str]:
    # Exit 3 (a batch's quarantined share over its threshold) is a finished run: the dirty rows are the point.
    return cli_command(data, "ingest", "--no-progress", "--no-data-docs", "--memory-limit", MEMORY_LIMIT)


def _kept_run_results(name: str) -> Path:
    kept = WORK / f"run_results_{name}.json"
    shutil.copyfile(WORK / "target" / "run_results.json", kept)
    return kept


def _tested_folder(test: dict, nodes: dict) -> str:
    """The folder of the model a data test reads (the first one, for a test on two), e.g. models/staging."""
    parents = [nodes[p] for p in test["depends_on"]["nodes"] if p.startswith("model.")]
    return str(Path(parents[0]["original_file_path"]).parent) if parents else "(no model)"


def _timings(run_results: Path) -> dict[str, dict[str, float]]:
    """Seconds per node kind (model, test, seed, ...), per model, and of data tests per tested model's folder."""
    results = json.loads(run_results.read_text())["results"]
    nodes = json.loads((WORK / "target" / "manifest.json").read_text())["nodes"]
    kinds: dict[str, float] = {}
    models: dict[str, float] = {}
    tests_by_folder: dict[str, float] = {}
    for r in results:
        kind, name = r["unique_id"].split(".")[0], r["unique_id"].rsplit(".", 1)[1]
        kinds[kind] = kinds.get(kind, 0.0) + float(r["execution_time"])
        if kind == "model":
            models[name] = float(r["execution_time"])
        elif kind == "test" and r["unique_id"] in nodes:
            folder = _tested_folder(nodes[r["unique_id"]], nodes)
            tests_by_folder[folder] = tests_by_folder.get(folder, 0.0) + float(r["execution_time"])
    return {"kinds": kinds, "models": models, "tests_by_folder": tests_by_folder}


def _differences(
    incremental: Path, full: Path, tables: list[str], *, round_doubles: bool = False
) -> dict[str, dict[str, int]]:
    """Per compared table: rows only in the incremental build, only in the full one, and the full row count.

    `round_doubles` compares DOUBLE columns rounded to 9 decimals: for the retrained tables the
    incremental run kept, which the full rebuild retrains, DuckDB's parallel float sums may differ
    in the last bits from one run to the next.
    """
    import duckdb

    from shop_analytics.sql import quote_ident, quote_literal

    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {quote_literal(str(incremental))} AS inc (READ_ONLY)")
        con.execute(f"ATTACH {quote_literal(str(full))} AS ful (READ_ONLY)")
        out = {}
        for table in tables:  # schema.name of dbt models, from dbt's manifest or the build file
            schema, name = table.split(".")
            columns = con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'inc' "
                "AND schema_name = ? AND table_name = ? ORDER BY column_index",
                [schema, name],
            ).fetchall()
            rounded = {c for c, t in columns if round_doubles and t == "DOUBLE"}
            select = ", ".join(f"round({quote_ident(c)}, 9)" if c in rounded else quote_ident(c) for c, _ in columns)
            relation = f"{quote_ident(schema)}.{quote_ident(name)}"
            inc, ful = f"SELECT {select} FROM inc.{relation}", f"SELECT {select} FROM ful.{relation}"
            only_inc = con.execute(f"SELECT count(*) FROM ({inc} EXCEPT ALL {ful})").fetchone()
            only_full = con.execute(f"SELECT count(*) FROM ({ful} EXCEPT ALL {inc})").fetchone()
            rows = con.execute(f"SELECT count(*) FROM ful.{relation}").fetchone()
            out[table] = {
                "only_incremental": int(only_inc[0]) if only_inc else -1,
                "only_full": int(only_full[0]) if only_full else -1,
                "rows": int(rows[0]) if rows else -1,
            }
            if rounded and (out[table]["only_incremental"] or out[table]["only_full"]):
                out[table]["differ_beyond_rel_1e9"] = _beyond_tolerance(con, relation, columns, rounded, inc, ful)
        return out
    finally:
        con.close()


def _beyond_tolerance(
    con: Any, relation: str, columns: list[tuple[str, str]], rounded: set[str], inc: str, ful: str
) -> int:
    """Rows of the two builds left over by the rounded comparison that differ beyond a relative 1e-9.

    Rounding to 9 decimals is not a tolerance: two sums equal to the last bits can round apart
    when they straddle a rounding boundary. The left-over rows are matched by their other
    columns and their DOUBLEs compared with a relative tolerance; rows that do not pair up count.
    """
    from shop_analytics.sql import quote_ident

    keys = [quote_ident(c) for c, _ in columns if c not in rounded]
    doubles = [quote_ident(c) for c, _ in columns if c in rounded]
    left_over = f"SELECT DISTINCT {', '.join(keys)} FROM (({inc} EXCEPT ALL {ful}) UNION ALL ({ful} EXCEPT ALL {inc}))"
    match = " AND ".join(f"t.{k} IS NOT DISTINCT FROM l.{k}" for k in keys)
    order = ", ".join([*keys, *doubles])

    def side(db: str) -> list[tuple[Any, ...]]:
        sql = f"SELECT {order} FROM {db}.{relation} AS t SEMI JOIN ({left_over}) AS l ON {match} ORDER BY {order}"
        return con.execute(sql).fetchall()

    a, b = side("inc"), side("ful")
    n = len(keys)

    def close(x: tuple[Any, ...], y: tuple[Any, ...]) -> bool:
        pairs = zip(x[n:], y[n:], strict=True)
        return x[:n] == y[:n] and all(math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-12) for u, v in pairs)

    same = sum(1 for x, y in zip(a, b, strict=False) if close(x, y))
    return max(len(a), len(b)) - same


def _heavy_hitter_bounds(warehouse: Path) -> dict[str, int | bool]:
    """The incremental heavy hitters against exact counts: rows outside [views_lower, views_upper], and N and D."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute(
            "CREATE TEMP TABLE exact AS SELECT item_id, count(*) AS views FROM staging.stg_shop__page_views "
            "WHERE item_id IS NOT NULL GROUP BY item_id"
        )
        (outside,) = con.execute(
            "SELECT count(*) FROM marts.stream_item_heavy_hitters AS hh LEFT JOIN exact USING (item_id) "
            "WHERE coalesce(exact.views, 0) NOT BETWEEN hh.views_lower AND hh.views_upper"
        ).fetchone() or (-1,)
        (n,) = con.execute("SELECT sum(views) FROM exact").fetchone() or (0,)
        total, error, capacity = con.execute(
            "SELECT max(total_views), max(max_count_error), max(summary_capacity) FROM marts.stream_item_heavy_hitters"
        ).fetchone() or (None, None, None)
    within = outside == 0 and total == n and error is not None and error <= n / (capacity + 1)
    return {
        "rows_outside_bounds": int(outside),
        "total_views": int(total or 0),
        "exact_views": int(n or 0),
        "max_count_error": int(error or 0),
        "summary_capacity": int(capacity or 0),
        "within": within,
    }


def _kept_tables(warehouse: Path) -> list[str]:
    """schema.name of the retrained models the last build kept (their inputs had not changed)."""
    import duckdb

    from shop_analytics.warehouse.incremental_state import kept_models

    kept = kept_models(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name IN ('intermediate', 'marts')"
        ).fetchall()
    return sorted(f"{schema}.{name}" for schema, name in found if name in kept)


def _figures(m: Measurement) -> dict:
    return {k: v for k, v in measurement_dict(m).items() if k != "command"}


def main() -> int:
    """Prepare the history, land a day, time incremental vs full, check equality, record the result."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="history size (100: the issue's scale)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-data", action="store_true", help="keep the data and both warehouses")
    parser.add_argument("--notes", default="", help="context recorded with the result (e.g. why this scale)")
    args = parser.parse_args()

    from shop_analytics.warehouse.incremental_state import incremental_relations, ingested_batches, read_watermarks

    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "duckdb_tmp").mkdir(parents=True)
    data, inc_wh, full_wh = WORK / "data", WORK / "incremental" / "warehouse.duckdb", WORK / "full" / "warehouse.duckdb"
    inc_wh.parent.mkdir()
    full_wh.parent.mkdir()
    env = {**os.environ, **_env(data, inc_wh)}

    # Preparation (untimed): the history, ingested and built.
    subprocess.run(
        cli_command(data, "generate", "--scale", f"{args.scale:g}", "--seed", str(args.seed), "--workers", "2")
        + ["--no-progress"],
        check=True,
        env=env,
    )
    prepare_ingest = measure(_ingest(data), repeats=1, env=env, cwd=ROOT, ok_returncodes=(0, 3))
    prepare_build = measure(
        _dbt("build", "--resource-type", "seed", "--resource-type", "model"), repeats=1, env=env, cwd=ROOT
    )
    history_batches = len(ingested_batches(data / "lake"))
    history_rows = {
        s: int(m["rows"]) for s, m in json.loads((data / "landing" / "_manifest.json").read_text())["sources"].items()
    }
    before = read_watermarks(inc_wh)
    next_day = cli_command(data, "generate", "--next-day")
    day = subprocess.run(next_day, check=True, env=env, capture_output=True, text=True)
    print(day.stdout, end="")

    # Timed: dbt's start-up, then the incremental run, then the full rebuild of the same lake.
    parse = measure(_dbt("parse"), repeats=3, env=env, cwd=ROOT)
    empty = measure(_dbt("build", "--select", "tag:no_model_has_this_tag"), repeats=3, env=env, cwd=ROOT)
    ingest = measure(_ingest(data), repeats=1, env=env, cwd=ROOT, ok_returncodes=(0, 3))
    incremental = measure(_dbt("build"), repeats=1, env=env, cwd=ROOT)
    inc_timings = _timings(_kept_run_results("incremental"))
    after = read_watermarks(inc_wh)
    kept = _kept_tables(inc_wh)
    shutil.copyfile(inc_wh, full_wh)
    full = measure(_dbt("build", "--full-refresh"), repeats=1, env={**env, **_env(data, full_wh)}, cwd=ROOT)
    full_timings = _timings(_kept_run_results("full"))

    # Checks (untimed): equality, and each incremental model consumed exactly the new batches.
    relations = incremental_relations(WORK / "target" / "manifest.json")
    incremental_models = [r.split(".", 1)[1] for r in relations]
    differences = _differences(inc_wh, full_wh, [*(r for r in relations if r not in BOUNDED), *ALSO_COMPARED])
    bounds = _heavy_hitter_bounds(inc_wh)
    equal = all(d["only_incremental"] == 0 and d["only_full"] == 0 for d in differences.values())
    kept_differences = _differences(inc_wh, full_wh, kept, round_doubles=True)
    kept_equal = all(
        d.get("differ_beyond_rel_1e9", d["only_incremental"] + d["only_full"]) == 0 for d in kept_differences.values()
    )
    new = [b for b in ingested_batches(data / "lake") if b.commit_seq > max(before.values(), default=0)]
    windows = {m: [before.get(m, 0), after.get(m, 0)] for m in incremental_models}
    exact = bool(new) and all(w == [new[0].commit_seq - 1, new[-1].commit_seq] for w in windows.values())
    new_rows = sum(b.rows_admitted for b in new)
    history_facts = sum(v for k, v in history_rows.items() if k in ("page_views", "order_lines", "ratings"))

    incremental_s = ingest.median_seconds + incremental.median_seconds
    ratio = incremental_s / full.median_seconds
    top = sorted(inc_timings["models"].items(), key=lambda kv: -kv[1])[:TOP_MODELS]
    incremental_models_s = sum(inc_timings["models"].get(m, 0.0) for m in incremental_models)
    rows = [
        {"run": "prepare: ingest of the history (untimed in the ratio)", **_figures(prepare_ingest)},
        {"run": "prepare: dbt build of the history, seeds and models (untimed)", **_figures(prepare_build)},
        {"run": "dbt start-up: dbt parse (partial parse)", **_figures(parse)},
        {"run": "dbt start-up: dbt build of an empty selection", **_figures(empty)},
        {"run": "incremental: shop-analytics ingest of the new batches", **_figures(ingest)},
        {"run": "incremental: dbt build (models and tests)", **_figures(incremental)},
        {"run": "full: dbt build --full-refresh (models and tests)", **_figures(full)},
    ]
    payload = {
        "title": "Incremental build (one more day) vs full rebuild of the same lake"
        + ("" if args.scale == 1 else f", scale {args.scale:g}"),
        "command": f"flock /tmp/shop_bench.lock nice -n 5 python bench/bench_incremental.py --scale {args.scale:g}",
        "inputs": {
            "scale": args.scale,
            "seed": args.seed,
            "history_rows": history_rows,
            "history_batches": history_batches,
            "new_batches": [f"{b.source}/{b.batch_id}" for b in new],
            "new_rows_admitted": new_rows,
            "new_share_of_fact_rows": round(new_rows / history_facts, 5) if history_facts else None,
            "memory_limit": MEMORY_LIMIT,
            "duckdb_threads": 2,
            "dbt_threads": 2,
        },
        "rows": rows,
        "ratios": {
            "incremental (ingest + dbt build) / full rebuild (wall)": round(ratio, 3),
            "incremental dbt build / full rebuild (wall)": round(incremental.median_seconds / full.median_seconds, 3),
        },
        "node_seconds": {"incremental": inc_timings["kinds"], "full": full_timings["kinds"]},
        # Data tests run over whole tables in both builds: their thread time by the tested model's folder.
        "test_seconds_by_folder": {
            "incremental": {k: round(v, 2) for k, v in sorted(inc_timings["tests_by_folder"].items())},
            "full": {k: round(v, 2) for k, v in sorted(full_timings["tests_by_folder"].items())},
        },
        "incremental_models_seconds": {
            "incremental run": round(incremental_models_s, 2),
            "full run": round(sum(full_timings["models"].get(m, 0.0) for m in incremental_models), 2),
        },
        "incremental_models_each": {
            m: {
                "incremental run": round(inc_timings["models"].get(m, 0.0), 2),
                "full run": round(full_timings["models"].get(m, 0.0), 2),
            }
            for m in incremental_models
        },
        "top_models_incremental_run": [
            {"model": m, "seconds": round(s, 2), "full_run_seconds": round(full_timings["models"].get(m, 0.0), 2)}
            for m, s in top
        ],
        "windows": windows,
        "differences": differences,
        "heavy_hitter_bounds": bounds,
        "kept_models": kept,
        "kept_differences": kept_differences,
        "targets": [
            {
                "target": "incremental tables equal the full rebuild, row for row (EXCEPT ALL both ways)",
                "measured": "equal" if equal else "DIFFERENT (see differences)",
                "met": equal,
            },
            {
                "target": "the incremental heavy hitters hold their bounds against exact counts "
                "(views_lower <= views <= views_upper, total exact, D <= N / (capacity + 1))",
                "measured": json.dumps(bounds),
                "met": bool(bounds["within"]),
            },
            {
                "target": "the retrained models the incremental run kept (inputs unchanged) equal the full "
                "rebuild's retrain (DOUBLE columns within a relative 1e-9)",
                "measured": f"{len(kept)} kept, " + ("equal" if kept_equal else "DIFFERENT (see kept_differences)"),
                "met": kept_equal,
            },
            {
                "target": "each incremental model consumed exactly the new batches",
                "measured": json.dumps(windows),
                "met": exact,
            },
            {
                "target": f"incremental (ingest + dbt build) at most {RATIO_GOAL:.0%} of the full rebuild's wall time "
                "(the issue's goal, at scale 100)",
                "measured": round(ratio, 3),
                "met": ratio <= RATIO_GOAL,
            },
        ],
    }
    if args.notes:
        payload["notes"] = args.notes
    # One result per scale: scale 1 is the default run, others sit beside it.
    name = "incremental" if args.scale == 1 else f"incremental_scale{args.scale:g}"
    path = write_result(BENCH / "results", name, payload)
    print(
        f"wrote {path}: incremental {incremental_s:.1f} s (ingest {ingest.median_seconds:.1f} + dbt "
        f"{incremental.median_seconds:.1f}, {max(ingest.peak_rss_mib, incremental.peak_rss_mib):.0f} MiB) vs full "
        f"{full.median_seconds:.1f} s ({full.peak_rss_mib:.0f} MiB): ratio {ratio:.3f}; dbt parse "
        f"{parse.median_seconds:.1f} s, empty build {empty.median_seconds:.1f} s; equal: {equal}; exact: {exact}"
    )
    print("slowest models of the incremental run: " + ", ".join(f"{m} {s:.1f} s" for m, s in top))
    print(f"kept (inputs unchanged): {', '.join(kept) or 'none'}; equal to the full retrain: {kept_equal}")
    if not args.keep_data:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0 if equal and exact and kept_equal else 1


if __name__ == "__main__":
    sys.exit(main())
