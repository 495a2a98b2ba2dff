"""Building DuckDB SQL text, and reading the one row an aggregate returns.

Identifiers and literals are quoted here, and only here, whenever they cannot be prepared
parameters: names of tables and columns, paths given to read_parquet, COPY, ATTACH and
COMMENT, which take no parameters. Prepared parameters are also avoided in hot read-only
paths: binding any Python parameter makes duckdb import pandas, which costs 2-3 s per process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_value(value: float | int | str | dt.datetime | dt.date) -> str:
    """Render a Python scalar as a typed DuckDB literal."""
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP {quote_literal(value.isoformat(sep=' '))}"
    if isinstance(value, dt.date):
        return f"DATE {quote_literal(value.isoformat())}"
    if isinstance(value, str):
        return quote_literal(value)
    return repr(value)


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | None = None) -> tuple[Any, ...]:
    """The one row a query returns (an aggregate, a setting, COPY's row count); an error if there is none."""
    # Without parameters, execute(sql) alone: binding even an empty list makes duckdb import pandas.
    row = (con.execute(sql) if params is None else con.execute(sql, params)).fetchone()
    if row is None:
        raise LookupError(f"expected one row from: {sql}")
    return row


def one_value(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | None = None) -> Any:
    """The first column of the one row a query returns."""
    return one_row(con, sql, params)[0]
