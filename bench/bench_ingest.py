"""Ingest (raw contract v2 gate) vs plain DuckDB COPY of the same landing files into the same lake layout.

Usage: flock /tmp/shop_bench.lock python bench/bench_ingest.py [--scale 100] [--memory-limit 2GB] [--keep-data]

Both competitors start from one generated landing folder (`shop-analytics generate --scale S`, reused
when its manifest matches) and write the lake layout dbt reads: facts partitioned by event_date
(`<source>/event_date=YYYY-MM-DD/batch_<id>_<n>.parquet`), dimensions as `<source>/batch_<id>.parquet`,
with the same column names and types. Each runs in a fresh process, measured by bench/harness.py (wall
time, peak RSS of the process tree), with the same DuckDB settings (2 threads, the same memory_limit,
default 2GB as `shop-analytics ingest`, a spill folder):
  ingest  `shop-analytics ingest` (without GX Data Docs): batch discovery, schema contract, exact
          conversions (epoch CSV, string keys), every gate rule and GX suite, quarantine, Bloom + exact
          duplicate checks across batches, catalog and audit, files sorted by event time, atomic lake files;
  copy    one DuckDB `COPY (SELECT * REPLACE (<conversions>), <event date> FROM <batch files>) TO ...
          (PARTITION_BY event_date)` per complete batch (`_SUCCESS`): reading without the landing folder's
          hive column, the conversions the layout needs (epoch to TIMESTAMP in UTC, CSV text to the
          contract's types with TRY_CAST) and writing; no validation, no sort. Its row count is what COPY
          reports: no second scan in the timed process.
After both runs (untimed) every source is accounted for: landing rows (manifest) = rows ingest read =
admitted + quarantined (audit) = rows in its lake + quarantine files (Parquet footers), and landing rows =
rows COPY wrote = rows in its lake; the script exits 1 if any of these differ.
The ratio ingest/copy is the price of the gate. Writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness import Measurement, measure, measurement_dict, write_result

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = Path(os.environ.get("SHOP_BENCH_INGEST_WORK", BENCH / "_work" / "ingest"))
MEMORY_LIMIT = "2GB"  # `shop-analytics ingest`'s own default
RSS_GOAL_MIB = 2 * 1024
RATIO_GOAL = 2.5

# The COPY competitor, run as its own process: every complete landing batch into the lake layout.
# It reads what ingest reads (batch folders with _SUCCESS, data files only, no hive columns from the
# landing path), applies only what the layout needs (epoch text to TIMESTAMP, CSV text to the
# contract's types, an event_date partition column) and names files as ingest does. Its row count
# is what COPY reports writing: no second scan inside the timed process.
COPY_SCRIPT = r"""
import json, sys
from pathlib import Path
import duckdb
import yaml
from shop_analytics.sql import quote_ident, quote_literal

