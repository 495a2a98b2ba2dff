"""Quoting for identifiers and literals that DuckDB cannot take as prepared parameters."""

from __future__ import annotations

from dataclasses import dataclass


def ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A single-quoted SQL string literal (for ATTACH, COPY and COMMENT, which take no parameters)."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Relation:
    """A table or view of the build file that gets published."""

    schema: str
    name: str
    kind: str  # "table" or "view" in the build file; always a table once published

    @property
    def sql(self) -> str:
        """`"schema"."name"` for use in queries."""
        return f"{ident(self.schema)}.{ident(self.name)}"

    @property
    def label(self) -> str:
        """`schema.name` for messages."""
        return f"{self.schema}.{self.name}"
