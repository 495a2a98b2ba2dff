"""The row-level checks as ONE hand-written single-pass DuckDB query producing (row_number, reason).

It is the competitor the GX gate is benchmarked against and the cross-check for it:
on the same batch, both must flag the same rows for the same reasons. A row gets one
output row per rule it breaks.
"""

from __future__ import annotations

import duckdb

from shop_analytics.quality.check_view import cast_ok_column, local_ok_column
from shop_analytics.quality.money import whole_minor_units_sql
from shop_analytics.quality.namespace import ROW_NUMBER
from shop_analytics.quality.rules import (
    BETWEEN,
    CASTS,
    CONDITION,
    FIRST_OCCURRENCE,
    IN_SET,
    KNOWN_REF,
    LOCAL_TIME,
    NOT_IN_REF,
    NOT_NULL,
    WHOLE_MINOR_UNITS,
    Rule,
)
from shop_analytics.sql import quote_ident, quote_literal, sql_value

REASONS_SCHEMA = f"{ROW_NUMBER} BIGINT, reason VARCHAR"


def failure_condition(rule: Rule) -> str:
    """SQL boolean over batch alias `b` that is TRUE exactly when a row breaks `rule`."""
    col = f"b.{quote_ident(rule.column)}"
    if rule.check == NOT_NULL:
        return f"{col} IS NULL"
    if rule.check == BETWEEN:
        parts = []
        if rule.min_value is not None:
            parts.append(f"{col} {'<=' if rule.strict_min else '<'} {sql_value(rule.min_value)}")
        if rule.max_value is not None:
            parts.append(f"{col} {'>=' if rule.strict_max else '>'} {sql_value(rule.max_value)}")
        return "(" + " OR ".join(parts) + ")"
    if rule.check == IN_SET:
        values = ", ".join(quote_literal(v) for v in rule.value_set) or "NULL"
        return f"{col} NOT IN ({values})"
    if rule.check == FIRST_OCCURRENCE:
        # The first copy (lowest row_number) is admitted; later copies are duplicates.
        within = f"b.{quote_ident(rule.within)}, " if rule.within else ""
        return f"({col} IS NOT NULL AND row_number() OVER (PARTITION BY {within}{col} ORDER BY b.{ROW_NUMBER}) > 1)"
    if rule.check == KNOWN_REF:
        assert rule.ref_relation and rule.ref_column
        ref = quote_ident(rule.ref_column)
        # Uncorrelated IN plans as one mark join; NOT EXISTS would plan as a much slower
        # delim join. NULLs are filtered out of the list so NOT IN cannot turn NULL.
        return (
            f"({col} IS NOT NULL AND NOT ({col} IN (SELECT k.{ref} FROM {quote_ident(rule.ref_relation)} k "
            f"WHERE k.{ref} IS NOT NULL)))"
        )
    if rule.check == NOT_IN_REF:
        assert rule.ref_relation and rule.ref_column
        ref = quote_ident(rule.ref_column)
        return (
            f"({col} IS NOT NULL AND {col} IN (SELECT k.{ref} FROM {quote_ident(rule.ref_relation)} k "
            f"WHERE k.{ref} IS NOT NULL))"
        )
    if rule.check == CASTS:
        return f"b.{quote_ident(cast_ok_column(rule.column))} IS NULL"
    if rule.check == WHOLE_MINOR_UNITS:
        return f"NOT {whole_minor_units_sql(col, rule.scale)}"
    if rule.check == LOCAL_TIME:
        return f"b.{quote_ident(local_ok_column(rule.column))} IS NULL"
    if rule.check == CONDITION:
        assert rule.condition
        return f"coalesce({rule.condition}, false)"
    raise ValueError(f"no SQL for check {rule.check!r} (rule {rule.reason})")


def row_reasons_sql(relation: str, rules: tuple[Rule, ...]) -> str:
    """One query over `relation`: a (row_number, reason) row per broken rule per row."""
    flags = ", ".join(f"{failure_condition(r)} AS f{i}" for i, r in enumerate(rules))
    any_flag = " OR ".join(f"f{i}" for i in range(len(rules)))
    cases = ", ".join(f"CASE WHEN f{i} THEN {quote_literal(r.reason)} END" for i, r in enumerate(rules))
    # Flags first, then build and unnest the reason list only for the few failing rows.
    return (
        f"SELECT {ROW_NUMBER}, reason FROM ("
        f"SELECT {ROW_NUMBER}, unnest([{cases}]) AS reason FROM ("
        f"SELECT b.{ROW_NUMBER}, {flags} FROM {quote_ident(relation)} b) WHERE {any_flag}"
        f") WHERE reason IS NOT NULL"
    )


def write_row_reasons(con: duckdb.DuckDBPyConnection, relation: str, rules: tuple[Rule, ...], table: str) -> str:
    """Materialize the reasons of `relation` into TEMP table `table` (only failing rows); return its name."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(table)} AS {row_reasons_sql(relation, rules)}")
    return table