landing, lake, temp, memory_limit = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
spec = json.loads(sys.argv[5])  # source -> {"event_time": column or null, "types": {column: contract type}}
con = duckdb.connect(config={"threads": 2, "memory_limit": memory_limit, "temp_directory": temp})
con.execute("SET TimeZone = 'UTC'")  # epoch -> TIMESTAMP in UTC, as the gate
PREFIX = "batch_date="
EPOCH = {"epoch_s": "to_timestamp(TRY_CAST({} AS DOUBLE))", "epoch_ms": "epoch_ms(TRY_CAST({} AS BIGINT))"}
rows = {}
for source, meta in spec.items():
    source_dir = landing / source
    if not source_dir.is_dir():
        continue
    rows[source] = 0
    batches = sorted(p for p in source_dir.iterdir() if p.name.startswith(PREFIX) and (p / "_SUCCESS").is_file())
    for batch in batches:
        batch_id = batch.name[len(PREFIX):]
        files = sorted(str(f) for f in batch.iterdir() if f.is_file() and f.suffix in (".parquet", ".csv"))
        if not files:
            continue
        settings = yaml.safe_load((batch / "_batch.yml").read_text()) if (batch / "_batch.yml").exists() else {}
        fmt = (settings or {}).get("timestamp_format", "iso8601")
        if (settings or {}).get("time_zone", "UTC") != "UTC":
            sys.exit(f"{batch}: the COPY competitor reads UTC timestamps only")
        column = meta["event_time"]
        if files[0].endswith(".csv"):
            reader = "read_csv($files, header = true, all_varchar = true, hive_partitioning = false)"
            names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}", {"files": files}).fetchall()]
            cast = {n: f"TRY_CAST({quote_ident(n)} AS {meta['types'][n]})" for n in names if n in meta["types"]}
        else:
            reader = "read_parquet($files, union_by_name = true, hive_partitioning = false)"
            cast = {}
        if column is not None and fmt in EPOCH:
            cast[column] = f"({EPOCH[fmt].format(quote_ident(column))})::TIMESTAMP"
        replace = ", ".join(f"{value} AS {quote_ident(name)}" for name, value in cast.items())
        select = f"SELECT * REPLACE ({replace}) FROM {reader}" if replace else f"SELECT * FROM {reader}"
        out = lake / source
        out.mkdir(parents=True, exist_ok=True)
        if column is None:
            target = quote_literal(str(out / f"batch_{batch_id}.parquet"))
            copied = con.execute(f"COPY ({select}) TO {target} (FORMAT parquet)", {"files": files}).fetchone()[0]
        else:
            col, pattern = quote_ident(column), quote_literal(f"batch_{batch_id}_{{i}}")
            copied = con.execute(
                f"COPY (SELECT *, CAST({col} AS DATE) AS event_date FROM ({select})) TO {quote_literal(str(out))} "
                f"(FORMAT parquet, PARTITION_BY (event_date), FILENAME_PATTERN {pattern}, OVERWRITE_OR_IGNORE true)",
                {"files": files},
            ).fetchone()[0]
        rows[source] += int(copied)
Path(sys.argv[6]).write_text(json.dumps({"rows": rows}))
"""


def _landing(scale: float, seed: int) -> Path:
    """Generate (or reuse) the landing folder both competitors read."""
    out = WORK / f"landing_s{scale:g}_seed{seed}"
    manifest = out / "_manifest.json"
    if manifest.exists():
        config = json.loads(manifest.read_text()).get("config", {})
        if config.get("scale") == scale and config.get("seed") == seed:
            return out
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "shop_analytics.cli", "generate", "--scale", str(scale), "--seed", str(seed)]
    subprocess.run([*command, "--out", str(out), "--workers", "2", "--overwrite"], check=True)
    return out


def _fresh_data_dir(landing: Path, name: str) -> Path:
    """A data dir whose landing/ is a hard-linked copy of `landing` (ingest refuses symlinks)."""
    root = WORK / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(landing), str(root / "landing")], check=True)
    return root


def _copy_spec(sources: tuple) -> dict[str, dict]:
    """Per source: its event-time column (None for a dimension) and the contract's column types for CSV text."""
    from shop_analytics.quality.contracts import baseline_contract

    spec = {}
    for source in sources:
        contract = baseline_contract(source, ROOT / "contracts")
        types = {c.name: c.type.strip().upper() for v in contract.versions for c in v.columns}  # latest wins
        types |= dict.fromkeys(contract.string_keys, "VARCHAR")  # keys stay text, as the gate keeps them
        spec[source.name] = {"event_time": source.event_time, "types": types}
    return spec


def _parquet_rows(files: list[Path]) -> int:
    """Rows in these Parquet files, from their footers (untimed, after both runs)."""
    import duckdb

    if not files:
        return 0
    con = duckdb.connect()
    try:
        found = con.execute("SELECT sum(num_rows) FROM parquet_file_metadata(?)", [[str(f) for f in files]])
        return int(found.fetchone()[0] or 0)
    finally:
        con.close()


