"""`shop-analytics publish`: publish a complete, checked build to the read-only serving file; roll back; list."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from shop_analytics.cli.check import selected_checks
from shop_analytics.cli.failures import fail, operational
from shop_analytics.exit_codes import ExitCode
from shop_analytics.settings import Settings

if TYPE_CHECKING:  # the command imports the serving layer only when it runs
    from shop_analytics.publish import ServingLayout


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `publish` subcommand."""
    pub = subparsers.add_parser(
        "publish",
        help="publish a complete, checked build to the read-only serving file and "
        "Parquet exports (exit 4 operational failure, 5 build incomplete, 6 a check failed)",
    )
    pub.add_argument("--build-file", type=Path, help="dbt build file (default: $SHOP_ANALYTICS_WAREHOUSE)")
    pub.add_argument(
        "--serving-root",
        type=Path,
        help="folder for serving/ and exports/ (default: $SHOP_ANALYTICS_SERVING_ROOT or the build file's folder)",
    )
    pub.add_argument(
        "--schemas",
        help="comma-separated schemas to publish (default: $SHOP_ANALYTICS_PUBLISH_SCHEMAS or marts,reference)",
    )
    pub.add_argument("--keep", type=int, default=5, help="versions kept for rollback (default 5)")
    pub.add_argument("--no-exports", action="store_true", help="skip the Parquet exports")
    pub.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="MODULE:ATTR",
        help="extra post-build checks to run before publishing (repeatable)",
    )
    pub.add_argument("--rollback", action="store_true", help="serve the previous kept version instead")
    pub.add_argument("--to-version", type=int, help="with --rollback: the version to serve")
    pub.add_argument("--list", action="store_true", help="list kept versions and exit")
    pub.add_argument("--no-progress", action="store_true")
    pub.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Publish (or roll back, or list the kept versions) and print the outcome."""
    import duckdb

    from shop_analytics import publish as serving

    build_file = (args.build_file or serving.default_build_file()).resolve()
    # Without --serving-root or $SHOP_ANALYTICS_SERVING_ROOT, serve next to the build file.
    layout = serving.ServingLayout.from_env(args.serving_root or Settings.from_env().serving_root or build_file.parent)
    if args.to_version is not None and not args.rollback:
        raise ValueError("--to-version goes with --rollback")
    if args.list:
        for version, served, exported in serving.status(layout):
            print(f"  v{version:06d}{'  served' if served else ''}{'  +parquet' if exported else ''}")
        return ExitCode.OK
    schemas = [s.strip() for s in args.schemas.split(",") if s.strip()] if args.schemas else None
    try:
        if args.rollback:
            version = serving.rollback(layout, args.to_version)
            print(f"now serving version {version}: {layout.serving_file}")
            return ExitCode.OK
        checks = selected_checks(args.check)
        result = serving.publish(
            build_file,
            layout,
            schemas=schemas,
            keep=args.keep,
            exports=not args.no_exports,
            checks=checks,
            progress=False if args.no_progress else None,
        )
    except serving.RollbackError as exc:
        return fail("publish", str(exc), ExitCode.USAGE)
    except serving.BuildIncompleteError as exc:
        return fail(
            "publish", f"refused, the build is incomplete: {exc}{_still_served(layout)}", ExitCode.BUILD_INCOMPLETE
        )
    except serving.ChecksFailedError as exc:
        print(exc.report, file=sys.stderr)
        return fail("publish", f"refused, a post-build check failed{_still_served(layout)}", ExitCode.CHECKS_FAILED)
    except (
        OSError,
        duckdb.IOException,
        duckdb.PermissionException,
        serving.BuildFileLockedError,
        serving.PublishError,
    ) as exc:
        return fail(
            "publish", f"{operational(exc)}; nothing was published{_still_served(layout)}", ExitCode.OPERATIONAL
        )
    print(f"build: {result.build}")
    for note in result.notes:
        print(f"note: {note}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"checks: {sum(not r.failed for r in result.checks)} of {len(result.checks)} passed or not applicable")
    print(f"published version {result.version} in {result.seconds:.2f} s: {result.serving_file}")
    for table, rows in result.row_counts.items():
        print(f"  {table:<48} {rows:>12,} rows")
    if result.export_dir:
        print(f"parquet: {result.export_dir} (also {layout.exports_current})")
    if result.pruned:
        print(f"pruned old versions: {', '.join(map(str, result.pruned))}")
    return ExitCode.OK


def _still_served(layout: ServingLayout) -> str:
    from shop_analytics.publish import versions

    try:
        current = versions.current_version(layout)
    except Exception:  # noqa: BLE001 - the message must not fail on a damaged serving folder
        return ""
    return f" (still serving version {current}, unchanged)" if current else " (nothing is served yet)"
