"""`shop-analytics shell`: the DuckDB shell on the serving file, read-only, safe mode, bounded."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from shop_analytics.cli.failures import fail
from shop_analytics.exit_codes import ExitCode


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `shell` subcommand."""
    shell = subparsers.add_parser("shell", help="the DuckDB shell on the serving file: read-only, safe mode, bounded")
    shell.add_argument(
        "--serving-root",
        type=Path,
        help="folder holding serving/ (default: $SHOP_ANALYTICS_SERVING_ROOT or the build file's folder)",
    )
    shell.add_argument("--duckdb-bin", help="DuckDB shell to run (default: the one next to this Python, else PATH)")
    shell.add_argument("--print", action="store_true", help="print the command instead of running it")
    shell.add_argument(
        "shell_args", nargs=argparse.REMAINDER, help="after --: more DuckDB shell options, e.g. -- -csv -c 'SELECT 1'"
    )
    shell.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Replace this process by the safe DuckDB shell (or print its command line)."""
    from shop_analytics import publish as serving

    layout = serving.ServingLayout.from_env(args.serving_root)
    if not layout.serving_file.exists():
        return fail(
            "shell", f"no serving file at {layout.serving_file}; run `shop-analytics publish` first", ExitCode.USAGE
        )
    extra = args.shell_args[1:] if args.shell_args[:1] == ["--"] else args.shell_args
    command = serving.shell_command(layout.serving_file, args.duckdb_bin or serving.default_duckdb_bin()) + extra
    if args.print:
        print(shlex.join(command))
        return ExitCode.OK
    sys.stdout.flush()
    # exec keeps this pid, which names the private spill folder: it is swept once the shell has exited.
    os.execvp(command[0], command)
