"""`shop-analytics generate`: write synthetic landing batches and a manifest."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

from shop_analytics.datagen.config import ROWS_PER_SCALE
from shop_analytics.settings import DataLayout


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `generate` subcommand."""
    gen = subparsers.add_parser("generate", help="write synthetic landing batches and a manifest")
    gen.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M page views, 100k order lines (default 1)")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", help="landing folder (default: <data-dir>/landing)")
    gen.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    gen.add_argument("--dirty-rate", type=float, default=0.02, help="share of fact rows with one defect")
    gen.add_argument("--late-rate", type=float, default=0.01, help="share of fact rows delivered late")
    gen.add_argument("--chunk-rows", type=int, default=1_000_000, help="rows per file; bounds memory")
    gen.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    gen.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2016, 1, 1))
    gen.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2019, 1, 1), help="exclusive")
    gen.add_argument(
        "--history-start",
        type=dt.date.fromisoformat,
        help="also write thin order and rating history from this day on (e.g. 1996-01-01), before --start",
    )
    gen.add_argument("--reversal-share", type=float, default=0.06, help="share of order lines that reverse a sale")
    gen.add_argument(
        "--country-dirty-share",
        type=float,
        default=0.08,
        help="share of customers whose country is an alias, alpha-3 code, unknown value or missing",
    )
    gen.add_argument(
        "--epoch-csv-source",
        choices=("ratings", "page_views", "order_lines", "none"),
        default="ratings",
        help="the source written as CSV with epoch-second timestamps (default ratings; none: no such source)",
    )
    gen.add_argument(
        "--legacy-purchases",
        action="store_true",
        help="also write the deprecated v1 `purchases` source (integer keys, one row per purchase, USD)",
    )
    for source in ROWS_PER_SCALE:
        gen.add_argument(
            f"--{source.replace('_', '-')}",
            type=int,
            dest=f"rows_{source}",
            help=f"exact number of {source} rows (overrides --scale)",
        )
    gen.add_argument("--overwrite", action="store_true", help="replace an existing landing folder")
    gen.add_argument(
        "--next-day",
        action="store_true",
        help="append the next day to the landing folder generated before (page views, order lines, rates, "
        "and a batch cancelling an earlier order of the lake); the other options are ignored",
    )
    gen.add_argument("--no-progress", action="store_true")
    gen.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Generate the data set the arguments describe and print what was written."""
    from shop_analytics.datagen import GeneratorConfig, generate

    layout = DataLayout.from_env(args.data_dir)
    if args.next_day:
        return _next_day(Path(args.out) if args.out else layout.landing, layout.lake)
    overrides = tuple(
        (name, value)
        for name, value in ((k.removeprefix("rows_"), v) for k, v in vars(args).items() if k.startswith("rows_"))
        if value is not None
    )
    config = GeneratorConfig(
        scale=args.scale,
        seed=args.seed,
        start=args.start,
        end=args.end,
        file_format=args.format,
        chunk_rows=args.chunk_rows,
        dirty_rate=args.dirty_rate,
        late_rate=args.late_rate,
        reversal_share=args.reversal_share,
        country_dirty_share=args.country_dirty_share,
        history_start=args.history_start,
        epoch_csv_source=None if args.epoch_csv_source == "none" else args.epoch_csv_source,
        legacy_purchases=args.legacy_purchases,
        overrides=overrides,
    )
    out = Path(args.out) if args.out else layout.landing
    manifest = generate(
        config, out, workers=args.workers, overwrite=args.overwrite, progress=False if args.no_progress else None
    )
    print(f"wrote {out}")
    for name, entry in manifest["sources"].items():
        dirty = sum(entry["dirty"].values())
        print(
            f"  {name:<14} {entry['rows']:>12,} rows in {entry['files']:>4} files"
            + (f"; dirty: {dirty:,}" if entry["dirty"] else "")
        )
    return 0


def _next_day(landing: Path, lake: Path) -> int:
    """Append the next day to `landing` and print its batches."""
    from shop_analytics.datagen.next_day import next_day

    landed = next_day(landing, lake if lake.is_dir() else None)
    print(f"landed {landed.day} in {landing}")
    for batch in landed.batches:
        late = f"; late: {batch.late_rows:,}" if batch.late_rows else ""
        print(f"  {batch.source:<14} batch {batch.batch_id:<22} {batch.rows:>9,} rows{late}")
    if landed.cancelled_order is None:
        print("  no correction batch: the lake holds no order older than 30 days yet")
    else:
        print(f"  the corrections batch cancels order {landed.cancelled_order}")
    return 0
