"""`shop-analytics check`: the post-build checks publish runs, as a report."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shop_analytics.cli.failures import fail, operational
from shop_analytics.exit_codes import ExitCode

if TYPE_CHECKING:  # the command imports the check framework (and duckdb) only when it runs
    from shop_analytics.checks import Check


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `check` subcommand."""
    chk = subparsers.add_parser(
        "check",
        help="the post-build checks publish runs, as a report (exit 5 when the last dbt build did not pass, "
        "6 on a failed check)",
    )
    chk.add_argument(
        "--warehouse",
        "--build-file",
        dest="warehouse",
        type=Path,
        default=None,
        help="dbt build file (default: $SHOP_ANALYTICS_WAREHOUSE or warehouse/shop_analytics.duckdb)",
    )
    chk.add_argument(
        "--schemas",
        help="comma-separated schemas to check "
        "(default: $SHOP_ANALYTICS_PUBLISH_SCHEMAS or marts,reference, as publish)",
    )
    chk.add_argument(
        "--check", action="append", default=[], metavar="MODULE:ATTR", help="extra checks, as for publish (repeatable)"
    )
    chk.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the checks on the build file and print the report."""
    import duckdb

    from shop_analytics import publish as serving
    from shop_analytics.checks import format_report

    build_file = (args.warehouse or serving.default_build_file()).resolve()
    schemas = [s.strip() for s in args.schemas.split(",") if s.strip()] if args.schemas else None
    try:
        checked = serving.check_build(build_file, schemas=schemas, checks=selected_checks(args.check))
    except (OSError, duckdb.IOException, serving.BuildFileLockedError) as exc:
        return fail("check", operational(exc), ExitCode.OPERATIONAL)
    print(f"build: {checked.verdict.reason}")
    print(format_report(checked.results))
    if not checked.verdict.complete:  # the marts checked are not those of a passing build: publish refuses them too
        return ExitCode.BUILD_INCOMPLETE
    return ExitCode.CHECKS_FAILED if any(r.failed for r in checked.results) else ExitCode.OK


def selected_checks(specs: Sequence[str]) -> list[Check]:
    """The default checks plus those named by --check MODULE:ATTR options."""
    from shop_analytics.checks import default_checks, load_checks

    return default_checks() + [c for spec in specs for c in load_checks(spec)]
