"""`shop-analytics ingest`: admit landing batches into the lake through the quality gate; quarantine the rest."""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

from shop_analytics.exit_codes import ExitCode
from shop_analytics.settings import DataLayout, IngestConfig, Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `ingest` subcommand."""
    ing = subparsers.add_parser(
        "ingest",
        help="admit landing batches into the lake; quarantine the rest",
        description="Exit codes: 0 all good (pending batches included), 1 a batch rejected, "
        "refused or in conflict, 3 a batch over its quarantine threshold, 4 an "
        "operational failure (disk full, permissions, I/O, catalog locked); the most "
        "severe wins. See docs/quality_gate.md.",
    )
    ing.add_argument(
        "--currencies",
        type=Path,
        default=Path("seeds/currencies.csv"),
        help="ISO 4217 codes with minor units, CSV with currency and minor_units columns "
        "(default: seeds/currencies.csv)",
    )
    ing.add_argument(
        "--config",
        type=Path,
        default=None,
        help="per-source ingest settings (default: $SHOP_ANALYTICS_INGEST_CONFIG, else ./ingest.yml; "
        "a missing file means the documented defaults)",
    )
    ing.add_argument(
        "--memory-limit",
        type=_memory_budget,
        default="2GB",
        help="memory budget of the whole ingest process (default 2GB); DuckDB gets it less 768 MiB for "
        "Python and Great Expectations, and spills to disk beyond",
    )
    ing.add_argument(
        "--contracts",
        type=Path,
        default=Path("contracts"),
        help="the maintainers' schema contracts, <source>.yml each, read only (default: contracts)",
    )
    ing.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first rejected batch (default: quarantine it, go on, exit 1 at the end)",
    )
    ing.add_argument(
        "--quiet-seconds",
        type=float,
        default=None,
        metavar="N",
        help="also ingest batch folders without a _SUCCESS marker once neither they nor their files "
        "changed for N seconds (for producers that cannot write the marker)",
    )
    ing.add_argument(
        "--max-quarantine-share",
        type=float,
        default=None,
        metavar="SHARE",
        help="exit 3 when a batch quarantines more than this share of its rows, or all of them; overrides "
        "every source's max_quarantine_share in ingest.yml (default there: 0.05)",
    )
    ing.add_argument(
        "--data-docs", type=Path, default=None, help="build GX Data Docs here (default: <data-dir>/quality/data_docs)"
    )
    ing.add_argument("--no-data-docs", action="store_true", help="skip building GX Data Docs")
    ing.add_argument("--no-progress", action="store_true")
    ing.set_defaults(run=run)


def _memory_budget(text: str) -> str:
    """argparse type: a memory budget the ingest can run in, else a usage error naming the problem."""
    from shop_analytics.ingest.memory import MemoryLimitError, duckdb_memory_limit

    try:
        duckdb_memory_limit(text)
    except MemoryLimitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def run(args: argparse.Namespace) -> int:
    """Ingest every landing batch, print the reconciliation per source, return the most severe exit code."""
    from shop_analytics.ingest import IngestSettings, OperationalError, exit_code, ingest
    from shop_analytics.ingest.report import FAILED, PENDING, threshold_message
    from shop_analytics.quality.raw_contract import ALL_SOURCES

    layout = DataLayout.from_env(args.data_dir)
    if not args.currencies.exists():
        raise FileNotFoundError(f"{args.currencies} not found; run from the project folder or pass --currencies")
    if args.quiet_seconds is not None and args.quiet_seconds < 0:
        raise ValueError("--quiet-seconds must be >= 0")
    if args.max_quarantine_share is not None and not 0 <= args.max_quarantine_share <= 1:
        raise ValueError("--max-quarantine-share must be between 0 and 1")
    config_path = args.config or Settings.from_env().ingest_config
    if args.config is not None and not args.config.exists():
        raise FileNotFoundError(f"ingest settings {args.config} not found")
    config = IngestConfig.load(config_path, tuple(s.name for s in ALL_SOURCES))
    docs = None if args.no_data_docs else (args.data_docs or layout.root / "quality" / "data_docs")
    settings = IngestSettings(
        currencies_csv=args.currencies,
        config=config,
        contracts_dir=args.contracts,
        memory_limit=args.memory_limit,
        progress=False if args.no_progress else None,
        strict=args.strict,
        data_docs_dir=docs,
        quiet_seconds=args.quiet_seconds,
        max_quarantine_share=args.max_quarantine_share,
    )
    try:
        reports = ingest(layout, settings)
    except OperationalError as exc:
        print(
            f"shop-analytics ingest: operational error: {exc}; fix the cause and re-run: the next run rolls "
            f"back what this one left uncommitted and carries on",
            file=sys.stderr,
        )
        return ExitCode.OPERATIONAL
    totals: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for report in reports:
        total = totals[report.source]
        total[report.status] += 1
        total["rows_in"] += report.rows_in
        total["admitted"] += report.rows_admitted
        total["quarantined"] += report.rows_quarantined
        for reason, count in report.quarantined_by_reason.items():
            total[f"  {reason}"] += count
    print(f"lake: {layout.lake}\nquarantine: {layout.quarantine}")
    for source, total in totals.items():
        print(
            f"  {source:<11} batches ingested {total['ingested']}, skipped {total['skipped']} (already in), "
            f"rejected {total['rejected']}, refused {total['refused']}, conflict {total['conflict']}, "
            f"pending {total['pending']}"
        )
        balanced = total["rows_in"] == total["admitted"] + total["quarantined"]
        print(
            f"      reconciliation: rows in {total['rows_in']:,} = admitted {total['admitted']:,} + "
            f"quarantined {total['quarantined']:,}: {'OK' if balanced else 'MISMATCH'}"
        )
        for key in sorted(k for k in total if k.startswith("  ")):
            print(f"      {key.strip():<36} {total[key]:>10,}")
    if docs is not None and (docs / "index.html").exists():
        print(f"GX Data Docs: {docs / 'index.html'}")
    for report in reports:
        if report.status == PENDING:
            print(f"PENDING {report.message}")
        elif report.status in FAILED:
            batch = f" batch {report.batch_id}" if report.batch_id else ""
            print(f"{report.status.upper()} {report.source}{batch}: {report.message}", file=sys.stderr)
    for report in reports:
        if report.over_threshold:
            print(f"QUARANTINE THRESHOLD {threshold_message(report)}", file=sys.stderr)
    code = exit_code(reports)
    failed = sum(r.status in FAILED for r in reports)
    if failed:
        print(
            f"{failed} batch(es) or landing entries rejected, refused or in conflict; rejected batches are in "
            f"quarantine/<source>/<batch>/ with reason.json, the others are still in landing",
            file=sys.stderr,
        )
    return code
