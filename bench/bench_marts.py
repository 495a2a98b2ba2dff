"""Purchase and engagement marts at scale: dbt + DuckDB vs chunked pandas vs PySpark local[*].

Usage: flock /tmp/shop_bench.lock python bench/bench_marts.py [--scale 100] [--keep-data]
       [--pandas-limit 1200] [--spark-limit 1500] [--prepare-only]

Stages (each competitor in a fresh process, measured by bench/harness.py):
1. prepare: `shop-analytics generate --scale S --dirty-rate 0` and a DuckDB COPY of each landing batch
   into the lake layout, under bench/_work/marts (both timed; reused when already prepared);
2. dbt build of the five marts and their intermediate models, with all their dbt tests, memory_limit 2GB
   (seeds and the staging views are created first, untimed: they are views, nothing is computed);
3. the DuckDB time of the tables pandas also computes, from that build's run_results.json;
4. pandas: the source document's approach, chunked over Parquet with a cross-chunk merge, for the
   customer purchase summary and the item popularity count;
5. spark: PySpark local[*] running the marts' SQL on the same Parquet files.
A competitor that reaches its time limit stops itself; its time is then extrapolated from the share
of input it processed (pandas) or reported as a lower bound (Spark), and labelled so.
Writes bench/results/marts.json; the data root is deleted afterwards unless --keep-data.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness import measure, measurement_dict, write_result
from shop_analytics.quality.raw_contract import Source

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# Overridable so that a small trial run can go beside a queued full run.
WORK = Path(os.environ.get("SHOP_BENCH_MARTS_WORK", BENCH / "_work" / "marts"))
BIN = Path(sys.executable).parent
MEMORY_LIMIT_GB = 2
MEMORY_LIMIT = f"{MEMORY_LIMIT_GB}GB"  # DuckDB reads GB as 10**9 bytes (it shows 2GB as 1.8 GiB)
# The cap: memory_limit + 500 MB, in bytes as DuckDB and the issue count them.
RSS_CAP_BYTES = MEMORY_LIMIT_GB * 10**9 + 500 * 10**6
RSS_CAP_MIB = RSS_CAP_BYTES / 2**20


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "shop_analytics.cli", "--data-dir", str(WORK / "data"), *args]


def _admissible(source: Source) -> str:
    """The ingest's null-key rule as a predicate (the generator plants a few null keys even at dirty rate 0)."""
    columns = [source.key, source.item_ref, source.event_time]
    if source.user_ref and not source.user_ref_nullable:
        columns.append(source.user_ref)
    return " AND ".join(f"{c} IS NOT NULL" for c in columns if c)


def drop_null_key_rows(lake: Path) -> None:
    """Rewrite, in place, the fact files of `lake` that hold rows the ingest would quarantine as null_key."""
    import duckdb

    from shop_analytics.quality.raw_contract import PAGE_VIEWS, PURCHASES

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    for source in (PAGE_VIEWS, PURCHASES):
        keep = _admissible(source)
        files = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT filename FROM read_parquet('{lake / source.name}/*/*.parquet', filename = true, "
                f"hive_partitioning = false) WHERE NOT ({keep})"
            ).fetchall()
        ]
        for name in files:
            scratch = f"{name}.tmp"
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{name}', hive_partitioning = false) WHERE {keep}) "
                f"TO '{scratch}' (FORMAT parquet)"
            )
            os.replace(scratch, name)


