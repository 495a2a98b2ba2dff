"""Build selected marts with dbt over a given lake and read them back as Python rows."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from shop_analytics.settings import DataLayout
from support.pipeline import dbt_env, run_dbt_together


def build_per_zone(lake_root: Path, args: list[str], dbt_vars: dict, zones: list[ZoneInfo]) -> dict[str, Path]:
    """`dbt <args> --vars <dbt_vars with timezone>` over `lake_root`/lake once per zone, each in a fresh folder
    and warehouse of its own (lake_root/dbt_<zone>), the runs side by side: zone key -> warehouse path."""
    runs = {}
    for zone in zones:
        work = lake_root / f"dbt_{zone.key.replace('/', '_')}"
        work.mkdir(exist_ok=True)
        env = dbt_env(DataLayout(lake_root), work / "warehouse.duckdb")
        runs[zone.key] = ([*args, "--vars", json.dumps({**dbt_vars, "timezone": zone.key})], env, work)
    run_dbt_together(list(runs.values()))
    return {key: work / "warehouse.duckdb" for key, (_, _, work) in runs.items()}


def build_marts(lake_root: Path, models: list[str], dbt_vars: dict, zones: list[ZoneInfo]) -> dict[str, Path]:
    """The seeds and models among `models` and their parents, no tests, per zone (build_per_zone)."""
    selection = " ".join(f"+{model}" for model in models)
    # What `dbt seed` then `dbt run --select` would build (the reference data the marts join, such as
    # countries and aliases, are their parents), in one dbt process: one start-up and one parse, not two.
    return build_per_zone(
        lake_root,
        ["build", "--select", selection, "--resource-type", "seed", "--resource-type", "model"],
        dbt_vars,
        zones,
    )


def read_rows(warehouse: Path, model: str) -> list[tuple]:
    """All rows of marts.<model> in the table's stored order."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"SELECT * FROM marts.{model}").fetchall()


def assert_same_rows(actual: list[tuple], expected: list[tuple]) -> None:
    """The same rows with the same multiplicities, in any order; shows a few differences on failure."""
    missing, extra = Counter(expected) - Counter(actual), Counter(actual) - Counter(expected)
    assert not missing and not extra, f"missing: {list(missing)[:5]}\nextra: {list(extra)[:5]}"
    assert len(actual) == len(expected)