def _accounting(landing: Path, ingest_root: Path, copy_root: Path, copy_rows: dict[str, int]) -> dict[str, dict]:
    """Per source: landing rows (manifest) vs what each competitor read and wrote, counted on disk."""
    from shop_analytics.ingest.catalog import audit_rows

    manifest = json.loads((landing / "_manifest.json").read_text())["sources"]
    audit = audit_rows(ingest_root / "ingest_catalog.duckdb")
    table = {}
    for source, meta in manifest.items():
        batches = [a for a in audit if a["source"] == source]
        ingest_lake = sorted((ingest_root / "lake" / source).rglob("*.parquet"))
        quarantine = sorted((ingest_root / "quarantine" / source).glob("*/rejected.parquet"))
        whole = sum(int(a["rows_quarantined"]) for a in batches if a["status"] != "ingested")
        table[source] = {
            "landing_rows": int(meta["rows"]),
            "ingest_rows_in": sum(int(a["rows_in"]) for a in batches),
            "ingest_admitted": sum(int(a["rows_admitted"]) for a in batches),
            "ingest_quarantined": sum(int(a["rows_quarantined"]) for a in batches),
            "ingest_lake_rows": _parquet_rows(ingest_lake),
            # Row-level rejections are in rejected.parquet; a batch rejected whole keeps its files as delivered.
            "ingest_quarantine_rows": _parquet_rows(quarantine) + whole,
            "ingest_batches_rejected_whole": sum(a["status"] != "ingested" for a in batches),
            "copy_rows_written": int(copy_rows.get(source, 0)),
            "copy_lake_rows": _parquet_rows(sorted((copy_root / "lake" / source).rglob("*.parquet"))),
        }
    return table


def _figures(m: Measurement) -> dict:
    """A measurement's figures for the results table (its long command is recorded apart)."""
    return {k: v for k, v in measurement_dict(m).items() if k != "command"}


def _balanced(row: dict[str, int]) -> bool:
    """Every landing row read by both, and accounted for in the lake (and, for ingest, quarantine)."""
    return (
        row["landing_rows"] == row["ingest_rows_in"] == row["ingest_admitted"] + row["ingest_quarantined"]
        and row["ingest_lake_rows"] == row["ingest_admitted"]
        and row["ingest_quarantine_rows"] == row["ingest_quarantined"]
        and row["landing_rows"] == row["copy_rows_written"] == row["copy_lake_rows"]
    )


