"""What a statement's scans read, from Spark's SQL metrics in its event log (shop_analytics.spark.scan_metrics).

The events have the shapes Spark 4.3's Thrift Server logs (a real log is read by
tests/integration/test_spark_parity.py): the plan names each scan's metric accumulators, the driver
posts their values for the execution.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shop_analytics.spark.event_log import event_log_files
from shop_analytics.spark.scan_metrics import ScanRead, scans_of_statement

START = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart"
ADAPTIVE = "org.apache.spark.sql.execution.ui.SparkListenerSQLAdaptiveExecutionUpdate"
ACCUMULATORS = "org.apache.spark.sql.execution.ui.SparkListenerDriverAccumUpdates"


def _scan(table: str, first_id: int) -> dict:
    names = ["number of output rows", "number of files read", "number of partitions read"]
    metrics = [{"name": name, "accumulatorId": first_id + i, "metricType": "sum"} for i, name in enumerate(names)]
    return {"nodeName": f"Scan parquet spark_catalog.shop.{table}", "metrics": metrics, "children": []}


def _plan(*scans: dict) -> dict:
    exchange = {"nodeName": "Exchange", "metrics": [], "children": list(scans)}
    return {
        "nodeName": "AdaptiveSparkPlan",
        "metrics": [],
        "children": [{"nodeName": "HashAggregate", "children": [exchange]}],
    }


def _log(folder: Path, events: list[dict]) -> list[Path]:
    logs = folder / "eventlog_v2_local-1"
    logs.mkdir(parents=True)
    (logs / "events_1_local-1").write_text("".join(json.dumps(e) + "\n" for e in events))
    return event_log_files(folder)


def test_each_scan_of_the_marked_statement_reports_its_files_and_partitions(tmp_path: Path) -> None:
    files = _log(
        tmp_path,
        [
            {"Event": START, "executionId": 3, "description": "select 1", "sparkPlanInfo": _plan(_scan("users", 1))},
            {"Event": ACCUMULATORS, "executionId": 3, "accumUpdates": [[2, 9], [3, 9]]},
            {
                "Event": START,
                "executionId": 4,
                "description": "/* check: filtered */ select count(*) from staging.stg_shop__order_lines",
                "sparkPlanInfo": _plan(_scan("order_lines", 10)),
            },
            # Adaptive execution re-plans: the plan now also shows the second scan.
            {
                "Event": ADAPTIVE,
                "executionId": 4,
                "sparkPlanInfo": _plan(_scan("order_lines", 10), _scan("purchases", 20)),
            },
            {"Event": ACCUMULATORS, "executionId": 4, "accumUpdates": [[11, 2], [12, 1], [21, 0], [22, 0]]},
            {"Event": ACCUMULATORS, "executionId": 4, "accumUpdates": [[11, 1]]},  # updates add up
        ],
    )

    assert scans_of_statement(files, "check: filtered") == [
        ScanRead("spark_catalog.shop.order_lines", files_read=3, partitions_read=1),
        ScanRead("spark_catalog.shop.purchases", files_read=0, partitions_read=0),
    ]
    assert scans_of_statement(files, "select 1") == [ScanRead("spark_catalog.shop.users", 9, 9)]


def test_two_scans_of_one_table_are_two_reads(tmp_path: Path) -> None:
    files = _log(
        tmp_path,
        [
            {
                "Event": START,
                "executionId": 0,
                "description": "/* self-join */ select 1",
                "sparkPlanInfo": _plan(_scan("page_views", 10), _scan("page_views", 20)),
            },
            {"Event": ACCUMULATORS, "executionId": 0, "accumUpdates": [[11, 4], [12, 2], [21, 1], [22, 1]]},
        ],
    )
    assert scans_of_statement(files, "self-join") == [
        ScanRead("spark_catalog.shop.page_views", files_read=4, partitions_read=2),
        ScanRead("spark_catalog.shop.page_views", files_read=1, partitions_read=1),
    ]


def test_a_statement_missing_from_the_log_is_an_error(tmp_path: Path) -> None:
    files = _log(
        tmp_path, [{"Event": START, "executionId": 0, "description": "USE `default`", "sparkPlanInfo": _plan()}]
    )
    with pytest.raises(LookupError, match="no SQL execution in the event log ran a statement containing 'check'"):
        scans_of_statement(files, "check")
