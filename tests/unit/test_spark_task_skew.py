"""Task-time skew read from a Spark event log (shop_analytics.spark.task_skew).

The events are written in the shapes Spark 4.3's local Thrift Server logs them (checked against a
real log: tests/integration/test_spark_parity.py reads one): a job's description is the statement,
dbt's query comment first; a task's executor run time is in its Task Metrics.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shop_analytics.spark.event_log import event_log_files
from shop_analytics.spark.task_skew import node_of, read_stages, skew_by_model

COMMENT = '/* {"app": "dbt", "dbt_version": "1.11.16", "target_name": "spark", "node_id": "%s"} */\n'


def _job(job: int, stages: list[int], description: str | None) -> dict:
    properties = {"spark.sql.execution.id": str(job)}
    if description is not None:
        properties["spark.job.description"] = description
    return {"Event": "SparkListenerJobStart", "Job ID": job, "Stage IDs": stages, "Properties": properties}


def _task(stage: int, run_ms: int, reason: str = "Success", scanned: int = 0, shuffled: int = 0) -> dict:
    return {
        "Event": "SparkListenerTaskEnd",
        "Stage ID": stage,
        "Stage Attempt ID": 0,
        "Task End Reason": {"Reason": reason},
        "Task Metrics": {
            "Executor Run Time": run_ms,
            "Executor CPU Time": run_ms * 10**6,
            "Input Metrics": {"Bytes Read": scanned * 30, "Records Read": scanned},
            "Shuffle Read Metrics": {"Local Bytes Read": shuffled * 20, "Total Records Read": shuffled},
        },
    }


def _log(folder: Path, events: list[dict], tail: str = "", app: str = "local-1") -> Path:
    """A Spark 4 rolling event log folder of application `app` holding `events` (and `tail` after them)."""
    logs = folder / f"eventlog_v2_{app}"
    logs.mkdir(parents=True)
    (logs / f"appstatus_{app}.inprogress").write_text("")
    (logs / f"events_1_{app}").write_text("".join(json.dumps(e) + "\n" for e in events) + tail)
    return folder


def test_stages_are_attributed_to_the_dbt_node_whose_statement_ran_them(tmp_path: Path) -> None:
    events = [
        {"Event": "SparkListenerLogStart", "Spark Version": "4.3.0"},
        _job(0, [0], "USE `default`"),
        _task(0, 5),
        _job(1, [1, 2], COMMENT % "model.shop_analytics.fct_orders" + "create table marts.fct_orders as select 1"),
        # A hot key: one task reads most of the shuffle's rows.
        *(_task(1, ms, shuffled=rows) for ms, rows in ((100, 10), (110, 12), (120, 11), (900, 95))),
        _task(2, 40),
        _task(2, 4000, reason="ExceptionFailure"),  # a failed attempt is not a task time
        _job(2, [3], COMMENT % "model.shop_analytics.rpt_daily_revenue" + "select 1"),
        # Even scans: time skew is not data skew here.
        *(_task(3, ms, scanned=50) for ms in (30, 10, 10, 12)),
    ]
    stages = read_stages(event_log_files(_log(tmp_path, events)))

    assert [(s.stage_id, s.node_id, s.run_ms, s.records) for s in stages] == [
        (0, None, (5,), (0,)),
        (1, "model.shop_analytics.fct_orders", (100, 110, 120, 900), (10, 12, 11, 95)),
        (2, "model.shop_analytics.fct_orders", (40,), (0,)),
        (3, "model.shop_analytics.rpt_daily_revenue", (30, 10, 10, 12), (50, 50, 50, 50)),
    ]
    skewed = stages[1]
    assert (skewed.median_ms, skewed.max_ms, skewed.straggler_ms) == (115, 900, 785)
    assert skewed.max_over_median == pytest.approx(900 / 115)
    assert skewed.records_max_over_median == pytest.approx(95 / 11.5)
    assert stages[2].max_over_median is None  # one task: no skew to speak of
    assert stages[2].records_max_over_median is None
    assert stages[3].max_over_median == pytest.approx(30 / 11)
    assert stages[3].records_max_over_median == 1

    by_model = skew_by_model(stages)
    assert set(by_model) == {"model.shop_analytics.fct_orders", "model.shop_analytics.rpt_daily_revenue"}
    orders = by_model["model.shop_analytics.fct_orders"].as_dict()
    assert orders == {
        "stages": 2,
        "tasks": 5,
        "task_seconds": 1.27,
        "worst_stage": 1,
        "worst_stage_tasks": 4,
        "worst_stage_median_task_seconds": 0.115,
        "worst_stage_max_task_seconds": 0.9,
        "worst_stage_max_over_median": 7.83,  # 900 / 115
        "worst_stage_records_max_over_median": 8.26,  # 95 / 11.5
    }


def test_a_line_being_written_at_the_end_is_left_out_and_a_corrupt_line_is_an_error(tmp_path: Path) -> None:
    events = [_job(0, [0], COMMENT % "model.shop_analytics.x"), _task(0, 7)]
    running = _log(tmp_path / "running", events, tail='{"Event": "SparkListenerTaskEnd", "Stage')
    assert [s.run_ms for s in read_stages(event_log_files(running))] == [(7,)]

    corrupt = _log(tmp_path / "corrupt", events, tail="not json\n" + json.dumps(_task(0, 9)) + "\n")
    with pytest.raises(ValueError, match="events_1_local-1:3 is not a Spark event"):
        read_stages(event_log_files(corrupt))


def test_only_a_leading_dbt_comment_names_a_node() -> None:
    assert node_of(COMMENT % "model.p.m" + "select 1") == "model.p.m"
    assert node_of("select 1 " + COMMENT % "model.p.m") is None  # not at the start
    assert node_of('/* {"app": "other", "node_id": "model.p.m"} */ select 1') is None
    assert node_of("/* {not json} */ select 1") is None
    assert node_of(None) is None


def test_the_newest_application_is_read_and_a_missing_log_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no Spark event log folder"):
        event_log_files(tmp_path / "events")
    (tmp_path / "events").mkdir()
    with pytest.raises(FileNotFoundError, match="no Spark event log in"):
        event_log_files(tmp_path / "events")

    earlier = _log(tmp_path / "events", [_job(0, [0], COMMENT % "model.p.earlier"), _task(0, 1)], app="local-1")
    later = _log(tmp_path / "events", [_job(0, [0], COMMENT % "model.p.later"), _task(0, 2)], app="local-2")
    os.utime(earlier / "eventlog_v2_local-1" / "events_1_local-1", ns=(2 * 10**18, 2 * 10**18))
    os.utime(later / "eventlog_v2_local-2" / "events_1_local-2", ns=(10**18, 10**18))
    assert set(skew_by_model(read_stages(event_log_files(tmp_path / "events")))) == {"model.p.earlier"}
