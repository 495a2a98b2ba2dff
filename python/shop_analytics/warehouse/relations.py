"""A relation of the dbt build file: what the checks read and publish copies."""

from __future__ import annotations

from dataclasses import dataclass

from shop_analytics.sql import quote_ident, quote_literal


@dataclass(frozen=True)
class Relation:
    """A table or view of the dbt build file (checked, then published)."""

    schema: str
    name: str
    kind: str  # "table" or "view" in the build file; always a table once published

    @property
    def sql(self) -> str:
        """`"schema"."name"` for use in queries."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    def matches(self, schema_column: str = "schema_name", name_column: str = "table_name") -> str:
        """A predicate selecting this relation in DuckDB's catalog functions (e.g. duckdb_columns())."""
        return f"{schema_column} = {quote_literal(self.schema)} AND {name_column} = {quote_literal(self.name)}"

    @property
    def label(self) -> str:
        """`schema.name` for messages."""
        return f"{self.schema}.{self.name}"
