"""Quoting for identifiers and literals that DuckDB cannot take as prepared parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb


def ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A single-quoted SQL string literal.

    Used instead of prepared parameters: binding any Python parameter makes duckdb import pandas,
    which costs 2-3 s per process, and ATTACH, COPY and COMMENT take no parameters anyway.
    """
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Relation:
    """A table or view of the dbt build file (checked, then published)."""

    schema: str
    name: str
    kind: str  # "table" or "view" in the build file; always a table once published

    @property
    def sql(self) -> str:
        """`"schema"."name"` for use in queries."""
        return f"{ident(self.schema)}.{ident(self.name)}"

    def matches(self, schema_column: str = "schema_name", name_column: str = "table_name") -> str:
        """A predicate selecting this relation in DuckDB's catalog functions (e.g. duckdb_columns())."""
        return f"{schema_column} = {literal(self.schema)} AND {name_column} = {literal(self.name)}"

    @property
    def label(self) -> str:
        """`schema.name` for messages."""
        return f"{self.schema}.{self.name}"


def one_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The one row a query returns (an aggregate, a setting); an error if there is none."""
    row = con.execute(sql).fetchone()
    if row is None:
        raise LookupError(f"expected one row from: {sql}")
    return row
