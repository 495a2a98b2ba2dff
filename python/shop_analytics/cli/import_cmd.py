"""`shop-analytics import`: a CSV, Parquet or JSON file plus a mapping file -> a landing batch (docs/import.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shop_analytics.exit_codes import ExitCode
from shop_analytics.settings import DataLayout, IngestConfig, Settings

if TYPE_CHECKING:
    from shop_analytics.ingest import IngestSettings

SOURCES = ("users", "items", "page_views", "ratings", "purchases", "order_lines", "exchange_rates")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `import` subcommand."""
    parser = subparsers.add_parser(
        "import",
        help="turn a CSV, Parquet or JSON file into a landing batch, with a mapping file",
        description="Reads FILE, applies the mapping file (column names, constants, value maps, timestamp "
        "format and time zone, derived columns and dimensions) and writes "
        "<landing>/<source>/batch_date=<batch id>/ with part-0.json, _batch.yml and _SUCCESS last. "
        "--dry-run writes nothing: it runs the real gate on a scratch copy of the data dir and prints "
        "what would be admitted and quarantined. Exit codes: 0 written (or a clean dry run), 2 the file "
        "or the mapping cannot be used, 4 an operational failure (disk full, permissions); a dry run exits as "
        "`shop-analytics ingest` would (1, 3). "
        "See docs/import.md.",
    )
    parser.add_argument("file", type=Path, help="the input: .csv, .parquet, .json (an array or NDJSON), .jsonl")
    parser.add_argument("--mapping", type=Path, required=True, help="the mapping file (YAML), docs/import.md")
    parser.add_argument("--source", required=True, choices=SOURCES, help="the landing source to write")
    parser.add_argument(
        "--batch-id", help="the batch id (default: import-<UTC time>); an existing id is refused, never overwritten"
    )
    parser.add_argument("--landing", type=Path, help="the landing folder (default: <data dir>/landing)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="write nothing; run the gate on a scratch copy of the data dir and print what it would do",
    )
    parser.add_argument(
        "--currencies",
        type=Path,
        default=Path("seeds/currencies.csv"),
        help="ISO 4217 codes with minor units, as for ingest: a price derived for items is checked against them, "
        "and the dry run's gate uses them (default: seeds/currencies.csv)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="per-source ingest settings, as for ingest: derived users/items attributes are checked against them, "
        "and the dry run's gate uses them (default: $SHOP_ANALYTICS_INGEST_CONFIG, else ./ingest.yml)",
    )
    parser.add_argument(
        "--contracts",
        type=Path,
        default=Path("contracts"),
        help="dry run: the maintainers' schema contracts, as for ingest (default: contracts)",
    )
    parser.set_defaults(run=run)


def _ingest_settings(args: argparse.Namespace) -> IngestSettings:
    """The settings `shop-analytics ingest` would use with the same options."""
    from shop_analytics.ingest import IngestSettings
    from shop_analytics.quality.raw_contract import ALL_SOURCES

    if args.dry_run and not args.currencies.exists():  # else needed only for a derived price (a clear error then)
        raise FileNotFoundError(f"{args.currencies} not found; run from the project folder or pass --currencies")
    if args.config is not None and not args.config.exists():
        raise FileNotFoundError(f"ingest settings {args.config} not found")
    config = IngestConfig.load(args.config or Settings.from_env().ingest_config, tuple(s.name for s in ALL_SOURCES))
    return IngestSettings(currencies_csv=args.currencies, config=config, contracts_dir=args.contracts, progress=False)


def run(args: argparse.Namespace) -> int:
    """Import one file; print what was written, or the dry run's report."""
    from shop_analytics.importing import import_file
    from shop_analytics.ingest import OperationalError

    layout = DataLayout.from_env(args.data_dir)
    landing = args.landing or layout.landing
    settings = _ingest_settings(args)
    try:
        result = import_file(
            args.file,
            args.mapping,
            args.source,
            landing,
            args.batch_id,
            dry_run_data_dir=layout.root if args.dry_run else None,
            ingest_settings=settings,
        )
    except (OperationalError, PermissionError, IsADirectoryError) as exc:
        return _operational(exc)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError | FileExistsError):
            raise  # the user's mistake: exit 2 with the message
        return _operational(exc)
    prepared = result.prepared
    print(f"read {prepared.table.rows:,} rows from {prepared.table.path} ({prepared.table.file_format})")
    settings_text = ", ".join(f"{k}: {v}" for k, v in prepared.mapping.batch_settings().items())
    if result.dry_run is None:
        for batch in result.written:
            print(f"wrote {batch.source} batch {batch.batch_id}: {batch.rows:,} rows -> {batch.folder}")
            for note in batch.notes:
                print(f"      {note}")
        print(f"_batch.yml: {settings_text}")
        print("next: shop-analytics ingest")
        return 0
    print(f"DRY RUN: nothing written; the gate on a scratch copy of {layout.root} (_batch.yml: {settings_text})")
    for planned in prepared.planned:
        for note in planned.notes:
            print(f"  {planned.target.name}: {note}")
    for item in result.dry_run.batches:
        report = item.report
        which = f" batch {report.batch_id}" if report.batch_id else ""
        print(
            f"  {report.source}{which}: {report.status}; rows in {report.rows_in:,}, "
            f"admitted {report.rows_admitted:,}, quarantined {report.rows_quarantined:,}"
        )
        if report.message:
            print(f"      {report.message}")
        for reason, count in sorted(report.quarantined_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"      {reason:<36} {count:>10,}")
            for row in item.examples.get(reason, []):
                print(f"          e.g. {_row_text(row)}")
    print(f"exit code ingest would give: {result.dry_run.exit_code}")
    return result.dry_run.exit_code


def _operational(exc: Exception) -> int:
    print(
        f"shop-analytics import: operational error: {exc}; no batch was completed in landing; re-run once fixed",
        file=sys.stderr,
    )
    return ExitCode.OPERATIONAL


def _row_text(row: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in row.items())
    return text if len(text) <= 200 else text[:197] + "..."