def write_lake(landing: Path, lake: Path) -> None:
    """Write every landing batch the marts read into the lake's layout with one DuckDB COPY per batch."""
    import duckdb

    from shop_analytics.ingest.batches import discover
    from shop_analytics.quality.raw_contract import ITEMS, PAGE_VIEWS, PURCHASES, RATINGS, USERS

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = false")
    for source in (USERS, ITEMS, PAGE_VIEWS, PURCHASES, RATINGS):
        columns = ", ".join(f.name for f in source.schema)
        for batch in discover(landing, source):
            files = ", ".join(f"'{path}'" for path in batch.files)
            scan = f"read_parquet([{files}])"
            if source.is_fact:
                con.execute(
                    f"COPY (SELECT {columns}, CAST({source.event_time} AS DATE) AS event_date "
                    f"FROM {scan} WHERE {_admissible(source)}) "
                    f"TO '{lake / source.name}' (FORMAT parquet, "
                    f"PARTITION_BY (event_date), FILENAME_PATTERN 'batch_{batch.batch_id}_{{i}}', "
                    f"OVERWRITE_OR_IGNORE true)"
                )
            else:
                (lake / source.name).mkdir(parents=True, exist_ok=True)
                con.execute(
                    f"COPY (SELECT {columns} FROM {scan}) "
                    f"TO '{lake / source.name / f'batch_{batch.batch_id}.parquet'}' (FORMAT parquet)"
                )


def prepare(scale: float) -> dict:
    """Generate clean data and write the lake once; return the timings (reused when already prepared).

    `shop-analytics ingest` is not used here (an earlier version's per-batch cost grew with the keys
    already in the lake); the lake is written from clean generated batches (--dirty-rate 0, late rows
    kept) with plain DuckDB COPY into the same layout.
    """
    stamp = WORK / "prepared.json"
    if stamp.exists():
        doc = json.loads(stamp.read_text())
        if doc["scale"] == scale:
            return doc
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    gen = measure(
        _cli(
            "generate",
            "--scale",
            str(scale),
            "--seed",
            "7",
            "--workers",
            "2",
            "--dirty-rate",
            "0",
            "--ratings",
            "1000",
            "--no-progress",
        ),
        repeats=1,
        cwd=ROOT,
    )
    landing = WORK / "data" / "landing"
    manifest = json.loads((landing / "_manifest.json").read_text())
    lake = measure([sys.executable, __file__, "--write-lake"], repeats=1, cwd=ROOT)
    shutil.rmtree(landing)  # disk is shared; the lake is all the marts read
    doc = {
        "scale": scale,
        "rows": {k: v["rows"] for k, v in manifest["sources"].items() if k != "ratings"},
        "generate": measurement_dict(gen),
        "write_lake": measurement_dict(lake),
    }
    stamp.write_text(json.dumps(doc, indent=2))
    return doc


MARTS = [
    "fct_same_day_repeat_purchases",
    "dim_customer_purchase_summary",
    "fct_user_item_views",
    "rpt_item_popularity",
    "rpt_item_trends",
]
INTERMEDIATE = [
    "int_purchases__aggregated_to_customer_days",
    "int_page_views__filtered_to_audience",
    "int_page_views__aggregated_to_user_items",
    "int_page_views__counted_by_item_day",
]
# The tables that hold what pandas computes, with the upstream work they need: the customer-day table
# (purchases read from the lake), the purchase summary, the (user, item) table, whose query reads and
# filters the page views (the audience step is a view computed inside it), and the popularity table.
PANDAS_SUBSET = [
    "int_purchases__aggregated_to_customer_days",
    "dim_customer_purchase_summary",
    "int_page_views__aggregated_to_user_items",
    "rpt_item_popularity",
]


def _bench_profiles_dir() -> Path:
    """The project's profiles.yml without `temp_directory` (DuckDB then spills to <warehouse>.tmp).

    Once DuckDB has spilled, it refuses any later `SET temp_directory` in the same process, even to
    the same path, and dbt-duckdb applies the profile settings to every new thread's connection, so
    a build that spills fails on its next model (dbt-duckdb issue #600).
    """
    lines = (ROOT / "profiles.yml").read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.strip().startswith("temp_directory:")]
    if len(kept) != len(lines) - 1:
        raise RuntimeError("expected exactly one temp_directory setting in profiles.yml")
    folder = WORK / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text("".join(kept))
    return folder


