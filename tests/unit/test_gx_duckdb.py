"""GX 1.24.1 on DuckDB through duckdb-engine: the empty-results bug, its fix, and the version pin."""

from __future__ import annotations

import duckdb
import great_expectations as gx
import pytest
import sqlalchemy as sa

from shop_analytics.quality.gx_duckdb import (
    SHIM_WRITTEN_FOR,
    DuckDBExecutionEngine,
    engine_kwargs,
    installed_versions,
    version_drift,
)

# A known-bad batch: 100 rows, every 10th v is NULL, every 7th w is out of 0..50,
# every 4th country is not accepted.
BAD_BATCH = """
CREATE VIEW bad AS
SELECT range AS id, CASE WHEN range % 10 = 0 THEN NULL ELSE range END AS v,
       CASE WHEN range % 7 = 0 THEN 99 ELSE 1 END AS w,
       CASE WHEN range % 4 = 0 THEN 'XX' ELSE 'US' END AS country
FROM range(100)
"""
EXPECTED_UNEXPECTED = {
    "expect_column_values_to_not_be_null": 10,
    "expect_column_values_to_be_between": 15,  # w: range % 7 == 0 for 0..99
    "expect_column_values_to_be_in_set": 25,
}


def _expectations() -> list:
    return [
        gx.expectations.ExpectColumnValuesToNotBeNull(column="v"),
        gx.expectations.ExpectColumnValuesToBeBetween(column="w", min_value=0, max_value=50),
        gx.expectations.ExpectColumnValuesToBeInSet(column="country", value_set=["US", "GB"]),
    ]


def _run(add_datasource: str, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    ctx = gx.get_context(mode="ephemeral")
    ds = getattr(ctx.data_sources, add_datasource)(
        name="d", connection_string="duckdb:///:memory:", kwargs=engine_kwargs(con)
    )
    batch = ds.add_table_asset(name="bad", table_name="bad").add_batch_definition_whole_table("all").get_batch()
    suite = gx.ExpectationSuite(name="s", expectations=_expectations())
    result = batch.validate(suite, result_format="BASIC")
    return {r.expectation_config.type: r.result.get("unexpected_count") for r in result.results}


@pytest.fixture()
def bad_con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(BAD_BATCH)
    return con


def test_shim_versions_are_pinned() -> None:
    drift = version_drift()
    assert not drift, (
        "The GX/DuckDB shim in shop_analytics/quality/gx_duckdb.py was written for "
        f"{SHIM_WRITTEN_FOR} (SQLAlchemy 2.0.x); installed: {installed_versions()}. Differences: {drift}. "
        "Before updating SHIM_WRITTEN_FOR: re-read SqlAlchemyExecutionEngine.execute_query/get_connection "
        "and duckdb_engine.CursorWrapper, run tests/unit/test_gx_duckdb.py, and check whether "
        "test_stock_engine_still_returns_empty_results now fails (upstream fixed: the shim may go)."
    )


def test_known_bad_batch_gives_exact_unexpected_counts_through_gx(bad_con: duckdb.DuckDBPyConnection) -> None:
    assert _run("add_duckdb_batch", bad_con) == EXPECTED_UNEXPECTED


def test_stock_engine_still_returns_empty_results(bad_con: duckdb.DuckDBPyConnection) -> None:
    # Same pool and connection, stock SqlAlchemyExecutionEngine: the bug the shim works around.
    # If this fails after an upgrade, upstream fixed it and gx_duckdb.py may be removable.
    counts = _run("add_sql", bad_con)
    assert counts == dict.fromkeys(EXPECTED_UNEXPECTED)


def test_root_cause_rollback_on_close_discards_the_pending_duckdb_result(tmp_path) -> None:
    path = tmp_path / "db.duckdb"
    duckdb.connect(str(path)).execute("CREATE TABLE t AS SELECT range AS id FROM range(5)").close()
    engine = sa.create_engine(f"duckdb:///{path}")
    with engine.connect() as connection:
        pending = connection.execute(sa.text("SELECT count(*) FROM t"))
    # Closing ran ROLLBACK on the same DuckDB connection, whose pending result is the cursor.
    assert pending.fetchall() == []
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM t")).fetchall() == [(5,)]
    engine.dispose()


def test_engine_buffers_rows_before_connection_is_released(bad_con: duckdb.DuckDBPyConnection) -> None:
    engine = DuckDBExecutionEngine(connection_string="duckdb:///:memory:", **engine_kwargs(bad_con))
    result = engine.execute_query(sa.text("SELECT count(*) FROM bad WHERE v IS NULL"))
    assert result.fetchall() == [(10,)]
    engine.close()


def test_gx_sees_views_created_later_and_leaves_caller_connection_usable(bad_con: duckdb.DuckDBPyConnection) -> None:
    engine = DuckDBExecutionEngine(connection_string="duckdb:///:memory:", **engine_kwargs(bad_con))
    assert engine.execute_query(sa.text("SELECT count(*) FROM bad")).scalar() == 100
    bad_con.execute("CREATE VIEW later AS SELECT 42 AS x")
    assert engine.execute_query(sa.text("SELECT x FROM later")).scalar() == 42
    engine.close()
    assert bad_con.execute("SELECT count(*) FROM bad").fetchone() == (100,)


def test_gx_pushes_work_down_and_fetches_only_tiny_results(monkeypatch: pytest.MonkeyPatch) -> None:
    from shop_analytics.quality.raw_contract import PAGE_VIEWS
    from shop_analytics.quality.rules import RuleParams
    from shop_analytics.quality.validate import validate_batch

    fetched: list[int] = []
    original = DuckDBExecutionEngine.execute_query

    def counting(self: DuckDBExecutionEngine, query: object) -> object:
        result = original(self, query)
        if isinstance(result, sa.CursorResult):
            return result  # statements without rows come back unbuffered
        frozen = result.freeze()
        fetched.append(len(frozen.data))
        return frozen()

    monkeypatch.setattr(DuckDBExecutionEngine, "execute_query", counting)
    con = duckdb.connect()
    con.execute("""CREATE VIEW pv AS SELECT range AS __gate_row_number, range AS page_view_id,
        TIMESTAMP '2017-01-01' + INTERVAL (range) SECOND AS viewed_at,
        CASE WHEN range % 3 = 0 THEN NULL ELSE range % 100 END AS user_id,
        CASE WHEN range % 1000 = 0 THEN NULL ELSE range % 50 END AS item_id FROM range(200000)""")
    result = validate_batch(con, "pv", PAGE_VIEWS, RuleParams())
    assert result.counts_by_reason == {"null_key:item_id": 200}
    assert fetched and max(fetched) <= 1, fetched
