"""Ingest (raw contract v2 gate) vs plain DuckDB COPY of the same landing files into the same lake layout.

Usage: flock /tmp/shop_bench.lock python bench/bench_ingest.py [--scale 100] [--keep-data]

Both competitors start from one generated landing folder (`shop-analytics generate --scale S`, reused
when its manifest matches) and write the lake layout dbt reads: facts partitioned by event_date
(`<source>/event_date=YYYY-MM-DD/*.parquet`), dimensions as plain files. Each runs in a fresh process,
measured by bench/harness.py (wall time, peak RSS of the process tree), with the same DuckDB settings
(2 threads, memory_limit 1GB, a spill folder):
  ingest  `shop-analytics ingest`: batch discovery, schema contract, exact conversions (epoch CSV,
          string keys), every gate rule and GX suite, quarantine, Bloom + exact duplicate checks
          across batches, catalog and audit, atomic lake files;
  copy    one DuckDB `COPY (SELECT *, <event date> FROM <batch files>) TO ... (PARTITION_BY event_date)`
          per batch: reading, the timestamp conversion the layout needs, and writing; no validation.
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

from harness import measure, measurement_dict, write_result

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = Path(os.environ.get("SHOP_BENCH_INGEST_WORK", BENCH / "_work" / "ingest"))
MEMORY_LIMIT = "1GB"
RSS_GOAL_MIB = 2 * 1024
RATIO_GOAL = 2.5

# The COPY competitor, run as its own process: every landing batch into the lake layout.
COPY_SCRIPT = r"""
import json, sys
from pathlib import Path
import duckdb
import yaml
from shop_analytics.sql import quote_ident, quote_literal

landing, lake, temp, memory_limit = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
event_time = json.loads(sys.argv[5])
con = duckdb.connect(config={"threads": 2, "memory_limit": memory_limit, "temp_directory": temp})
rows = 0
for source_dir in sorted(p for p in landing.iterdir() if p.is_dir()):
    source = source_dir.name
    for batch in sorted(p for p in source_dir.iterdir() if (p / "_SUCCESS").exists()):
        files = sorted(str(f) for f in batch.iterdir() if f.suffix in (".parquet", ".csv"))
        if not files:
            continue
        settings = yaml.safe_load((batch / "_batch.yml").read_text()) if (batch / "_batch.yml").exists() else {}
        if files[0].endswith(".csv"):
            reader = "read_csv($files, header = true, union_by_name = true)"
        else:
            reader = "read_parquet($files, union_by_name = true)"
        column = event_time.get(source)
        out = lake / source
        out.mkdir(parents=True, exist_ok=True)
        if column is None:
            target = out / f"batch_{batch.name}.parquet"
            copy_to = f"COPY (SELECT * FROM {reader}) TO {quote_literal(str(target))} (FORMAT parquet)"
            con.execute(copy_to, {"files": files})
        else:
            fmt = settings.get("timestamp_format", "iso8601")
            col = quote_ident(column)
            ts = {"epoch_s": f"to_timestamp({col})", "epoch_ms": f"epoch_ms({col}::BIGINT)"}.get(fmt, col)
            query = f"SELECT * REPLACE (({ts})::TIMESTAMP AS {col}), ({ts})::DATE AS event_date FROM {reader}"
            pattern = quote_literal(f"batch_{batch.name}_{{uuid}}")
            con.execute(
                f"COPY ({query}) TO {quote_literal(str(out))} "
                f"(FORMAT parquet, PARTITION_BY (event_date), APPEND, FILENAME_PATTERN {pattern})",
                {"files": files},
            )
        rows += con.execute(f"SELECT count(*) FROM {reader}", {"files": files}).fetchone()[0]
print(json.dumps({"rows": rows}))
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


def main() -> int:
    """Run both competitors once on the same landing folder and record the ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-data", action="store_true", help="keep the landing folder and both lakes")
    args = parser.parse_args()

    from shop_analytics.quality.raw_contract import ALL_SOURCES

    landing = _landing(args.scale, args.seed)
    temp = WORK / "tmp"
    temp.mkdir(parents=True, exist_ok=True)
    env = {
        "SHOP_ANALYTICS_MEMORY_LIMIT": MEMORY_LIMIT,
        "SHOP_ANALYTICS_DUCKDB_THREADS": "2",
        "SHOP_ANALYTICS_TEMP_DIR": str(temp),
        "GX_ANALYTICS_ENABLED": "false",
    }

    ingest_root = _fresh_data_dir(landing, "ingest_data")
    ingest_command = [sys.executable, "-m", "shop_analytics.cli", "--data-dir", str(ingest_root), "ingest"]
    ingest_command += ["--memory-limit", MEMORY_LIMIT, "--no-progress", "--no-data-docs"]
    ingest_command += ["--max-quarantine-share", "1"]
    ingest = measure(ingest_command, repeats=1, env=env, cwd=ROOT, timeout=6 * 3600)

    copy_root = WORK / "copy_data"
    shutil.rmtree(copy_root, ignore_errors=True)
    event_time = {s.name: s.event_time for s in ALL_SOURCES if s.event_time}
    copy_command = [sys.executable, "-c", COPY_SCRIPT, str(landing), str(copy_root / "lake"), str(temp)]
    copy_command += [MEMORY_LIMIT, json.dumps(event_time)]
    copy = measure(copy_command, repeats=1, env=env, cwd=ROOT, timeout=6 * 3600)

    def lake_bytes(root: Path) -> int:
        return sum(p.stat().st_size for p in (root / "lake").rglob("*.parquet"))

    ratio = ingest.median_seconds / copy.median_seconds
    payload = {
        "title": "Ingest (contract v2 gate) vs plain DuckDB COPY into the same lake layout",
        "command": f"python bench/bench_ingest.py --scale {args.scale:g}",
        "inputs": {"scale": args.scale, "seed": args.seed, "memory_limit": MEMORY_LIMIT, "threads": 2},
        "rows": [
            {"competitor": "ingest", **measurement_dict(ingest), "lake_bytes": lake_bytes(ingest_root)},
            {"competitor": "copy", **measurement_dict(copy), "lake_bytes": lake_bytes(copy_root)},
        ],
        "ratios": {"ingest / copy (wall)": round(ratio, 2)},
        "targets": [
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
        ],
    }
    path = write_result(BENCH / "results", "ingest", payload)
    print(f"wrote {path}: ingest {ingest.median_seconds:.0f} s, copy {copy.median_seconds:.0f} s, ratio {ratio:.2f}")
    if not args.keep_data:
        for name in ("ingest_data", "copy_data"):
            shutil.rmtree(WORK / name, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
