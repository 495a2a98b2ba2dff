"""`shop-analytics spark-server start|status|stop|skew`: a local Spark Thrift Server for `dbt --target spark`."""

from __future__ import annotations

import argparse
from pathlib import Path

from shop_analytics.cli.failures import fail
from shop_analytics.exit_codes import ExitCode


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `spark-server` subcommand."""
    server = subparsers.add_parser(
        "spark-server",
        help="start, report or stop a local Spark Thrift Server (127.0.0.1:$SHOP_ANALYTICS_SPARK_PORT, docs/spark.md)",
    )
    server.add_argument(
        "action",
        choices=("start", "status", "stop", "skew"),
        help="skew: each dbt model's task-time skew from the server's event log (its worst stage's max/median)",
    )
    server.set_defaults(run=run)


def _print_skew(event_log: Path) -> int:
    from shop_analytics.spark.event_log import event_log_files
    from shop_analytics.spark.task_skew import read_stages, skew_by_model

    try:
        models = skew_by_model(read_stages(event_log_files(event_log)))
    except (FileNotFoundError, ValueError) as exc:
        return fail("spark-server", str(exc), ExitCode.OPERATIONAL)
    if not models:
        print(f"no dbt model has run a Spark task yet (event log {event_log})")
        return ExitCode.OK
    header = (
        "model",
        "stages",
        "tasks",
        "task_s",
        "worst_stage",
        "its_tasks",
        "median_s",
        "max_s",
        "max/median",
        "records max/median",
    )
    rows: list[tuple[str, ...]] = [header]
    # The stage that waited longest for its slowest task first.
    for node, skew in sorted(models.items(), key=lambda item: -item[1].worst.straggler_ms):
        figures = skew.as_dict()
        ratio, records = figures["worst_stage_max_over_median"], figures["worst_stage_records_max_over_median"]
        rows.append(
            (
                node.rsplit(".", 1)[-1],
                *(str(figures[k]) for k in ("stages", "tasks", "task_seconds", "worst_stage", "worst_stage_tasks")),
                str(figures["worst_stage_median_task_seconds"]),
                str(figures["worst_stage_max_task_seconds"]),
                "-" if ratio is None else str(ratio),
                "-" if records is None else str(records),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return ExitCode.OK


def run(args: argparse.Namespace) -> int:
    """Run the action; exit 0 on success (status: 0 running, 1 not running)."""
    from shop_analytics.settings import SparkServerSettings
    from shop_analytics.spark import thrift_server

    settings = SparkServerSettings.from_env()
    files = thrift_server.ServerFiles(settings.state_dir)
    if args.action == "skew":
        return _print_skew(files.event_log)
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