def _dbt_env() -> dict[str, str]:
    return {
        "SHOP_ANALYTICS_LAKE_DIR": str(WORK / "data" / "lake"),
        "SHOP_ANALYTICS_WAREHOUSE": str(WORK / "warehouse.duckdb"),
        "SHOP_ANALYTICS_TEMP_DIR": str(WORK / "duckdb_tmp"),
        "SHOP_ANALYTICS_MEMORY_LIMIT": MEMORY_LIMIT,
        "SHOP_ANALYTICS_TARGET": "dev",
        # One model at a time: two big models side by side split the 2GB and ran out of memory.
        "SHOP_ANALYTICS_DBT_THREADS": "1",
        "DBT_PROFILES_DIR": str(_bench_profiles_dir()),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _dbt(*args: str) -> list[str]:
    return [str(BIN / "dbt"), *args, "--target-path", str(WORK / "target"), "--log-path", str(WORK / "logs")]


def _row(name: str, m, note: str = "") -> dict:
    return {
        "competitor": name,
        "wall_s": round(m.median_seconds, 1),
        "peak_rss_mib": round(m.peak_rss_mib),
        "note": note,
    }


def _model_seconds(models: list[str]) -> float:
    """Sum of the execution times of `models` in the last dbt invocation's run_results.json."""
    results = json.loads((WORK / "target" / "run_results.json").read_text())["results"]
    times = {
        r["unique_id"].rsplit(".", 1)[-1]: r["execution_time"] for r in results if r["unique_id"].startswith("model.")
    }
    return sum(times[m] for m in models)


def run_pandas(limit: float) -> tuple[dict, dict, float]:
    """The chunked pandas competitor; returns its row, raw measurement and (projected) seconds."""
    out, progress = WORK / "pandas_out", WORK / "pandas_progress.txt"
    shutil.rmtree(out, ignore_errors=True)
    progress.unlink(missing_ok=True)
    m = measure(
        [
            sys.executable,
            str(BENCH / "competitors" / "pandas_chunked_marts.py"),
            str(WORK / "data" / "lake"),
            str(out),
            "--progress-file",
            str(progress),
            "--time-limit",
            str(limit),
        ],
        repeats=1,
    )
    done, total = (int(x) for x in progress.read_text().split())
    finished = (out / "rpt_item_popularity.parquet").exists()
    seconds = m.median_seconds if finished else m.median_seconds * total / max(done, 1)
    note = (
        "complete"
        if finished
        else (
            f"stopped at the {limit:.0f} s limit after {done / total:.1%} of the input "
            f"rows; wall_s is the time until the stop, projected_s linear "
            f"extrapolation (a lower bound: the cross-chunk merge grows)"
        )
    )
    row = {
        **_row("pandas, chunked + cross-chunk merge (purchase summary + popularity)", m, note),
        "projected_s": round(seconds, 1),
    }
    return row, measurement_dict(m), seconds


def run_spark(limit: float) -> tuple[dict, dict, float, bool]:
    """The PySpark local[*] competitor; returns its row, raw measurement, seconds and whether it finished."""
    out = WORK / "spark_out"
    shutil.rmtree(out, ignore_errors=True)
    m = measure(
        [
            sys.executable,
            str(BENCH / "competitors" / "spark_marts.py"),
            str(WORK / "data" / "lake"),
            str(out),
            "--driver-memory",
            "2g",
            "--time-limit",
            str(limit),
        ],
        repeats=1,
    )
    finished = not (out / "_stopped").exists()
    note = "complete" if finished else f"stopped at the {limit:.0f} s limit: its time is a lower bound"
    return _row("PySpark local[*], same SQL (5 marts)", m, note), measurement_dict(m), m.median_seconds, finished


def check_agreement() -> dict:
    """Compare the competitors' outputs with the DuckDB marts (row counts and sums)."""
    import duckdb

    con = duckdb.connect(str(WORK / "warehouse.duckdb"), read_only=True)
    checks = {}
    # Sums of key x value catch a value moved to another key, which plain sums do not.
    summary_sql = (
        "SELECT count(*), sum(purchase_count), sum(repeat_purchase_days), sum({cents}), "
        "sum(customer_id * purchase_days), sum(customer_id * purchase_count) FROM {table}"
    )
    popularity_sql = "SELECT count(*), sum(viewer_count), sum(item_id * viewer_count) FROM {table}"
    duck = {
        "summary": con.execute(
            summary_sql.format(cents="(total_amount * 100)::BIGINT", table="marts.dim_customer_purchase_summary")
        ).fetchone(),
        "popularity": con.execute(popularity_sql.format(table="marts.rpt_item_popularity")).fetchone(),
        "trends": con.execute(
            "SELECT count(*), sum(window_view_count), sum(window_rank) FROM marts.rpt_item_trends"
        ).fetchone(),
    }
    pandas_out, spark_out = WORK / "pandas_out", WORK / "spark_out"
    if (pandas_out / "rpt_item_popularity.parquet").exists():
        summary = con.execute(
            summary_sql.format(
                cents="total_cents",
                table=f"(SELECT *, user_id AS customer_id FROM '{pandas_out}/dim_customer_purchase_summary.parquet')",
            )
        ).fetchone()
        popularity = con.execute(popularity_sql.format(table=f"'{pandas_out}/rpt_item_popularity.parquet'")).fetchone()
        checks["pandas"] = summary == duck["summary"] and popularity == duck["popularity"]
    if (spark_out / "rpt_item_trends").exists() and not (spark_out / "_stopped").exists():
        summary = con.execute(
            summary_sql.format(
                cents="(total_amount * 100)::BIGINT", table=f"'{spark_out}/dim_customer_purchase_summary/*.parquet'"
            )
        ).fetchone()
        popularity = con.execute(popularity_sql.format(table=f"'{spark_out}/rpt_item_popularity/*.parquet'")).fetchone()
        trends = con.execute(
            f"SELECT count(*), sum(window_view_count), sum(window_rank) FROM '{spark_out}/rpt_item_trends/*.parquet'"
        ).fetchone()
        checks["spark"] = (summary, popularity, trends) == (duck["summary"], duck["popularity"], duck["trends"])
    return {"duckdb": {k: [str(x) for x in v] for k, v in duck.items()}, "agree": checks}


def main() -> None:
    """Run every stage and write the results file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=100.0)
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--keep-data", action="store_true")
    parser.add_argument("--write-lake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--drop-null-keys",
        action="store_true",
        help="maintenance: remove null-key rows from a lake written before write_lake dropped them",
    )
    parser.add_argument("--pandas-limit", type=float, default=1200.0)
    parser.add_argument("--spark-limit", type=float, default=1500.0)
    args = parser.parse_args()
    if args.write_lake:
        write_lake(WORK / "data" / "landing", WORK / "data" / "lake")
        return
    if args.drop_null_keys:
        drop_null_key_rows(WORK / "data" / "lake")
        return
    prepared = prepare(args.scale)
    print(json.dumps(prepared, indent=2), flush=True)
    if args.prepare_only:
        return
    env = _dbt_env()
    for stale in ("warehouse.duckdb", "warehouse.duckdb.wal"):
        (WORK / stale).unlink(missing_ok=True)
    for setup in (_dbt("seed"), _dbt("run", "--select", "path:models/staging")):
        subprocess.run(setup, check=True, env={**os.environ, **env}, cwd=ROOT)
    build = measure(_dbt("build", "--select", *INTERMEDIATE, *MARTS), repeats=1, env=env, cwd=ROOT)
    subset_seconds = _model_seconds(PANDAS_SUBSET)
    spark_row, spark_raw, spark_s, spark_done = run_spark(args.spark_limit)
    pandas_row, pandas_raw, pandas_s = run_pandas(args.pandas_limit)
    agreement = check_agreement()
    rows = [
        _row("DuckDB: dbt build of the 5 marts + intermediates, with their dbt tests", build),
        {
            "competitor": "DuckDB: the purchase summary + popularity tables within that build",
            "wall_s": round(subset_seconds, 1),
            "peak_rss_mib": "",
            "note": "sum of the execution times in dbt's run_results.json (one dbt thread, so one after another) "
            "of " + ", ".join(PANDAS_SUBSET) + ": reading the lake (purchases: all; page views: since "
            "2017), the customer-day and customer aggregates, the audience join to users, the per "
            "(item, user) aggregate and the per-item count; without dbt's start-up, view creation and "
            "the dbt tests. pandas reads the same Parquet files and computes the same two results. "
            "Neither deduplicates: ingest admits each event id once (the lake here is unique by "
            "construction), and staging deduplicates only with var deduplicate_lake_events",
        },
        spark_row,
        pandas_row,
    ]
    for position, (step, label) in enumerate(
        (("generate", "prepare: shop-analytics generate"), ("write_lake", "prepare: landing -> lake with DuckDB COPY"))
    ):
        figures = prepared[step]
        rss = figures.get("peak_rss_mib")
        rows.insert(
            position,
            {
                "competitor": label,
                "wall_s": figures["median_seconds"],
                "peak_rss_mib": "" if rss is None else round(rss),
                "note": "untimed in ratios" + (f"; {figures['note']}" if figures.get("note") else ""),
            },
        )
    spark_ratio = spark_s / build.median_seconds
    pandas_ratio = pandas_s / subset_seconds
    write_result(
        BENCH / "results",
        "marts",
        {
            "title": "Purchase and engagement marts: dbt + DuckDB vs PySpark local vs chunked pandas",
            "command": "flock /tmp/shop_bench.lock python bench/bench_marts.py"
            + (f" --scale {args.scale:g}" if args.scale != 100 else "")
            + f" --spark-limit {args.spark_limit:g} --pandas-limit {args.pandas_limit:g}",
            "inputs": {
                "scale": args.scale,
                **{f"{k}_rows": v for k, v in prepared["rows"].items()},
                "duckdb_memory_limit": MEMORY_LIMIT,
                "spark_driver_memory": "2g",
                "timezone": "UTC",
                "popularity": "US since 2017-01-01",
                "trends": "since 2018-01-01, 7-day window",
            },
            "rows": rows,
            "ratios": {
                "PySpark / DuckDB dbt build" + ("" if spark_done else " (lower bound)"): round(spark_ratio, 1),
                "chunked pandas / DuckDB same marts"
                + ("" if "complete" in pandas_row["note"] else " (projected)"): round(pandas_ratio, 1),
            },
            "targets": [
                {
                    "target": "DuckDB >= 5x faster than PySpark local[*]",
                    "measured": f"{spark_ratio:.1f}x",
                    "met": spark_ratio >= 5,
                },
                {
                    "target": "DuckDB >= 20x faster than chunked pandas",
                    "measured": f"{pandas_ratio:.1f}x",
                    "met": pandas_ratio >= 20,
                },
                {
                    "target": "dbt build peak RSS <= memory_limit + 500 MB "
                    f"({RSS_CAP_BYTES / 1e9:g}e9 bytes = {RSS_CAP_MIB:.0f} MiB)",
                    "measured": f"{build.peak_rss_mib:.0f} MiB",
                    "met": build.peak_rss_mib <= RSS_CAP_MIB,
                },
            ],
            "notes": (
                "DuckDB's dbt build also runs the marts' dbt tests and is still compared with Spark, which runs "
                "no tests. Results agree (counts and sums vs the DuckDB marts): "
                + json.dumps(agreement["agree"])
                + ". The machine is shared with other work, so absolute times "
                "vary; the competitors run back to back in the same run. The lake is written from clean "
                "generated batches with plain DuckDB COPY in the ingest's layout (hive partitions by event_date, "
                "one file per batch and day: ~2,500 files per fact table) instead of `shop-analytics ingest`, "
                "which was not timed at this scale in this run. "
                "dbt runs with the project's profile minus temp_directory (DuckDB spills to <warehouse>.tmp): "
                "with it, the first build failed as soon as DuckDB had spilled (dbt-duckdb issue #600). "
                "Ratings are generated with 1,000 rows only (the marts do not read them; staging needs the folder)."
            ),
            "details": {
                "prepare": prepared,
                "dbt_build": measurement_dict(build),
                "dbt_subset_seconds": subset_seconds,
                "spark": spark_raw,
                "pandas": pandas_raw,
                "agreement": agreement,
            },
        },
    )
    if not args.keep_data:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
