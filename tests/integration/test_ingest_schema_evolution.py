"""Schema evolution end to end: landing -> gate -> lake -> dbt staging (and every model/test dbt builds).

An accepted new nullable column and an accepted widening reach staging without any
model edit; a batch in the old shape landed after them is still admitted
(BACKWARD_TRANSITIVE), and the lake holding both shapes reads through union_by_name;
`dbt build` (all models, enforced mart contracts, all data tests) still passes; a
rejected batch (removed column) never reaches the lake or staging.

The warehouse was built before the new shapes landed, so that `dbt build` is incremental: the
incremental models consume the evolved batches without `--full-refresh` (the new column stops at
staging: the marts' enforced contracts name their columns, docs/incremental.md), and their tables
equal those of a fresh build of the same lake.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest import ingest
from shop_analytics.quality.raw_contract import COMPLETION_MARKER
from shop_analytics.settings import DataLayout
from support.engine_parity import assert_same_rows, duckdb_table
from support.pipeline import dbt_env, ingest_settings, run_dbt

# Every incremental model and the models it reads.
INCREMENTAL_AND_UPSTREAM = "+config.materialized:incremental"


@pytest.mark.slow
def test_accepted_changes_reach_staging_and_rejected_batches_do_not(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    generate(
        # Six monthly batches per source (July to December 2018) are history enough for the new shapes.
        GeneratorConfig(
            scale=0.002, seed=3, dirty_rate=0.0, late_rate=0.0, legacy_purchases=True, start=dt.date(2018, 7, 1)
        ),
        layout.landing,
        progress=False,
    )
    settings = ingest_settings()
    ingest(layout, settings)
    warehouse = tmp_path / "warehouse.duckdb"
    env = dbt_env(layout, warehouse)
    # The history, before any new shape: the incremental models and what they read.
    run_dbt(["run", "--select", INCREMENTAL_AND_UPSTREAM], env, tmp_path)
    clean = pq.read_table(sorted((layout.landing / "purchases").glob("*/*.parquet"))[-1])
    offset = 10_000_000  # new event ids, so nothing is a duplicate
    fresh = clean.set_column(0, "purchase_id", pa.array([offset + i for i in range(clean.num_rows)], pa.int64()))

    evolved = fresh.append_column("coupon_code", pa.array(["SPRING"] * fresh.num_rows))
    i = evolved.schema.get_field_index("quantity")
    evolved = evolved.set_column(i, "quantity", evolved.column(i).cast(pa.int64()))  # widening
    _land(layout, "2019-01-01", evolved)
    _land(layout, "2019-02-01", fresh.drop_columns(["amount"]))  # removed column: rejected
    reports = {r.batch_id: r for r in ingest(layout, settings) if r.status != "skipped"}
    # v1 and v2 (text keys) are the maintainers' versions: the evolved shape becomes v3.
    assert reports["2019-01-01"].status == "ingested" and reports["2019-01-01"].contract_version == 3
    assert reports["2019-02-01"].status == "rejected"
    # A producer still on the old shape after v3 was registered: admitted as v2, not rejected.
    old_shape = fresh.set_column(
        0, "purchase_id", pa.array([2 * offset + i for i in range(fresh.num_rows)], pa.int64())
    )
    _land(layout, "2019-03-01", old_shape)
    late = [r for r in ingest(layout, settings) if r.status != "skipped"]
    assert [(r.batch_id, r.status, r.contract_version, r.rows_admitted) for r in late] == [
        ("2019-03-01", "ingested", 2, fresh.num_rows)
    ]

    run_dbt(["build"], env, tmp_path)  # incremental: no --full-refresh
    rebuilt = tmp_path / "rebuilt" / "warehouse.duckdb"
    rebuilt.parent.mkdir()
    run_dbt(["run", "--select", INCREMENTAL_AND_UPSTREAM], dbt_env(layout, rebuilt), rebuilt.parent)
    # The incremental models and the tables they read, as the fresh build made them.
    tables = _watermarked_tables(rebuilt)
    assert {"marts.fct_order_lines", "intermediate.int_page_views__accumulated_to_user_items"} <= set(tables), tables
    for relation in tables:
        assert_same_rows(
            relation, duckdb_table(rebuilt, relation), duckdb_table(warehouse, relation), ("fresh", "incremental")
        )
    con = duckdb.connect(str(warehouse), read_only=True)
    coupons = con.execute(
        "SELECT coupon_code, count(*) FROM staging.stg_shop__purchases "
        "WHERE purchase_id >= ? GROUP BY ALL ORDER BY ALL",
        [offset],
    ).fetchall()
    # v2's rows carry the coupon, the later v1 batch's read it as NULL; the 2019-02 batch's rows are not there.
    assert coupons == [("SPRING", fresh.num_rows), (None, fresh.num_rows)]
    older = con.execute(
        "SELECT count(*) FROM staging.stg_shop__purchases WHERE purchase_id < ? AND coupon_code IS NOT NULL", [offset]
    ).fetchone()[0]
    assert older == 0  # earlier batches read the new column as NULL
    assert con.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'staging' "
        "AND table_name = 'stg_shop__purchases' AND column_name = 'quantity'"
    ).fetchone() == ("INTEGER",)


def _watermarked_tables(warehouse: Path) -> list[str]:
    """schema.table of every model stored as a table that records a watermark in `warehouse`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT t.table_schema || '.' || t.table_name FROM _shop_meta.incremental_state s "
            "JOIN information_schema.tables t ON t.table_name = s.model "
            "AND t.table_schema IN ('intermediate', 'marts') AND t.table_type = 'BASE TABLE' ORDER BY 1"
        ).fetchall()
    return [relation for (relation,) in rows]


def _land(layout: DataLayout, batch: str, table: pa.Table) -> None:
    folder = layout.landing / "purchases" / f"batch_date={batch}"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-00000.parquet")
    (folder / COMPLETION_MARKER).touch()
