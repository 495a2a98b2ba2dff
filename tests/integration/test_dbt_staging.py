"""dbt builds the staging layer over the lake, every dbt test passes, and counts reconcile."""

from __future__ import annotations

import subprocess

import duckdb
import pytest

from support.pipeline import BIN, Warehouse

FACTS = {"page_views": "stg_shop__page_views", "purchases": "stg_shop__purchases", "ratings": "stg_shop__ratings"}


@pytest.mark.parametrize("source", sorted(FACTS))
def test_staging_keeps_every_admitted_row_and_flags_late_ones(warehouse: Warehouse, source: str) -> None:
    entry = warehouse.pipeline.manifest["sources"][source]
    counts = entry["counts"]
    defects = sum(
        v
        for k, v in counts.items()
        if k not in ("anonymous_views", "same_day_repeat_rows", "revision_rows", "late_arriving")
    )
    con = duckdb.connect(str(warehouse.path), read_only=True)
    rows, late = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE is_late_arriving) FROM staging.{FACTS[source]}"
    ).fetchone()
    assert rows == entry["rows"] - defects
    assert late == counts["late_arriving"] > 0


def test_staging_dimensions_have_every_entity(warehouse: Warehouse) -> None:
    con = duckdb.connect(str(warehouse.path), read_only=True)
    for source in ("users", "items"):
        rows = con.execute(f"SELECT count(*) FROM staging.stg_shop__{source}").fetchone()[0]
        assert rows == warehouse.pipeline.manifest["sources"][source]["rows"]


def test_duckdb_shell_opens_the_warehouse(warehouse: Warehouse) -> None:
    # The real `duckdb` binary from the environment, the one the README tells users to run.
    result = subprocess.run(
        [
            str(BIN / "duckdb"),
            "-readonly",
            "-csv",
            "-noheader",
            str(warehouse.path),
            "-c",
            "SELECT count(*) FROM staging.stg_shop__page_views WHERE is_authenticated;",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    con = duckdb.connect(str(warehouse.path), read_only=True)
    expected = con.execute("SELECT count(*) FROM staging.stg_shop__page_views WHERE is_authenticated").fetchone()[0]
    assert int(result.stdout.strip()) == expected > 0
    version = subprocess.run([str(BIN / "duckdb"), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.split()[0].lstrip("v") == duckdb.__version__
