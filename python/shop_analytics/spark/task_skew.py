"""Task-time skew per stage and per dbt model, read from a Spark event log (docs/spark.md, "Skew").

A stage runs one task per partition; when a hot key (a Zipf item, a heavy user) puts most rows in
one partition, that task is the straggler the stage waits for. Spark's own metrics say so: the
event log (`spark.eventLog.dir`; the local server writes one, thrift_server.ServerFiles.event_log)
has every finished task's executor run time. A stage is attributed to the dbt node whose statement
ran it through dbt's query comment, which starts every statement dbt sends (`/* {"app": "dbt", ...,
"node_id": "model.shop_analytics.x"} */`) and which the Thrift Server keeps as the job description.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from shop_analytics.spark.event_log import events

# dbt's query comment at the start of a statement (dbt's default `query-comment`, not appended).
_QUERY_COMMENT = re.compile(r"^\s*/\*\s*(\{.*?\})\s*\*/", re.DOTALL)
_SUCCESS = "Success"


@dataclass(frozen=True)
class StageTasks:
    """The successful tasks of one stage attempt, and the dbt node that ran it (None: not dbt, or no node)."""

    stage_id: int
    attempt: int
    node_id: str | None
    run_ms: tuple[int, ...]  # each successful task's executor run time, milliseconds
    # Each task's records read: from files (a scan) plus from the shuffle (after an exchange). Time
    # skew with even records is not a hot key (the first tasks of a stage also pay JIT warm-up).
    records: tuple[int, ...]

    @property
    def median_ms(self) -> float:
        """Median task run time."""
        return float(statistics.median(self.run_ms))

    @property
    def max_ms(self) -> int:
        """The slowest task's run time."""
        return max(self.run_ms)

    @property
    def straggler_ms(self) -> float:
        """How long the stage waited for its slowest task beyond a typical one (max - median)."""
        return self.max_ms - self.median_ms

    @property
    def max_over_median(self) -> float | None:
        """max / median task time; None for a single task or a zero median (no skew to speak of)."""
        if len(self.run_ms) < 2 or self.median_ms == 0:
            return None
        return self.max_ms / self.median_ms

    @property
    def records_max_over_median(self) -> float | None:
        """max / median records read per task (data skew); None for a single task or a zero median."""
        median = statistics.median(self.records) if self.records else 0
        if len(self.records) < 2 or median == 0:
            return None
        return max(self.records) / median


@dataclass(frozen=True)
class ModelSkew:
    """One dbt node's stages: their total task time and the stage that waited longest for a straggler."""

    node_id: str
    stages: int
    tasks: int
    task_seconds: float
    worst: StageTasks  # the stage with the largest straggler time

    def as_dict(self) -> dict[str, object]:
        """JSON-ready figures (seconds; the worst stage's max/median task time)."""
        ratio, records = self.worst.max_over_median, self.worst.records_max_over_median
        return {
            "stages": self.stages,
            "tasks": self.tasks,
            "task_seconds": round(self.task_seconds, 3),
            "worst_stage": self.worst.stage_id,
            "worst_stage_tasks": len(self.worst.run_ms),
            "worst_stage_median_task_seconds": round(self.worst.median_ms / 1000, 3),
            "worst_stage_max_task_seconds": round(self.worst.max_ms / 1000, 3),
            "worst_stage_max_over_median": None if ratio is None else round(ratio, 2),
            "worst_stage_records_max_over_median": None if records is None else round(records, 2),
        }


def node_of(description: str | None) -> str | None:
    """The dbt node id in a statement's leading dbt query comment, else None."""
    match = _QUERY_COMMENT.match(description or "")
    if match is None:
        return None
    try:
        comment = json.loads(match.group(1))
    except json.JSONDecodeError:
        return None
    node = comment.get("node_id") if isinstance(comment, dict) and comment.get("app") == "dbt" else None
    return node if isinstance(node, str) else None


def read_stages(files: Iterable[Path]) -> list[StageTasks]:
    """Every stage attempt with at least one successful task, in stage order, attributed to its dbt node."""
    stage_node: dict[int, str | None] = {}
    tasks: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for event in events(files):
        kind = event.get("Event")
        if kind == "SparkListenerJobStart":
            node = node_of(event.get("Properties", {}).get("spark.job.description"))
            for stage in event.get("Stage IDs", []):
                stage_node.setdefault(stage, node)
        elif kind == "SparkListenerTaskEnd" and event.get("Task End Reason", {}).get("Reason") == _SUCCESS:
            metrics = event["Task Metrics"]
            records = int(metrics.get("Input Metrics", {}).get("Records Read", 0)) + int(
                metrics.get("Shuffle Read Metrics", {}).get("Total Records Read", 0)
            )
            key = (event["Stage ID"], event["Stage Attempt ID"])
            tasks.setdefault(key, []).append((int(metrics["Executor Run Time"]), records))
    return [
        StageTasks(stage, attempt, stage_node.get(stage), tuple(ms for ms, _ in done), tuple(rows for _, rows in done))
        for (stage, attempt), done in sorted(tasks.items())
    ]


def skew_by_model(stages: Iterable[StageTasks]) -> dict[str, ModelSkew]:
    """Per dbt node: its stages' task count and time, and its worst stage by straggler time."""
    by_node: dict[str, list[StageTasks]] = {}
    for stage in stages:
        if stage.node_id is not None:
            by_node.setdefault(stage.node_id, []).append(stage)
    return {
        node: ModelSkew(
            node_id=node,
            stages=len(own),
            tasks=sum(len(s.run_ms) for s in own),
            task_seconds=sum(sum(s.run_ms) for s in own) / 1000,
            worst=max(own, key=lambda s: (s.straggler_ms, -s.stage_id)),
        )
        for node, own in sorted(by_node.items())
    }