def main() -> int:
    """Run both competitors once on the same landing folder, check the row accounting, record the ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-data", action="store_true", help="keep the landing folder and both lakes")
    parser.add_argument(
        "--memory-limit",
        default=MEMORY_LIMIT,
        help="memory budget: ingest's --memory-limit (its whole process) and COPY's DuckDB memory_limit",
    )
    parser.add_argument("--notes", default="", help="context recorded with the result (e.g. why this scale)")
    args = parser.parse_args()

    from shop_analytics.quality.raw_contract import ALL_SOURCES

    landing = _landing(args.scale, args.seed)
    temp = WORK / "tmp"
    temp.mkdir(parents=True, exist_ok=True)
    env = {
        "SHOP_ANALYTICS_MEMORY_LIMIT": args.memory_limit,
        "SHOP_ANALYTICS_DUCKDB_THREADS": "2",
        "SHOP_ANALYTICS_TEMP_DIR": str(temp),
        "GX_ANALYTICS_ENABLED": "false",
    }

    ingest_root = _fresh_data_dir(landing, "ingest_data")
    ingest_command = [sys.executable, "-m", "shop_analytics.cli", "--data-dir", str(ingest_root), "ingest"]
    ingest_command += ["--memory-limit", args.memory_limit, "--no-progress", "--no-data-docs"]
    ingest_command += ["--max-quarantine-share", "1"]
    # Exit 1 (a batch rejected whole) is a finished run: measured, and its batches accounted for below.
    ingest = measure(ingest_command, repeats=1, env=env, cwd=ROOT, timeout=6 * 3600, ok_returncodes=(0, 1))

    copy_root = WORK / "copy_data"
    shutil.rmtree(copy_root, ignore_errors=True)
    copy_out = WORK / "copy_rows.json"
    copy_command = [sys.executable, "-c", COPY_SCRIPT, str(landing), str(copy_root / "lake"), str(temp)]
    copy_out.unlink(missing_ok=True)
    copy_command += [args.memory_limit, json.dumps(_copy_spec(ALL_SOURCES)), str(copy_out)]
    copy = measure(copy_command, repeats=1, env=env, cwd=ROOT, timeout=6 * 3600)
    copy_rows = json.loads(copy_out.read_text())["rows"]

    accounting = _accounting(landing, ingest_root, copy_root, copy_rows)
    balanced = all(_balanced(row) for row in accounting.values())
    landing_rows = sum(row["landing_rows"] for row in accounting.values())

    def lake_bytes(root: Path) -> int:
        return sum(p.stat().st_size for p in (root / "lake").rglob("*.parquet"))

    def total(key: str) -> int:
        return sum(row[key] for row in accounting.values())

    ratio = ingest.median_seconds / copy.median_seconds
    payload = {
        "title": "Ingest (contract v2 gate) vs plain DuckDB COPY into the same lake layout",
        "command": f"flock /tmp/shop_bench.lock nice -n 5 python bench/bench_ingest.py --scale {args.scale:g} "
        f"--memory-limit {args.memory_limit}",
        "inputs": {
            "scale": args.scale,
            "seed": args.seed,
            "landing_rows": landing_rows,
            "memory_limit": args.memory_limit,
            "threads": 2,
        },
        "rows": [
            {
                "competitor": "ingest",
                "rows_read": total("ingest_rows_in"),
                "rows_to_lake": total("ingest_lake_rows"),
                "rows_to_quarantine": total("ingest_quarantine_rows"),
                "batches_rejected_whole": total("ingest_batches_rejected_whole"),
                **_figures(ingest),
                "lake_bytes": lake_bytes(ingest_root),
            },
            {
                "competitor": "copy",
                "rows_read": total("copy_rows_written"),
                "rows_to_lake": total("copy_lake_rows"),
                "rows_to_quarantine": 0,
                "batches_rejected_whole": 0,
                **_figures(copy),
                "lake_bytes": lake_bytes(copy_root),
            },
        ],
        "commands": {"ingest": ingest_command, "copy": [*copy_command[:2], "<COPY_SCRIPT>", *copy_command[3:6]]},
        "accounting": accounting,
        "rows_balanced": balanced,
        "ratios": {"ingest / copy (wall)": round(ratio, 2)},
        "targets": [
            {
                "target": "every landing row accounted for by both (landing = read = lake (+ quarantine), per source)",
                "measured": "balanced" if balanced else "MISMATCH (see accounting)",
                "met": balanced,
            },
            {
                "target": f"ingest within {RATIO_GOAL}x COPY's wall time",
                "measured": round(ratio, 2),
                "met": ratio <= RATIO_GOAL,
            },
            {
                "target": f"ingest peak RSS under {RSS_GOAL_MIB} MiB",
                "measured": round(ingest.peak_rss_mib),
                "met": ingest.peak_rss_mib < RSS_GOAL_MIB,
            },
            {
                "target": f"COPY peak RSS under {RSS_GOAL_MIB} MiB (same budget, for reference)",
                "measured": round(copy.peak_rss_mib),
                "met": copy.peak_rss_mib < RSS_GOAL_MIB,
            },
        ],
    }
    if args.notes:
        payload["notes"] = args.notes
    path = write_result(BENCH / "results", "ingest", payload)
    print(
        f"wrote {path}: {landing_rows:,} landing rows, ingest {ingest.median_seconds:.1f} s "
        f"({ingest.peak_rss_mib:.0f} MiB), copy {copy.median_seconds:.1f} s ({copy.peak_rss_mib:.0f} MiB), "
        f"ratio {ratio:.2f}, rows balanced: {balanced}"
    )
    if not balanced:
        print(json.dumps(accounting, indent=1), file=sys.stderr)
    if not args.keep_data:
        for name in ("ingest_data", "copy_data"):
            shutil.rmtree(WORK / name, ignore_errors=True)
    return 0 if balanced else 1


if __name__ == "__main__":
    sys.exit(main())
