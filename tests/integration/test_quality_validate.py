"""validate_batch on generated dirty data: GX reasons == SQL reasons == generator manifest.

Batches are read the way ingest reads them (ingest.reading.load_batch: contract v1 integer
keys become their decimal text, the epoch-second CSV source becomes TIMESTAMPs) and a
source's batches are stacked into one group, each batch a range of row numbers with its
own __gate_batch, as the ingest runner validates them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest.batches import LandingBatch, discover
from shop_analytics.ingest.reading import ReadOptions, load_batch
from shop_analytics.quality.batch import batch_files, create_batch_view
from shop_analytics.quality.contracts import check_schema, initial_contract
from shop_analytics.quality.currencies import load_currencies
from shop_analytics.quality.data_docs import build_data_docs
from shop_analytics.quality.gx_duckdb import new_context
from shop_analytics.quality.keys import key_text_sql
from shop_analytics.quality.money import MAX_SCALE
from shop_analytics.quality.namespace import GATE_BATCH, GATE_KEY, ROW_NUMBER
from shop_analytics.quality.raw_contract import (
    ORDER_LINES,
    PAGE_VIEWS,
    PURCHASES,
    RATINGS,
    SALE,
    USERS,
    Source,
)
from shop_analytics.quality.rules import RuleParams
from shop_analytics.quality.validate import GxExecutionError, validate_batch
from shop_analytics.settings import SourceIngestSettings, batch_settings
from shop_analytics.sql import quote_ident

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 11, 20)
# The fact sources the generator injects row-level defects into (purchases: the legacy v1 source).
GENERATED_FACTS = (PAGE_VIEWS, PURCHASES, RATINGS, ORDER_LINES)


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
    currencies = load_currencies(ROOT / "seeds" / "currencies.csv")
    con.execute("CREATE TABLE currencies (currency VARCHAR, minor_units INTEGER)")
    con.execute(
        "INSERT INTO currencies SELECT unnest(?::VARCHAR[]), unnest(?::INTEGER[])",
        [list(currencies), [MAX_SCALE if u is None else u for u in currencies.values()]],
    )
    return con


def _read_options(batch: LandingBatch) -> ReadOptions:
    """The batch's timestamp format and zone: the defaults with its _batch.yml applied (as ingest does)."""
    options = SourceIngestSettings()
    if batch.settings_file is not None:
        options = batch_settings(options, batch.settings_file.read_bytes(), str(batch.settings_file))
    return ReadOptions(options.timestamp_format, options.time_zone)


def _load_group(
    con: duckdb.DuckDBPyConnection, batches: list[LandingBatch], source: Source, name: str
) -> tuple[str, ...]:
    """Table `name`: `batches` read as ingest reads them, stacked in order; return the reader's cast columns."""
    contract = initial_contract(source)
    parts, offset, cast = [], 0, ()
    for i, batch in enumerate(batches):
        loaded = load_batch(con, batch, f"{name}__{i}", contract, _read_options(batch))
        assert check_schema(contract, loaded.columns).accepted, batch.folder
        cast = loaded.cast_columns
        parts.append(
            f"SELECT * REPLACE ({ROW_NUMBER} + {offset} AS {ROW_NUMBER}), {i} AS {GATE_BATCH} "
            f"FROM {quote_ident(loaded.name)}"
        )
        offset += con.execute(f"SELECT count(*) FROM {quote_ident(loaded.name)}").fetchone()[0]
    union = " UNION ALL BY NAME ".join(parts)
    if source.composite_key:  # the gate judges duplicates of a composite key on its exact text
        union = f"SELECT *, {key_text_sql(source)} AS {GATE_KEY} FROM ({union})"
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(name)} AS {union}")
    return cast


def _known_orders(con: duckdb.DuckDBPyConnection, group: str, first_batch: int = 0) -> str:
    """Table known_orders: an order is known from the batch of its first sale line on (the manifest's notion).

    `first_batch` is the group's batch that is validated as batch 0.
    """
    con.execute(
        f"CREATE OR REPLACE TABLE known_orders AS SELECT order_id, min({GATE_BATCH}) - ? AS first_batch "
        f"FROM {quote_ident(group)} WHERE line_type = ? AND order_id IS NOT NULL GROUP BY order_id",
        [first_batch, SALE],
    )
    return "known_orders"


