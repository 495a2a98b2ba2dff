"""The `shop-analytics` command: import, generate, ingest, check, publish, shell, bench and spark-server."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    # Great Expectations imports pyspark when it is installed (`make spark`), and pyspark warns on
    # import about the pandas version: noise on every command's stderr, about code none of them runs.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        print(f"shop-analytics {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shop-analytics", description=__doc__)
    parser.add_argument(
        "--data-dir",
        help="data root holding landing/, lake/, quarantine/ (default: $SHOP_ANALYTICS_DATA_DIR or ./data)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    # Imported here, not at the top: `python -m shop_analytics.cli.<command>` imports this
    # package first, and must not find its own module already imported.
    from shop_analytics.cli import bench, check, generate, import_cmd, ingest, publish, shell, spark_server

    for command in (import_cmd, generate, ingest, publish, check, shell, bench, spark_server):
        command.register(sub)
    return parser
