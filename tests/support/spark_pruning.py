"""Partition pruning on Spark, proven by Spark's own scan metrics (test_spark_parity.py).

As test_partition_pruning.py does with DuckDB's profiler: a filter on `event_date` through a staging
view must make each lake table's scan read only the matching `event_date=...` folder and its files
(Spark's "number of partitions read" and "number of files read", from the server's event log), and a
control query without the filter must read every folder and file, so the check fails if the filter
stops reaching the scan.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from shop_analytics.spark.event_log import event_log_files
from shop_analytics.spark.scan_metrics import ScanRead, scans_of_statement


def lake_partitions(lake: Path, table: str) -> dict[dt.date, int]:
    """The lake table's event_date folders and the Parquet files in each, from the file system."""
    return {
        dt.date.fromisoformat(folder.name.split("=", 1)[1]): len(list(folder.glob("*.parquet")))
        for folder in (lake / table).glob("event_date=*")
    }


def _run(port: int, sql: str) -> None:
    from pyhive import hive  # requirements/spark.lock (`make spark`)

    connection = hive.connect(host="127.0.0.1", port=port)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        cursor.fetchall()
    finally:
        connection.close()


def _by_table(scans: list[ScanRead]) -> dict[str, ScanRead]:
    tables = [scan.table.rsplit(".", 1)[-1] for scan in scans]
    assert len(set(tables)) == len(tables), f"a table scanned more than once: {scans}"
    return dict(zip(tables, scans, strict=True))


def assert_event_date_filter_prunes(port: int, event_log: Path, lake: Path, view: str, tables: list[str]) -> None:
    """`view` filtered on one event_date reads only that folder of each of `tables`; unfiltered, all of them."""
    partitions = {table: lake_partitions(lake, table) for table in tables}
    common = set.intersection(*(set(days) for days in partitions.values()))
    assert common, f"{tables} share no event_date folder: pick another view or lake"
    day = max(common)
    marker = f"pruning check {view}"
    _run(port, f"/* {marker}: filtered */ select count(*) from staging.{view} where event_date = date '{day}'")
    _run(port, f"/* {marker}: control */ select count(*) from staging.{view}")
    files = event_log_files(event_log)
    filtered = _by_table(scans_of_statement(files, f"{marker}: filtered"))
    control = _by_table(scans_of_statement(files, f"{marker}: control"))
    assert set(filtered) == set(control) == set(tables), (view, filtered, control)
    for table in tables:
        on_day = partitions[table].get(day, 0)
        assert (filtered[table].partitions_read, filtered[table].files_read) == (int(on_day > 0), on_day), (
            view,
            table,
            filtered[table],
        )
        every = (len(partitions[table]), sum(partitions[table].values()))
        assert (control[table].partitions_read, control[table].files_read) == every, (view, table, control[table])
    assert all(len(days) > 1 for days in partitions.values()), "a lake of one day cannot show pruning"
