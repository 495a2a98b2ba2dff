"""Quoting helpers for building DuckDB SQL text."""

from __future__ import annotations

import datetime as dt


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for DuckDB."""
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
