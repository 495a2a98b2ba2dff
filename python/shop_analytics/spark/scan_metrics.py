"""What a statement's file scans read, from Spark's own SQL metrics in its event log (docs/spark.md).

Spark reports, per file scan node, "number of files read" and "number of partitions read" as driver
metrics of the SQL execution: the plan (SparkListenerSQLExecutionStart, and the re-plans of adaptive
execution) names each scan's metric accumulators, and SparkListenerDriverAccumUpdates carries their
values. A statement is found by a marker in its text, which the Thrift Server keeps as the
execution's description. This is how the parity test proves partition pruning on Spark, as DuckDB's
profiler does for test_partition_pruning.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shop_analytics.spark.event_log import events

_FILES = "number of files read"
_PARTITIONS = "number of partitions read"


@dataclass(frozen=True)
class ScanRead:
    """One file scan of a statement: its table and what it read (None: Spark reported no value)."""

    table: str  # the scan node's name without "Scan <format> ", e.g. spark_catalog.shop.page_views
    files_read: int | None
    partitions_read: int | None


def _scans(plan: dict[str, Any], found: dict[int, tuple[str, dict[str, int]]]) -> None:
    """Collect each file scan node under `plan`: its table and metric accumulator ids, by its files metric's id.

    A statement may scan one table more than once (a self-join); each scan node has its own
    accumulators, and a re-plan of adaptive execution keeps them.
    """
    name = plan.get("nodeName", "")
    if name.startswith("Scan "):
        metrics = {m["name"]: m["accumulatorId"] for m in plan.get("metrics", [])}
        if _FILES in metrics:
            found[metrics[_FILES]] = (name.split(" ", 2)[-1], metrics)
    for child in plan.get("children", []):
        _scans(child, found)


def scans_of_statement(files: Iterable[Path], marker: str) -> list[ScanRead]:
    """The file scan nodes of the SQL executions whose statement contains `marker`, in table order."""
    executions: set[int] = set()
    scans: dict[int, tuple[str, dict[str, int]]] = {}
    values: dict[int, int] = {}
    for event in events(files):
        kind = event.get("Event", "")
        if kind.endswith(".SparkListenerSQLExecutionStart") and marker in event.get("description", ""):
            executions.add(event["executionId"])
            _scans(event["sparkPlanInfo"], scans)
        elif kind.endswith(".SparkListenerSQLAdaptiveExecutionUpdate") and event.get("executionId") in executions:
            _scans(event["sparkPlanInfo"], scans)
        elif kind.endswith(".SparkListenerDriverAccumUpdates") and event.get("executionId") in executions:
            for accumulator, value in event["accumUpdates"]:
                values[accumulator] = values.get(accumulator, 0) + int(value)
    if not executions:
        raise LookupError(f"no SQL execution in the event log ran a statement containing {marker!r}")
    return [
        ScanRead(table, values.get(ids[_FILES]), values.get(ids[_PARTITIONS]) if _PARTITIONS in ids else None)
        for _, (table, ids) in sorted(scans.items(), key=lambda item: (item[1][0], item[0]))
    ]
