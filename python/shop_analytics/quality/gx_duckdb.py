"""Great Expectations on DuckDB through duckdb-engine, with SQL pushdown that returns real results.

Root cause of the empty results (GX 1.24.1 + duckdb-engine 0.17.0 + SQLAlchemy 2.0):
``SqlAlchemyExecutionEngine.execute_query`` runs the query inside
``with self.get_connection() as connection`` and returns the *unfetched*
``CursorResult``; callers call ``.fetchall()`` afterwards. Leaving the block closes
the SQLAlchemy connection, which ends its autobegun transaction with ``ROLLBACK``.
duckdb-engine's ``CursorWrapper`` is not a separate cursor: it delegates to the one
``DuckDBPyConnection``, whose pending result *is* the cursor. The ROLLBACK therefore
replaces the pending result, and the later ``fetchall()`` sees ROLLBACK's empty result.
GX bundles metrics and asserts one row per bundle, so every metric errors and every
expectation comes back with ``result == {}`` (upstream report: great_expectations issue
#10738, closed as a feature request, unfixed in 1.24.1). SQLite does not hit this because
GX keeps a persisted connection for it; most other DBAPIs have independent cursors.

Fix, at the layer that causes it: ``DuckDBExecutionEngine.execute_query`` buffers the
rows while the connection is still checked out. Nothing else in GX changes, and each
query still runs in its own short transaction (so it sees views created since).

GX gets its own DuckDB connection (``con.cursor()``) to the caller's in-memory database
through a ``StaticPool``: it sees the caller's non-TEMP tables and views (validate.py
gives it a check table built from a view over the landing batch's Parquet files), all
computation stays in DuckDB, and GX never opens the warehouse file dbt writes.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from importlib.metadata import version
from typing import Any, Literal

import duckdb
import great_expectations as gx
import sqlalchemy as sa
from duckdb_engine import ConnectionWrapper
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.datasource.fluent.sql_datasource import SQLDatasource
from great_expectations.execution_engine import SqlAlchemyExecutionEngine

# The versions this shim was written against. tests/unit/test_gx_duckdb.py fails when they
# change, so an upgrade forces someone to re-check whether the shim is still needed.
SHIM_WRITTEN_FOR: dict[str, str] = {
    "great-expectations": "1.24.1",
    "duckdb-engine": "0.17.0",
    "duckdb": "1.5.6",
}
SQLALCHEMY_SERIES = "2.0."  # SQLAlchemy 2.1 breaks GX's type checks; the lock pins <2.1

DATASOURCE_TYPE = "duckdb_batch"


def installed_versions() -> dict[str, str]:
    """Installed versions of the packages the shim depends on (plus SQLAlchemy)."""
    names = [*SHIM_WRITTEN_FOR, "sqlalchemy"]
    return {name: version(name) for name in names}


def version_drift() -> list[str]:
    """Human-readable differences between installed and shim versions; empty when they match."""
    found = installed_versions()
    drift = [
        f"{name}: shim written for {want}, installed {found[name]}"
        for name, want in SHIM_WRITTEN_FOR.items()
        if found[name] != want
    ]
    if not found["sqlalchemy"].startswith(SQLALCHEMY_SERIES):
        drift.append(f"sqlalchemy: need {SQLALCHEMY_SERIES}x, installed {found['sqlalchemy']}")
    return drift


class DuckDBExecutionEngine(SqlAlchemyExecutionEngine):
    """SQLAlchemy execution engine whose query results are fetched before the connection closes."""

    def execute_query(self, query: Any) -> Any:
        """Run `query` and return a fully buffered result (see module docstring for why)."""
        with self.get_connection() as connection:
            result = self._execute_query_with_recovery(connection, query)
            if not result.returns_rows:
                return result
            # freeze() fetches every row now, while the DuckDB result is still pending;
            # calling the frozen result yields a normal Result (fetchall/fetchmany/scalar/...).
            return result.freeze()()


class DuckDBBatchDatasource(SQLDatasource):
    """A GX SQL datasource on DuckDB that uses DuckDBExecutionEngine."""

    # Each GX datasource narrows the pydantic discriminator `type` to its own literal, as GX's do.
    type: Literal["duckdb_batch"] = "duckdb_batch"  # type: ignore[assignment]  # narrower than SQLDatasource's

    # No temp tables: query assets are validated as subqueries, nothing is written.
    create_temp_table: bool = False

    @property
    def execution_engine_type(self) -> builtins.type[SqlAlchemyExecutionEngine]:
        """Use the buffering engine instead of the stock one."""
        return DuckDBExecutionEngine


def new_context() -> AbstractDataContext:
    """An in-memory GX context without progress bars (validation results live until it is dropped)."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def engine_kwargs(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """SQLAlchemy create_engine kwargs that make GX use its own connection to `con`'s database."""
    return {"creator": _cursor_factory(con), "poolclass": sa.pool.StaticPool}


def _cursor_factory(con: duckdb.DuckDBPyConnection) -> Callable[[], ConnectionWrapper]:
    # con.cursor() is a second connection to the same database: GX's BEGIN/ROLLBACK and
    # its close() never touch the caller's connection or its transaction.
    def create() -> ConnectionWrapper:
        return ConnectionWrapper(con.cursor())

    return create
