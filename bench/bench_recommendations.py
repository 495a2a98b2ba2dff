"""User-user similarity at 2M ratings: the dbt models vs an exact scipy sparse product vs the naive self-join.

Usage: python bench/bench_recommendations.py [--ratings 2000000] [--naive-limit 300] [--self-join-limit 1200]
Writes bench/results/recommendations.json.

Data: 50k users, 20k items, Zipf(1.0) item popularity, lognormal (heavy-tailed)
user activity, generated and ingested once (untimed). Competitors, each in a
fresh process, one after the other:
  (a) `dbt run -s +rpt_user_similarity` with DuckDB memory_limit 1GB, 2 threads, with the
      default engine (sparse: exact blocked sparse product in a dbt Python model) and with
      the SQL self_join engine (capped candidates + exact re-scoring), each from scratch;
  (b) exact mean-centred X·Xᵀ with scipy, top-50 per row (bench/competitors/exact_sparse_similarity.py);
  (c) the source document's naive self-join on item (with the correct formula),
      stopped at --naive-limit seconds; its full run time is projected from a
      run on a 1/50 hash sample of items, scaled by join rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import duckdb
import yaml

from harness import measure, measurement_dict, write_result
from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest import IngestSettings, ingest
from shop_analytics.settings import DataLayout

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / "_work" / "recommendations"
MEMORY_LIMIT = "1GB"
K = 50
NAIVE_SAMPLE_MODULUS = 50
TRAIN_NOTHING = "1970-01-01"

NAIVE_SQL = """
SET memory_limit = '{memory_limit}';
SET threads = 2;
SET temp_directory = '{temp}';
SET preserve_insertion_order = false;
CREATE TABLE current AS
    SELECT user_id, item_id, arg_max(rating, (rated_at, rating_id))::DOUBLE AS rating
    FROM read_parquet('{lake}/ratings/**/*.parquet', hive_partitioning = true)
    GROUP BY user_id, item_id;
CREATE TABLE centred AS
    SELECT user_id, item_id, rating - avg(rating) OVER (PARTITION BY user_id) AS d FROM current;
CREATE TABLE norms AS SELECT user_id, sqrt(sum(d * d)) AS norm FROM centred GROUP BY user_id;
-- The source document's shape: every pair of users sharing an item, then aggregate.
CREATE TABLE naive AS
    SELECT a.user_id, b.user_id AS neighbour_id, sum(a.d * b.d) AS dot, count(*) AS n_co_rated
    FROM centred a JOIN centred b ON a.item_id = b.item_id AND a.user_id <> b.user_id
    WHERE {item_filter}
    GROUP BY a.user_id, b.user_id
    HAVING count(*) >= 2;
SELECT count(*) FROM naive;
"""


def _config(ratings: int) -> GeneratorConfig:
    return GeneratorConfig(
        scale=1.0,
        seed=11,
        zipf_exponent=1.0,
        chunk_rows=1_000_000,
        overrides=(
            ("users", 50_000),
            ("items", 20_000),
            ("ratings", ratings),
            ("page_views", 20_000),
            ("purchases", 2_000),
        ),
    )


def _prepare(ratings: int) -> DataLayout:
    """Generate and ingest the data once; reuse it when the stamp matches."""
    layout = DataLayout(WORK / "data")
    stamp = WORK / "data_stamp.json"
    wanted = json.dumps({"ratings": ratings, "seed": 11, "zipf": 1.0})
    if stamp.exists() and stamp.read_text() == wanted and layout.lake.exists():
        return layout
    shutil.rmtree(WORK / "data", ignore_errors=True)
    generate(_config(ratings), layout.landing, workers=2, progress=None)
    ingest(layout, IngestSettings(currencies_csv=ROOT / "seeds" / "currencies.csv", progress=None))
    stamp.write_text(wanted)
    return layout


# The project's profile, except that temp_directory is set once when the database
# opens (config_options) instead of on every cursor: once a query has spilled,
# DuckDB refuses `SET temp_directory` on the cursor dbt opens at the end of the run.
BENCH_PROFILE = """
shop_analytics:
  target: bench
  outputs:
    bench:
      type: duckdb
      path: "{warehouse}"
      threads: 2
      settings: {{memory_limit: "{memory_limit}", threads: "2", preserve_insertion_order: false, TimeZone: UTC}}
      config_options: {{temp_directory: "{temp}"}}
