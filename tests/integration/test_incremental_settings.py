"""An incremental run under other values of the vars baked into stored rows stops and asks for a full refresh."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from support.pipeline import Warehouse, run_dbt, run_dbt_unchecked

MODEL = "fct_orders"


def _state(copy: Path) -> tuple[int, dict | None]:
    with duckdb.connect(str(copy), read_only=True) as con:
        consumed, settings = con.execute(
            "select consumed_through, settings from _shop_meta.incremental_state where model = ?", [MODEL]
        ).fetchone()
    return consumed, json.loads(settings) if settings is not None else None


def _orders(copy: Path) -> list[tuple]:
    with duckdb.connect(str(copy), read_only=True) as con:
        return con.execute(f"select * from marts.{MODEL} order by order_id").fetchall()


def test_a_changed_var_stops_the_incremental_run(warehouse: Warehouse, tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(warehouse.path, copy)
    env = {**warehouse.env, "SHOP_ANALYTICS_WAREHOUSE": str(copy), "SHOP_ANALYTICS_TEMP_DIR": str(tmp_path / "tmp")}
    consumed, settings = _state(copy)
    assert settings == {
        "derivation": "2",
        "deduplicate_lake_events": "False",
        "fx_max_staleness_days": "7",
        "legacy_purchase_currency": "USD",
        "popularity_since": "2017-01-01",
        "reporting_currency": "USD",
        "timezone": "UTC",
    }
    orders = _orders(copy)

    # Another reporting currency: the model refuses, names the var, and changes nothing.
    refused = run_dbt_unchecked(["run", "--select", MODEL, "--vars", "{reporting_currency: EUR}"], env, tmp_path)
    assert refused.returncode == 1, refused.stdout[-3000:]
    assert 'reporting_currency: "USD" -> "EUR"' in refused.stdout
    assert f"dbt build --full-refresh --select {MODEL}+" in refused.stdout
    assert _state(copy) == (consumed, settings)
    assert _orders(copy) == orders

    # The same values, spelled as text on the command line, are the same settings.
    run_dbt(["run", "--select", MODEL, "--vars", "{fx_max_staleness_days: '7'}"], env, tmp_path)
    assert _state(copy) == (consumed, settings)

    # State from before settings were recorded (NULL) predates derivation 2 (order ids of migrated purchases,
    # full-digit rates): refused until a full refresh, which records the run's values.
    with duckdb.connect(str(copy)) as con:
        con.execute("update _shop_meta.incremental_state set settings = null")
    refused = run_dbt_unchecked(["run", "--select", MODEL], env, tmp_path)
    assert refused.returncode == 1 and 'derivation: "1" -> "2")' in refused.stdout, refused.stdout[-3000:]
    run_dbt(["run", "--select", MODEL, "--full-refresh", "--vars", "{reporting_currency: EUR}"], env, tmp_path)
    assert _state(copy) == (consumed, {**settings, "reporting_currency": "EUR"})


def test_the_trend_window_is_a_setting_of_the_trends_alone(warehouse: Warehouse, tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(warehouse.path, copy)
    env = {**warehouse.env, "SHOP_ANALYTICS_WAREHOUSE": str(copy), "SHOP_ANALYTICS_TEMP_DIR": str(tmp_path / "tmp")}
    with duckdb.connect(str(copy), read_only=True) as con:
        (stored,) = con.execute(
            "select settings from _shop_meta.incremental_state where model = 'rpt_item_trends'"
        ).fetchone()
    assert {k: v for k, v in json.loads(stored).items() if k.startswith("trend")} == {
        "trend_window_days": "7",
        "trends_since": "2018-01-01",
    }
    wider = "{trend_window_days: 14}"
    refused = run_dbt_unchecked(["run", "--select", "rpt_item_trends", "--vars", wider], env, tmp_path)
    assert refused.returncode == 1, refused.stdout[-3000:]
    assert 'trend_window_days: "7" -> "14"' in refused.stdout
    assert "dbt build --full-refresh --select rpt_item_trends+" in refused.stdout
    # The other incremental models do not depend on it.
    run_dbt(["run", "--select", MODEL, "--vars", wider], env, tmp_path)
