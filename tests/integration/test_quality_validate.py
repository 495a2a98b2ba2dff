"""validate_batch on generated dirty data: GX reasons == SQL reasons == generator manifest."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.datagen.config import DIRTY_KINDS
from shop_analytics.quality.batch import batch_files, create_batch_view
from shop_analytics.quality.data_docs import build_data_docs
from shop_analytics.quality.gx_duckdb import new_context
from shop_analytics.quality.raw_contract import PAGE_VIEWS, PURCHASES, RATINGS, USERS
from shop_analytics.quality.rules import RuleParams
from shop_analytics.quality.validate import GxExecutionError, validate_batch

TODAY = dt.date(2026, 11, 20)
GENERATED_FACTS = (PAGE_VIEWS, PURCHASES, RATINGS)  # the sources the (v1) generator writes


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("landing") / "landing"
    manifest = generate(GeneratorConfig(scale=0.02, seed=7, dirty_rate=0.1, legacy_purchases=True), out, progress=False)
    return out, manifest


@pytest.fixture()
def con(landing: tuple[Path, dict]) -> duckdb.DuckDBPyConnection:
    out, _ = landing
    con = duckdb.connect()
    create_batch_view(con, "known_users", batch_files(next((out / "users").iterdir())))
    create_batch_view(con, "known_items", batch_files(next((out / "items").iterdir())))
    return con


def _params(**overrides: object) -> RuleParams:
    # The generator's out-of-range timestamps assume the v1 window, which started in 2000.
    base = {
        "today": TODAY,
        "earliest": dt.datetime(2000, 1, 1),
        "known_users": "known_users",
        "known_items": "known_items",
    }
    return RuleParams(**{**base, **overrides})  # type: ignore[arg-type]  # overrides are any RuleParams fields


@pytest.mark.parametrize("source", GENERATED_FACTS, ids=lambda s: s.name)
def test_gx_and_sql_reasons_agree_row_by_row_and_match_the_manifest(source, landing, con) -> None:
    out, manifest = landing
    create_batch_view(con, "batch", sorted((out / source.name).glob("*/*.parquet")))
    by_gx = validate_batch(con, "batch", source, _params(), row_reasons="gx", reasons_table="by_gx")
    by_sql = validate_batch(con, "batch", source, _params(), row_reasons="sql", reasons_table="by_sql")

    assert by_gx.reasons(con).equals(by_sql.reasons(con))
    assert by_gx.counts_by_reason == by_sql.counts_by_reason
    expected = {k: v for k, v in manifest["sources"][source.name]["counts"].items() if k in DIRTY_KINDS and v}
    assert by_gx.counts_by_kind() == expected
    assert not by_gx.success
    assert by_gx.row_count == manifest["sources"][source.name]["rows"]
    # The generator gives each dirty row exactly one defect.
    assert by_gx.failed_rows == sum(expected.values())


def test_single_batch_folder_validates(landing, con) -> None:
    out, manifest = landing
    batch_dir = sorted((out / "purchases").iterdir())[5]
    create_batch_view(con, "one_batch", batch_files(batch_dir))
    result = validate_batch(con, "one_batch", PURCHASES, _params())
    assert result.row_count == manifest["sources"]["purchases"]["batches"][batch_dir.name.split("=")[1]]
    assert result.failed_rows == len(set(result.reasons(con).column("__gate_row_number").to_pylist()))


def test_country_codes_are_never_judged_by_the_gate(landing, con) -> None:
    out, _ = landing
    create_batch_view(con, "users_raw", batch_files(next((out / "users").iterdir())))
    # Unknown and missing countries are attributes the warehouse flags (contract v2): no rule looks at them.
    con.execute(
        "CREATE VIEW users_batch AS SELECT * REPLACE (CASE WHEN user_id % 2 = 0 THEN 'Narnia' END AS country_code) "
        "FROM users_raw"
    )
    result = validate_batch(con, "users_batch", USERS, _params())
    assert result.success and result.failed_rows == 0


def test_row_number_follows_file_order(tmp_path: Path, landing) -> None:
    out, _ = landing
    files = sorted((out / "page_views").glob("*/*.parquet"))[:3]
    con = duckdb.connect()
    create_batch_view(con, "three", files)
    ids = [i for f in files for i in pq.read_table(f, columns=["page_view_id"]).column(0).to_pylist()]
    rows = con.execute("SELECT __gate_row_number, page_view_id FROM three ORDER BY __gate_row_number").fetchall()
    assert [r[0] for r in rows] == list(range(len(ids)))
    assert [r[1] for r in rows] == ids


def _tiny(con: duckdb.DuckDBPyConnection, rows: str) -> None:
    con.execute(f"""CREATE OR REPLACE VIEW tiny AS SELECT * FROM (VALUES {rows})
        t(__gate_row_number, purchase_id, purchased_at, user_id, item_id, quantity, amount)""")
    con.execute("CREATE OR REPLACE VIEW users_known AS SELECT * FROM (VALUES (1), (2)) t(user_id)")
    con.execute("CREATE OR REPLACE VIEW items_known AS SELECT * FROM (VALUES (10), (20)) t(item_id)")


@pytest.mark.parametrize("mode", ["gx", "sql"])
def test_time_window_bounds_and_several_reasons_per_row(mode: str) -> None:
    con = duckdb.connect()
    _tiny(
        con,
        """
        (0, 1, TIMESTAMP '1999-12-31 23:59:59.999999', 1, 10, 1, 5.0),
        (1, 2, TIMESTAMP '2000-01-01 00:00:00', 1, 10, 1, 5.0),
        (2, 3, TIMESTAMP '2026-11-20 23:59:59', 2, 20, 1, 5.0),
        (3, 4, TIMESTAMP '2026-11-21 00:00:00', 2, 20, 1, 5.0),
        (4, 5, TIMESTAMP '2100-01-01 00:00:00', NULL, 99, 0, 0.0),
        (5, 2, TIMESTAMP '2010-01-01 00:00:00', 3, 10, 1, 0.01)""",
    )
    window = dt.datetime(2000, 1, 1)  # ingest.yml's `earliest` (the default is 1970-01-01)
    params = RuleParams(today=TODAY, earliest=window, known_users="users_known", known_items="items_known")
    result = validate_batch(con, "tiny", PURCHASES, params, row_reasons=mode)
    assert [(r["__gate_row_number"], r["reason"]) for r in result.reasons(con).to_pylist()] == [
        (0, "timestamp_out_of_range:purchased_at"),
        (3, "timestamp_out_of_range:purchased_at"),
        (4, "invalid_value:amount"),
        (4, "invalid_value:quantity"),
        (4, "null_key:user_id"),
        (4, "timestamp_out_of_range:purchased_at"),
        (4, "unknown_item:item_id"),
        (5, "duplicate_event_id:purchase_id"),
        (5, "unknown_user:user_id"),
    ]
    assert result.failed_rows == 4


def test_reference_checks_are_skipped_without_known_ids() -> None:
    con = duckdb.connect()
    _tiny(con, "(0, 1, TIMESTAMP '2010-01-01', 777, 888, 1, 5.0)")
    result = validate_batch(con, "tiny", PURCHASES, RuleParams(today=TODAY))
    assert result.success and result.failed_rows == 0
    assert not any(o.reason.startswith("unknown_") for o in result.outcomes)


def test_gx_failure_to_compute_is_an_error_not_a_verdict() -> None:
    con = duckdb.connect()
    # The columns the check table derives from exist; the ones GX checks directly do not.
    con.execute(
        "CREATE VIEW broken AS SELECT range AS __gate_row_number, range AS purchase_id, 1.0 AS amount, "
        "'u' AS user_id, 'i' AS item_id FROM range(3)"
    )
    with pytest.raises(GxExecutionError, match="GX could not evaluate"):
        validate_batch(con, "broken", PURCHASES, RuleParams(today=TODAY))


def test_data_docs_site_is_written(tmp_path: Path) -> None:
    con = duckdb.connect()
    _tiny(con, "(0, 1, TIMESTAMP '2010-01-01', 1, 10, 1, -5.0)")
    context = new_context()
    validate_batch(con, "tiny", PURCHASES, RuleParams(today=TODAY), context=context)
    index = build_data_docs(context, tmp_path / "data_docs")
    assert index == (tmp_path / "data_docs" / "index.html").resolve()
    pages = list((tmp_path / "data_docs" / "validations").rglob("*.html"))
    assert len(pages) == 1
    assert "amount" in pages[0].read_text()
    assert "purchases__tiny" in index.read_text()


def test_summary_is_json_ready_and_no_progress_bars(capsys: pytest.CaptureFixture[str]) -> None:
    con = duckdb.connect()
    _tiny(con, "(0, 1, TIMESTAMP '2010-01-01', 1, 10, 1, -5.0), (1, 2, TIMESTAMP '2010-01-01', 1, 10, 1, 5.0)")
    result = validate_batch(con, "tiny", PURCHASES, RuleParams(today=TODAY))
    summary = json.loads(json.dumps(result.summary()))
    assert summary["counts_by_reason"] == {"invalid_value:amount": 1}
    assert summary["row_count"] == 2 and summary["failed_rows"] == 1 and summary["success"] is False
    assert summary["gx_statistics"]["unsuccessful_expectations"] == 1
    assert "Calculating Metrics" not in capsys.readouterr().err


def test_temp_relations_work_but_files_and_missing_row_numbers_are_refused(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TEMP VIEW t AS SELECT range AS __gate_row_number, range AS user_id, 'US' AS country_code, "
        "TIMESTAMP '2010-01-01' AS signup_at FROM range(3)"
    )
    assert validate_batch(con, "t", USERS, RuleParams(today=TODAY)).success
    con.execute("CREATE VIEW no_rows AS SELECT 1 AS user_id")
    with pytest.raises(ValueError, match="no __gate_row_number column"):
        validate_batch(con, "no_rows", USERS, RuleParams(today=TODAY))
    on_file = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    on_file.execute("CREATE VIEW t AS SELECT 1 AS __gate_row_number")
    with pytest.raises(ValueError, match="in-memory DuckDB connection"):
        validate_batch(on_file, "t", USERS, RuleParams(today=TODAY))
