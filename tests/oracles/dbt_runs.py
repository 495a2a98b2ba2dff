"""Build selected marts with dbt over a given lake and read them back as Python rows."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import duckdb

from shop_analytics.settings import DataLayout
from support.pipeline import dbt_env, run_dbt


def build_marts(lake_root: Path, models: list[str], dbt_vars: dict) -> Path:
    """`dbt seed` and `dbt run` of `models` and their parents over `lake_root`/lake in a fresh warehouse; its path."""
    work = lake_root / ("dbt_" + hashlib.sha1(json.dumps([models, dbt_vars], sort_keys=True).encode()).hexdigest()[:12])
    work.mkdir(parents=True, exist_ok=True)
    warehouse = work / "warehouse.duckdb"
    env = dbt_env(DataLayout(lake_root), warehouse)
    selection = " ".join(f"+{model}" for model in models)
    run_dbt(["seed"], env, work)  # reference data (countries, aliases) the marts join
    run_dbt(["run", "--select", selection, "--vars", json.dumps(dbt_vars)], env, work)
    return warehouse


def read_rows(warehouse: Path, model: str) -> list[tuple]:
    """All rows of marts.<model> in the table's stored order."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"SELECT * FROM marts.{model}").fetchall()


def assert_same_rows(actual: list[tuple], expected: list[tuple]) -> None:
    """The same rows with the same multiplicities, in any order; shows a few differences on failure."""
    missing, extra = Counter(expected) - Counter(actual), Counter(actual) - Counter(expected)
    assert not missing and not extra, f"missing: {list(missing)[:5]}\nextra: {list(extra)[:5]}"
    assert len(actual) == len(expected)
