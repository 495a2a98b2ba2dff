"""The per-cursor UDF check of the dbt plugin: listing duckdb_functions() vs binding the UDFs.

Usage: python bench/bench_udf_check.py [--cursors 300] [--repeats 5]

dbt-duckdb opens a cursor for every node it runs (a model, a data test). The project's plugin used to
check on each cursor that it saw the sketch UDFs (python/shop_analytics/dbt/udfs.py, register_udfs);
it now registers them once on the parent connection, whose cursors share them, and checks no cursor
(bench_dbt_node_overhead.py measures that in dbt). Both ways of checking run here side by side on the
same connection, interleaved per repeat:
- `listing`: `SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_name IN (...)`,
  what the plugin ran on every cursor first;
- `binding`: one `SELECT udf(NULL::type), ... LIMIT 0` (udfs.all_udfs_bound), which binds every UDF and
  calls none, what it ran next (listing only when a UDF was missing); register_udfs still uses it.
Reports the median milliseconds per cursor of each and their ratio; writes bench/results/udf_check.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from harness import write_result
from shop_analytics.dbt import udfs

BENCH = Path(__file__).resolve().parent


def _listing(cursor: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    marks = ", ".join("?" for _ in names)
    query = f"SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_name IN ({marks})"
    if len(cursor.execute(query, names).fetchall()) != len(names):
        raise RuntimeError("listing: a UDF is missing")


def _binding(cursor: duckdb.DuckDBPyConnection, specs: list[udfs.UdfSpec]) -> None:
    if not udfs.all_udfs_bound(cursor, specs):
        raise RuntimeError("binding: a UDF is missing")


def _per_cursor_ms(con: duckdb.DuckDBPyConnection, check: Callable[[duckdb.DuckDBPyConnection], None], n: int) -> float:
    """Milliseconds per fresh cursor for `check`, over `n` cursors (cursor creation included)."""
    start = time.perf_counter()
    for _ in range(n):
        cursor = con.cursor()
        check(cursor)
        cursor.close()
    return (time.perf_counter() - start) * 1000 / n


def main(argv: list[str] | None = None) -> int:
    """Time both checks and write the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cursors", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    specs = udfs.udf_specs(udfs.FilterCache(8))
    names = [name for name, *_ in specs]
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "bench.duckdb"))
        udfs.register_udfs(con)
        timings: dict[str, list[float]] = {"listing": [], "binding": []}
        for _ in range(args.repeats):
            timings["listing"].append(_per_cursor_ms(con, lambda c: _listing(c, names), args.cursors))
            timings["binding"].append(_per_cursor_ms(con, lambda c: _binding(c, specs), args.cursors))
        con.close()
    medians = {name: statistics.median(values) for name, values in timings.items()}
    ratio = medians["listing"] / medians["binding"]
    rows = [
        {"check": name, "ms per cursor (median)": round(medians[name], 3), "repeats (ms)": [round(v, 3) for v in runs]}
        for name, runs in timings.items()
    ]
    path = write_result(
        BENCH / "results",
        "udf_check",
        {
            "title": "The dbt plugin's per-cursor UDF check: listing duckdb_functions() vs binding the UDFs",
            "command": f"python bench/bench_udf_check.py --cursors {args.cursors} --repeats {args.repeats}",
            "inputs": {"cursors": args.cursors, "repeats": args.repeats, "udfs": len(specs)},
            "rows": rows,
            "ratios": {"listing / binding": round(ratio, 1)},
            "software": {"duckdb": duckdb.__version__, "python": sys.version.split()[0]},
        },
    )
    for row in rows:
        print(f"{row['check']:8} {row['ms per cursor (median)']:8.3f} ms per cursor")
    print(f"listing / binding: {ratio:.1f}x -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