def _params(source: Source, cast_columns: tuple[str, ...] = (), **overrides: object) -> RuleParams:
    # Ingest's default window (1970-01-01 on); the generator's out-of-range times are 1969-12-31 and 2100-01-01.
    base = {
        "today": TODAY,
        "known_users": "known_users",
        "known_items": "known_items",
        "cast_columns": cast_columns,
        "currencies": "currencies",
        "known_orders": "known_orders" if source is ORDER_LINES else None,
    }
    return RuleParams(**{**base, **overrides})  # type: ignore[arg-type]  # overrides are any RuleParams fields


@pytest.mark.parametrize("source", GENERATED_FACTS, ids=lambda s: s.name)
def test_gx_and_sql_reasons_agree_row_by_row_and_match_the_manifest(source, landing, con) -> None:
    out, manifest = landing
    entry = manifest["sources"][source.name]
    cast = _load_group(con, discover(out, source), source, "batch")
    if source is ORDER_LINES:
        _known_orders(con, "batch")
    by_gx = validate_batch(con, "batch", source, _params(source, cast), row_reasons="gx", reasons_table="by_gx")
    by_sql = validate_batch(con, "batch", source, _params(source, cast), row_reasons="sql", reasons_table="by_sql")

    assert by_gx.reasons(con).equals(by_sql.reasons(con))
    assert by_gx.counts_by_reason == by_sql.counts_by_reason
    expected = {kind: n for kind, n in entry["dirty"].items() if n}
    assert expected and by_gx.rows_by_kind(con) == expected
    assert not by_gx.success
    assert by_gx.row_count == entry["rows"]
    # The generator gives each dirty row exactly one defect.
    assert by_gx.failed_rows == sum(expected.values())


@pytest.mark.parametrize("source", [PURCHASES, ORDER_LINES], ids=lambda s: s.name)
def test_single_batch_folder_validates(source, landing, con) -> None:
    out, manifest = landing
    batches = discover(out, source)
    k = 5
    cast = _load_group(con, batches, source, "all_batches")
    _load_group(con, [batches[k]], source, "one_batch")
    if source is ORDER_LINES:  # an order is known from the batch of its first sale line on
        _known_orders(con, "all_batches")
    whole = validate_batch(con, "all_batches", source, _params(source, cast), reasons_table="whole")
    lo = con.execute(f"SELECT min({ROW_NUMBER}) FROM all_batches WHERE {GATE_BATCH} = ?", [k]).fetchone()[0]
    if source is ORDER_LINES:  # alone, the orders of the batches before it are known as if in the lake
        _known_orders(con, "all_batches", first_batch=k)
    result = validate_batch(con, "one_batch", source, _params(source, cast))

    assert result.row_count == manifest["sources"][source.name]["batches"][batches[k].batch_id]
    # Alone or among the other batches, every row of the batch gets the same reasons.
    alone = con.execute(f"SELECT {ROW_NUMBER}, reason FROM {result.reasons_table} ORDER BY ALL").fetchall()
    among = con.execute(
        f"SELECT {ROW_NUMBER} - ?, reason FROM whole WHERE {ROW_NUMBER} BETWEEN ? AND ? ORDER BY ALL",
        [lo, lo, lo + result.row_count - 1],
    ).fetchall()
    assert alone == among and result.failed_rows > 0
    assert whole.failed_rows > result.failed_rows


def test_country_codes_are_never_judged_by_the_gate(landing, con) -> None:
    out, manifest = landing
    create_batch_view(con, "users_raw", batch_files(next((out / "users").iterdir())))
    # Unknown and missing countries are attributes the warehouse resolves and flags (contract v2,
    # seeds/countries.csv): no gate rule looks at them. The generated users already hold aliases,
    # alpha-3 codes, unknown names and gaps; half of them become a fantasy country, half NULL.
    assert manifest["sources"]["users"]["truth"]["country_unknown"] > 0
    con.execute(
        f"CREATE VIEW users_batch AS SELECT * REPLACE "
        f"(CASE WHEN {ROW_NUMBER} % 2 = 0 THEN 'Narnia' END AS country_code) FROM users_raw"
    )
    result = validate_batch(con, "users_batch", USERS, _params(USERS))
    assert result.row_count == manifest["sources"]["users"]["rows"]
    assert result.success and result.failed_rows == 0
    assert not any(o.column == "country_code" for o in result.outcomes)


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
