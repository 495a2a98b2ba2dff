"""`shop-analytics spark-server start|status|stop`: a local Spark Thrift Server for `dbt --target spark`."""

from __future__ import annotations

import argparse

from shop_analytics.cli.failures import fail
from shop_analytics.exit_codes import ExitCode


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `spark-server` subcommand."""
    server = subparsers.add_parser(
        "spark-server",
        help="start, report or stop a local Spark Thrift Server (127.0.0.1:$SHOP_ANALYTICS_SPARK_PORT, docs/spark.md)",
    )
    server.add_argument("action", choices=("start", "status", "stop"))
    server.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the action; exit 0 on success (status: 0 running, 1 not running)."""
    from shop_analytics.settings import SparkServerSettings
    from shop_analytics.spark import thrift_server

    settings = SparkServerSettings.from_env()
    files = thrift_server.ServerFiles(settings.state_dir)
    try:
        if args.action == "start":
            started = thrift_server.start(settings)
            print(f"Spark Thrift Server running: pid {started.pid}, 127.0.0.1:{started.port}, log {files.log_file}")
            return ExitCode.OK
        if args.action == "stop":
            stopped = thrift_server.stop(settings)
            print("Spark Thrift Server stopped" if stopped else "no Spark Thrift Server was running")
            return ExitCode.OK
        current = thrift_server.status(settings)
    except thrift_server.SparkServerError as exc:
        return fail("spark-server", str(exc), ExitCode.OPERATIONAL)
    if current.running:
        print(f"running: pid {current.pid}, 127.0.0.1:{current.port}, log {files.log_file}")
        return ExitCode.OK
    state = f"pid {current.pid} without its port open" if current.pid else "not running"
    taken = f"; port {current.port} is in use by another program" if current.port_open and not current.pid else ""
    print(f"{state}{taken}")
    return 1
