"""validate_batch: GX decides pass/fail on a DuckDB batch; failing rows come back with reasons.

Flow: rules (rules.py) -> check table (check_view.py: the batch plus derived columns for
duplicates and references, materialized once) -> GX suite (suites.py) run by the
buffering DuckDB engine (gx_duckdb.py), every metric pushed down to DuckDB. Row-level
reasons land in a TEMP table of the caller's connection, by default from each failed
expectation's own ``unexpected_index_query`` (``row_reasons="gx"``), or from the
independent single-pass SQL (``row_reasons="sql"``). Either way the per-reason row
counts must equal GX's unexpected counts, or validate_batch raises: GX stays the judge,
and the two can never silently disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import great_expectations as gx
import pyarrow as pa
from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
from great_expectations.data_context import AbstractDataContext
from great_expectations.datasource.fluent.sql_datasource import SQLDatasource

from shop_analytics.quality.check_view import create_check_table, drop_check_table
from shop_analytics.quality.gx_duckdb import DATASOURCE_TYPE, engine_kwargs, new_context
from shop_analytics.quality.namespace import ROW_NUMBER
from shop_analytics.quality.raw_contract import Source
from shop_analytics.quality.rules import Rule, RuleParams, rules_for
from shop_analytics.quality.rules_sql import REASONS_SCHEMA, write_row_reasons
from shop_analytics.quality.suites import REASON_META, build_suite
from shop_analytics.sql import quote_ident, quote_literal

RowReasons = Literal["gx", "sql"]
DATASOURCE_PREFIX = "duckdb_"
# BASIC gives counts; partial_unexpected_count=0 keeps GX from running per-expectation
# sample queries (each a full scan on a view with a window); the index query is free.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "unexpected_index_column_names": [ROW_NUMBER],
    "return_unexpected_index_query": True,
}


class GxExecutionError(RuntimeError):
    """GX could not compute an expectation: its verdict would be meaningless."""


class ReasonMismatchError(RuntimeError):
    """Row-level reasons disagree with GX's unexpected counts."""


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict: which reason it stands for, pass/fail, failing row count."""

    reason: str
    expectation_type: str
    column: str
    success: bool
    unexpected_count: int


@dataclass(frozen=True)
class BatchValidation:
    """GX's verdict on one batch plus where to find the failing rows and why."""

    source: str
    relation: str
    success: bool
    row_count: int
    failed_rows: int
    reasons_table: str  # TEMP table in the caller's connection: (row_number BIGINT, reason VARCHAR)
    outcomes: tuple[ExpectationOutcome, ...]
    gx_result: ExpectationSuiteValidationResult

    @property
    def counts_by_reason(self) -> dict[str, int]:
        """GX's unexpected row count per reason (failed expectations only)."""
        return {o.reason: o.unexpected_count for o in self.outcomes if o.unexpected_count}

    def rows_by_kind(self, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        """Failing rows per reason kind (e.g. 'null_key'), comparable with the generator manifest.

        A row counts once per kind even when it breaks several rules of that kind (a sale
        line naming both an original order and line is two invalid_value reasons, one row).
        """
        rows = con.execute(
            f"SELECT split_part(reason, ':', 1) AS kind, count(DISTINCT {ROW_NUMBER}) "
            f"FROM {quote_ident(self.reasons_table)} GROUP BY kind ORDER BY kind"
        ).fetchall()
        return {str(kind): int(n) for kind, n in rows}

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary for reports: verdict, counts, and GX's suite statistics."""
        return {
            "source": self.source,
            "relation": self.relation,
            "success": self.success,
            "row_count": self.row_count,
            "failed_rows": self.failed_rows,
            "counts_by_reason": self.counts_by_reason,
            "expectations": [
                {
                    "reason": o.reason,
                    "expectation": o.expectation_type,
                    "column": o.column,
                    "success": o.success,
                    "unexpected_count": o.unexpected_count,
                }
                for o in self.outcomes
            ],
            "gx_statistics": dict(self.gx_result.statistics),
        }

    def reasons(self, con: duckdb.DuckDBPyConnection) -> pa.Table:
        """The (row_number, reason) rows as Arrow, sorted; small: only failing rows."""
        return con.execute(
            f"SELECT * FROM {quote_ident(self.reasons_table)} ORDER BY {ROW_NUMBER}, reason"
        ).to_arrow_table()


def validate_batch(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    source: Source,
    params: RuleParams,
    *,
    context: AbstractDataContext | None = None,
    row_reasons: RowReasons = "gx",
    reasons_table: str | None = None,
) -> BatchValidation:
    """Validate `relation` (a view/table in `con` with a row_number column) against `source`'s suite.

    `con` must be an in-memory DuckDB connection: GX gets a second connection to its
    database, and must never hold the warehouse file. `context` collects the validation
    result (pass one from new_context() to build Data Docs later); by default a
    throwaway one is used. The reasons end up in TEMP table `reasons_table` of `con`
    (default ``<relation>__reasons``).
    """
    if row_reasons not in ("gx", "sql"):
        raise ValueError(f"row_reasons must be 'gx' or 'sql', got {row_reasons!r}")
    _require_in_memory(con)
    _require_row_number(con, relation)
    rules = rules_for(source, params)
    checks = create_check_table(con, relation, rules)
    try:
        return _validate(con, relation, source, params, rules, checks, context, row_reasons, reasons_table)
    finally:
        drop_check_table(con, relation)


def _require_in_memory(con: duckdb.DuckDBPyConnection) -> None:
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if path and path[0]:
        raise ValueError(
            f"validate_batch needs an in-memory DuckDB connection, got one on file {path[0]}; "
            "GX must not hold a database file. Use duckdb.connect() and views over the batch files."
        )


def _require_row_number(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    columns = [row[0] for row in con.execute(f"DESCRIBE {quote_ident(relation)}").fetchall()]
    if ROW_NUMBER not in columns:
        raise ValueError(
            f"relation {relation!r} has no {ROW_NUMBER} column (columns: {columns}); "
            "build it with shop_analytics.quality.batch.create_batch_view"
        )


def _validate(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    source: Source,
    params: RuleParams,
    rules: tuple[Rule, ...],
    checks: str,
    context: AbstractDataContext | None,
    row_reasons: RowReasons,
    reasons_table: str | None,
) -> BatchValidation:
    context = context or new_context()
    batch_definition = _batch_definition(context, con, relation, checks)
    suite = _replace_suite(context, build_suite(source, params, name=f"{source.name}__{relation}"))
    definition = _replace_validation_definition(
        context, gx.ValidationDefinition(name=f"{source.name}__{relation}", data=batch_definition, suite=suite)
    )
    result = definition.run(result_format=RESULT_FORMAT)
    outcomes = _outcomes(result)

    table = reasons_table or f"{relation}__reasons"
    if row_reasons == "gx":
        _write_gx_row_reasons(con, result, table)
    else:
        write_row_reasons(con, relation, rules, table)
    _reconcile(con, table, outcomes, row_reasons)
    row_count = int(result.results[0].result.get("element_count", 0)) if result.results else 0
    failed = con.execute(f"SELECT count(DISTINCT {ROW_NUMBER}) FROM {quote_ident(table)}").fetchone()
    return BatchValidation(
        source=source.name,
        relation=relation,
        success=bool(result.success),
        row_count=row_count,
        failed_rows=int(failed[0]) if failed else 0,
        reasons_table=table,
        outcomes=outcomes,
        gx_result=result,
    )


def _batch_definition(context: AbstractDataContext, con: duckdb.DuckDBPyConnection, relation: str, checks: str) -> Any:
    # One datasource per DuckDB connection. Its engine's creator holds `con`, so `con`
    # outlives the datasource and its id() cannot be reused while the name is in use.
    name = f"{DATASOURCE_PREFIX}{id(con):x}"
    if name in context.data_sources.all():
        datasource = context.data_sources.get(name)
    else:
        add = getattr(context.data_sources, f"add_{DATASOURCE_TYPE}")
        datasource = add(name=name, connection_string="duckdb:///:memory:", kwargs=engine_kwargs(con))
    if relation in {a.name for a in datasource.assets}:
        datasource.delete_asset(relation)
    if not isinstance(datasource, SQLDatasource):
        raise GxExecutionError(f"GX data source {name} is a {type(datasource).__name__}, not a SQL data source")
    asset = datasource.add_table_asset(name=relation, table_name=checks)
    return asset.add_batch_definition_whole_table("whole_batch")


def _replace_suite(context: AbstractDataContext, suite: gx.ExpectationSuite) -> gx.ExpectationSuite:
    if suite.name in {s.name for s in context.suites.all()}:
        context.suites.delete(suite.name)
    return context.suites.add(suite)


def _replace_validation_definition(
    context: AbstractDataContext, definition: gx.ValidationDefinition
) -> gx.ValidationDefinition:
    if definition.name in {d.name for d in context.validation_definitions.all()}:
        context.validation_definitions.delete(definition.name)
    return context.validation_definitions.add(definition)


def _outcomes(result: ExpectationSuiteValidationResult) -> tuple[ExpectationOutcome, ...]:
    outcomes = []
    for r in result.results:
        config = r.expectation_config
        reason = config.meta.get(REASON_META) if config and config.meta else None
        raised = [
            info
            for info in (r.exception_info or {}).values()
            if isinstance(info, dict) and info.get("raised_exception")
        ]
        if r.exception_info and r.exception_info.get("raised_exception"):
            raised.append(r.exception_info)
        if raised or "unexpected_count" not in r.result:
            message = raised[0].get("exception_message") if raised else f"no unexpected_count in {r.result}"
            raise GxExecutionError(
                f"GX could not evaluate {config.type if config else '?'} for {reason}: {message}. "
                "If GX or duckdb-engine was upgraded, see shop_analytics/quality/gx_duckdb.py."
            )
        if config is None:
            raise GxExecutionError(f"GX returned a result for {reason} without its expectation")
        outcomes.append(
            ExpectationOutcome(
                reason=str(reason),
                expectation_type=config.type,
                column=str(config.kwargs.get("column")),
                success=bool(r.success),
                unexpected_count=int(r.result["unexpected_count"]),
            )
        )
    return tuple(outcomes)


def _write_gx_row_reasons(con: duckdb.DuckDBPyConnection, result: ExpectationSuiteValidationResult, table: str) -> None:
    # GX's own query per failed expectation, all in one INSERT so DuckDB runs them in parallel.
    parts = [
        f"SELECT {ROW_NUMBER}, {quote_literal(_reason(r))} AS reason "
        f"FROM ({str(r.result['unexpected_index_query']).strip().rstrip(';')})"
        for r in result.results
        if not r.success
    ]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(table)} ({REASONS_SCHEMA})")
    if parts:
        con.execute(f"INSERT INTO {quote_ident(table)} " + " UNION ALL ".join(parts))


def _reason(result: ExpectationValidationResult) -> str:
    config = result.expectation_config
    if config is None:
        raise GxExecutionError("GX returned a failed result without its expectation")
    return str(config.meta[REASON_META])


def _reconcile(con: duckdb.DuckDBPyConnection, table: str, outcomes: tuple[ExpectationOutcome, ...], mode: str) -> None:
    found = dict(con.execute(f"SELECT reason, count(*) FROM {quote_ident(table)} GROUP BY reason").fetchall())
    expected = {o.reason: o.unexpected_count for o in outcomes if o.unexpected_count}
    if found != expected:
        raise ReasonMismatchError(
            f"row reasons ({mode}) disagree with GX unexpected counts: rows={found} gx={expected}"
        )
