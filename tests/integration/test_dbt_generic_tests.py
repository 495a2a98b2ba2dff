"""The project's own generic dbt tests fail exactly where a plain Python check finds a violation."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from support.pipeline import BIN, ROOT, Warehouse

EPOCH = dt.date(1970, 1, 1)

# (model, key column, date column) of every unique_key_date test in the project.
KEY_DATE_GRAINS = [
    ("rpt_item_trends", "item_id", "view_date"),
    ("fct_same_day_repeat_purchases", "customer_id", "purchase_date"),
]


def _duplicate_blocks(rows: list[tuple[int | str, dt.date]]) -> set[tuple[int | str, int]]:
    """(key, 64-day block) of every (key, date) pair that occurs more than once."""
    return {(key, (day - EPOCH).days // 64) for (key, day), n in Counter(rows).items() if n > 1}


def _break_grain(con: duckdb.DuckDBPyConnection, model: str, key: str, date: str) -> None:
    """Add repeated (key, date) pairs, including one before 1970, and near misses that are not repeats."""
    table = f"marts.{model}"
    top = con.execute(f"SELECT max({key}) FROM {table}").fetchone()[0]
    # Two keys that exist nowhere yet: integer keys count up, text keys (customers) get a suffix.
    new_key, other_key = (top + 1, top + 2) if isinstance(top, int) else (f"{top}#1", f"{top}#2")
    # An existing row, twice.
    con.execute(f"INSERT INTO {table} SELECT * FROM {table} LIMIT 1")
    template = f"SELECT * REPLACE (? AS {key}, CAST(? AS DATE) AS {date}) FROM {table} LIMIT 1"
    for day in ["1969-12-31", "1969-12-31", "1970-01-01", "2018-01-01", "2018-03-06"]:
        con.execute(f"INSERT INTO {table} {template}", [new_key, day])
    # The same date under two keys is no repeat.
    con.execute(f"INSERT INTO {table} {template}", [other_key, "1969-12-31"])


@pytest.fixture(scope="module")
def broken_run(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A copy of the test warehouse with repeated (key, date) pairs, and dbt's run results of unique_key_date on it."""
    tmp = tmp_path_factory.mktemp("generic_tests")
    copy = tmp / "warehouse.duckdb"
    shutil.copy(warehouse.path, copy)
    with duckdb.connect(str(copy)) as con:
        for grain in KEY_DATE_GRAINS:
            _break_grain(con, *grain)
    env = {
        **warehouse.env,
        "SHOP_ANALYTICS_WAREHOUSE": str(copy),
        "SHOP_ANALYTICS_TEMP_DIR": str(tmp / "tmp"),
        "DBT_WRITE_JSON": "true",
    }
    result = subprocess.run(
        [
            str(BIN / "dbt"),
            "test",
            "--select",
            "test_name:unique_key_date",
            "--target-path",
            str(tmp / "target"),
            "--log-path",
            str(tmp / "logs"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout[-4000:]  # dbt's exit code for failing tests
    return copy, json.loads((tmp / "target" / "run_results.json").read_text())


@pytest.mark.parametrize(("model", "key", "date"), KEY_DATE_GRAINS)
def test_unique_key_date_fails_on_every_repeated_pair(
    broken_run: tuple[Path, dict], model: str, key: str, date: str
) -> None:
    copy, run_results = broken_run
    with duckdb.connect(str(copy), read_only=True) as con:
        rows = con.execute(f"SELECT {key}, {date} FROM marts.{model}").fetchall()
    expected = _duplicate_blocks(rows)
    assert len(expected) == 2  # the copied row and the pre-1970 pair; the near misses add none
    prefix = f"test.shop_analytics.unique_key_date_{model}_"
    [result] = [r for r in run_results["results"] if r["unique_id"].startswith(prefix)]
    assert result["status"] == "fail"
    assert result["failures"] == len(expected)