"""


def _dbt_env(layout: DataLayout) -> dict[str, str]:
    profiles = WORK / "profiles"
    profiles.mkdir(exist_ok=True)
    (profiles / "profiles.yml").write_text(
        BENCH_PROFILE.format(warehouse=WORK / "warehouse.duckdb", memory_limit=MEMORY_LIMIT, temp=WORK / "tmp")
    )
    return {
        "SHOP_ANALYTICS_LAKE_DIR": str(layout.lake),
        "DBT_PROFILES_DIR": str(profiles),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _project_vars() -> dict:
    """The vars block of dbt_project.yml (the defaults the dbt run used)."""
    return yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]


def _join_sizes(con: duckdb.DuckDBPyConnection, cap: int) -> dict[str, int]:
    row = con.execute(f"""
        select sum(n * n), sum(n * least(n, {cap})), count(*) filter (where n > {cap}), sum(n)
        from (select item_id, count(*) as n from intermediate.int_ratings__centred where dataset = 'served'
              group by item_id)
    """).fetchone()
    return {
        "naive_join_rows": int(row[0]),
        "capped_join_rows": int(row[1]),
        "items_capped": int(row[2]),
        "eligible_ratings": int(row[3]),
    }


def _candidate_pairs(con: duckdb.DuckDBPyConnection, cap: int, per_user: int) -> dict[str, int]:
    """Pairs the capped join proposes and pairs re-scored exactly: a 1/16 user sample x 16 (untimed)."""
    proposed = rescored = 0
    for bucket in range(1):
        row = con.execute(f"""
            with q as (select user_id, item_id from intermediate.int_ratings__centred
                       where dataset = 'served' and hash(user_id) % 16 = {bucket}),
                 s as (select user_id, item_id, cast(item_raters as double) / least(item_raters, {cap}) as w
                       from intermediate.int_ratings__centred
                       where dataset = 'served' and rater_sample_rank <= {cap}),
                 c as (select q.user_id, s.user_id as v, sum(s.w) as est_co from q join s using (item_id)
                       where q.user_id <> s.user_id group by all),
                 kept as (select user_id, count(*) filter (where est_co >= 2 - 1e-9) as n from c group by user_id)
            select (select count(*) from c), (select sum(least(n, {per_user})) from kept)
        """).fetchone()
        proposed += int(row[0] or 0) * 16
        rescored += int(row[1] or 0) * 16
    return {"candidate_pairs_proposed_est": proposed, "candidate_pairs_rescored_est": rescored}


def _recall(con: duckdb.DuckDBPyConnection, exact_path: Path) -> dict[str, float]:
    row = con.execute(f"""
        with exact as (select user_id, neighbour_id from read_parquet('{exact_path}')),
             sql as (select user_id, neighbour_id from marts.rpt_user_similarity),
             per_user as (
                select e.user_id, count(*) as n_exact, count(s.neighbour_id) as n_found
                from exact e left join sql s using (user_id, neighbour_id) group by e.user_id)
        select avg(n_found / n_exact), sum(n_found) / sum(n_exact), count(*),
               (select count(*) from exact), (select count(*) from sql)
        from per_user
    """).fetchone()
    return {
        "recall_at_50_mean_over_users": float(row[0]),
        "recall_at_50_pooled": float(row[1]),
        "users_with_exact_neighbours": int(row[2]),
        "exact_rows": int(row[3]),
        "sql_rows": int(row[4]),
    }


def _run_engine(layout: DataLayout, engine: str, overrides: dict, limit: float | None, exact_path: Path) -> dict:
    """`dbt run -s +rpt_user_similarity` from scratch with one similarity engine, and its recall@50."""
    dbt = [
        str(Path(sys.executable).parent / "dbt"),
        "run",
        "-s",
        "+rpt_user_similarity",
        "--target-path",
        str(WORK / "target"),
        "--log-path",
        str(WORK / "logs"),
        # The cutoff before all data leaves the evaluation's train dataset empty: the
        # models compute the served similarity only, as the competitors do.
        "--vars",
        json.dumps({**overrides, "similarity_engine": engine, "evaluation_cutoff": TRAIN_NOTHING}),
    ]
    (WORK / "warehouse.duckdb").unlink(missing_ok=True)
    shutil.rmtree(WORK / "tmp", ignore_errors=True)
    env = {**os.environ, **_dbt_env(layout)}
    try:
        m = measure(dbt, repeats=1, env=env, cwd=ROOT, timeout=limit)
    except TimeoutError:
        return {"finished": False, "summary": f"stopped at {limit:.0f} s"}
    con = duckdb.connect(str(WORK / "warehouse.duckdb"), read_only=True)
    recall = _recall(con, exact_path)
    con.close()
    return {
        "finished": True,
        "measurement": m,
        "recall": recall,
        "summary": f"{m.median_seconds:.1f} s, {m.peak_rss_mib:.0f} MiB, "
        f"recall@50 {recall['recall_at_50_mean_over_users']:.4f}",
    }


def _naive(layout: DataLayout, limit: float) -> dict:
    """Calibrate on a 1/50 item sample, then try the full naive join under the time limit."""
    script = WORK / "naive.sql"
    con = duckdb.connect()
    sizes = con.execute(f"""
        select sum(n * n), sum(n * n) filter (where hash(item_id) % {NAIVE_SAMPLE_MODULUS} = 0)
        from (select item_id, count(*) as n from (
            select distinct user_id, item_id
            from read_parquet('{layout.lake}/ratings/**/*.parquet', hive_partitioning = true)) group by item_id)
    """).fetchone()
    full_rows, sample_rows = int(sizes[0]), int(sizes[1])
    results: dict = {"naive_join_rows_incl_self": full_rows}
    for name, item_filter, timeout in (
        ("sample", f"hash(a.item_id) % {NAIVE_SAMPLE_MODULUS} = 0", None),
        ("full", "true", limit),
    ):
        shutil.rmtree(WORK / "naive_tmp", ignore_errors=True)
        script.write_text(
            NAIVE_SQL.format(
                memory_limit=MEMORY_LIMIT, temp=WORK / "naive_tmp", lake=layout.lake, item_filter=item_filter
            )
        )
        db = WORK / f"naive_{name}.duckdb"
        db.unlink(missing_ok=True)
        command = [str(Path(sys.executable).parent / "duckdb"), str(db), "-f", str(script)]
        try:
            m = measure(command, repeats=1, timeout=timeout)
            results[name] = {"finished": True, **measurement_dict(m)}
        except TimeoutError:
            results[name] = {"finished": False, "stopped_after_s": limit}
        db.unlink(missing_ok=True)
    sample = results["sample"]
    results["projected_seconds"] = sample["median_seconds"] * full_rows / max(sample_rows, 1)
    results["sample_join_rows"] = sample_rows
    return results


def main() -> None:
    """Prepare the data, run the three competitors, write the results file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--ratings", type=int, default=2_000_000)
    parser.add_argument("--naive-limit", type=float, default=300.0)
    parser.add_argument(
        "--self-join-limit",
        type=float,
        default=1200.0,
        help="stop the self_join engine's dbt run after this many seconds",
    )
    parser.add_argument("--cap", type=int, default=None, help="override similarity_candidate_cap")
    parser.add_argument("--per-user", type=int, default=None, help="override similarity_candidates_per_user")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    layout = _prepare(args.ratings)
    print(f"data ready in {time.perf_counter() - t0:.0f} s", flush=True)

    overrides = {
        k: v
        for k, v in (("similarity_candidate_cap", args.cap), ("similarity_candidates_per_user", args.per_user))
        if v is not None
    }
    exact_path = WORK / "exact_top50.parquet"
    exact_m = measure(
        [
            sys.executable,
            str(BENCH / "competitors" / "exact_sparse_similarity.py"),
            str(layout.lake),
            str(exact_path),
            "--k",
            str(K),
        ],
        repeats=1,
    )
    print(f"(b) exact: {exact_m.median_seconds:.1f} s, {exact_m.peak_rss_mib:.0f} MiB", flush=True)

    engines = {}
    # sparse last, so the warehouse left behind (for the join-size figures) is complete.
    for engine, limit in (("self_join", args.self_join_limit), ("sparse", None)):
        engines[engine] = _run_engine(layout, engine, overrides, limit, exact_path)
        print(f"(a) dbt {engine}: {engines[engine]['summary']}", flush=True)
    sql_m = engines["sparse"]["measurement"]
    recall = engines["sparse"]["recall"]

    naive = _naive(layout, args.naive_limit)
    print(f"(c) naive: projected {naive['projected_seconds']:.0f} s", flush=True)

    con = duckdb.connect(str(WORK / "warehouse.duckdb"), read_only=True)
    project_vars = _project_vars()
    cap = overrides.get("similarity_candidate_cap", project_vars["similarity_candidate_cap"])
    per_user = overrides.get("similarity_candidates_per_user", project_vars["similarity_candidates_per_user"])
    sizes = _join_sizes(con, cap)
    pairs = _candidate_pairs(con, cap, per_user)
    con.close()

    ratio = sql_m.median_seconds / exact_m.median_seconds
    naive_full = naive["full"]
    naive_row = {
        "competitor": "(c) naive self-join (source document)",
        "wall_s": (
            round(naive_full["median_seconds"], 1)
            if naive_full["finished"]
            else f"stopped at {args.naive_limit:.0f}; projected {naive['projected_seconds']:.0f}"
        ),
        "peak_rss_mib": round(naive_full["peak_rss_mib"]) if naive_full["finished"] else "n/a",
        "candidate_pairs": f"all co-rating pairs ({naive['naive_join_rows_incl_self']:,} join rows)",
        "recall_at_50": "1 (exact) if it finished",
    }
    self_join = engines["self_join"]
    rows = [
        {
            "competitor": "(a) dbt models, default engine sparse (exact blocked sparse product, Python model)",
            "wall_s": round(sql_m.median_seconds, 1),
            "peak_rss_mib": round(sql_m.peak_rss_mib),
            "candidate_pairs": f"all ({sizes['naive_join_rows']:,} co-rating products)",
            "recall_at_50": round(recall["recall_at_50_mean_over_users"], 4),
        },
        {
            "competitor": "(a') dbt models, engine self_join (SQL: capped candidates + exact re-scoring)",
            "wall_s": (
                round(self_join["measurement"].median_seconds, 1)
                if self_join["finished"]
                else f"stopped at {args.self_join_limit:.0f}"
            ),
            "peak_rss_mib": round(self_join["measurement"].peak_rss_mib) if self_join["finished"] else "n/a",
            "candidate_pairs": f"~{pairs['candidate_pairs_rescored_est']:,} re-scored "
            f"(~{pairs['candidate_pairs_proposed_est']:,} proposed)",
            "recall_at_50": (
                round(self_join["recall"]["recall_at_50_mean_over_users"], 4) if self_join["finished"] else "n/a"
            ),
        },
        {
            "competitor": "(b) exact scipy sparse X·Xᵀ, top-50 per row",
            "wall_s": round(exact_m.median_seconds, 1),
            "peak_rss_mib": round(exact_m.peak_rss_mib),
            "candidate_pairs": "all (dense block rows)",
            "recall_at_50": 1.0,
        },
        naive_row,
    ]
    gib = 2**30
    write_result(
        BENCH / "results",
        "recommendations",
        {
            "title": "User-user similarity at 2M ratings (Zipf 1.0)",
            "command": "flock /tmp/shop_bench.lock python bench/bench_recommendations.py"
            + (f" --ratings {args.ratings}" if args.ratings != 2_000_000 else "")
            + f" --naive-limit {args.naive_limit:g} --self-join-limit {args.self_join_limit:g}"
            + (f" --cap {args.cap}" if args.cap else "")
            + (f" --per-user {args.per_user}" if args.per_user else ""),
            "inputs": {
                "users": 50_000,
                "items": 20_000,
                "ratings_generated": args.ratings,
                "zipf_exponent": 1.0,
                "seed": 11,
                "duckdb_memory_limit": MEMORY_LIMIT,
                "duckdb_threads": 2,
                "k": K,
                "similarity_candidate_cap": cap,
                "similarity_candidates_per_user": per_user,
                **sizes,
                **pairs,
            },
            "rows": rows,
            "ratios": {
                "dbt_wall_over_exact": round(ratio, 2),
                "naive_projected_over_dbt": round(naive["projected_seconds"] / sql_m.median_seconds, 1),
            },
            "targets": [
                {
                    "target": "neighbour recall@50 of (a) vs (b) >= 0.95",
                    "measured": round(recall["recall_at_50_mean_over_users"], 4),
                    "met": recall["recall_at_50_mean_over_users"] >= 0.95,
                },
                {"target": "wall time of (a) <= 2x (b)", "measured": round(ratio, 2), "met": ratio <= 2.0},
                {
                    "target": "peak RSS of (a) <= 1.5 GiB (memory_limit 1GB)",
                    "measured": f"{sql_m.peak_rss_bytes / gib:.2f} GiB",
                    "met": sql_m.peak_rss_bytes <= 1.5 * gib,
                },
            ],
            "notes": (
                "Recall is averaged over users that have exact neighbours (pooled: "
                f"{recall['recall_at_50_pooled']:.4f}). The dbt time covers dbt start-up, staging views, current "
                "ratings, user stats, centring and the similarity build; (b) is a standalone script. The sparse "
                "engine multiplies blocks on 2 threads (DuckDB's thread count); (b) runs on 1 thread and picks "
                "each row's top-50 in a Python loop. Naive projection: a run on a 1/"
                f"{NAIVE_SAMPLE_MODULUS} hash sample of items took {naive['sample']['median_seconds']:.1f} s for "
                f"{naive['sample_join_rows']:,} join rows, scaled to {naive['naive_join_rows_incl_self']:,}."
            ),
            "measurements": {
                "dbt": measurement_dict(sql_m),
                "exact": measurement_dict(exact_m),
                "naive": naive,
                "recall": recall,
                "dbt_self_join": (
                    {"measurement": measurement_dict(self_join["measurement"]), "recall": self_join["recall"]}
                    if self_join["finished"]
                    else {"stopped_after_s": args.self_join_limit}
                ),
            },
        },
    )


if __name__ == "__main__":
    main()
