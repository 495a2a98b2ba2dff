"""The table GX validates: the batch plus one derived column per rule that needs more than one row.

Duplicates and references are not single-row conditions, so they become columns here
(occurrence within the key, joined known-id flag) and GX then checks them with
ordinary column expectations, all pushed down to DuckDB.

It is materialized once (a DuckDB table, not a view): GX runs one query per metric
bundle and one per failed expectation, and over a view each of those would redo the
window and the joins over the Parquet files. DuckDB spills the table to its
temp_directory if it outgrows memory_limit.
"""

from __future__ import annotations

import duckdb

from shop_analytics.quality.money import whole_minor_units_sql
from shop_analytics.quality.namespace import ROW_NUMBER, gate_column
from shop_analytics.quality.rules import (
    CASTS,
    CONDITION,
    FIRST_OCCURRENCE,
    KNOWN_REF,
    LOCAL_TIME,
    NOT_IN_REF,
    WHOLE_MINOR_UNITS,
    Rule,
)
from shop_analytics.sql import one_value, quote_ident


def occurrence_column(rule: Rule) -> str:
    """Derived column: 1 for the first row with this key, 2 for any later copy, NULL for a NULL key."""
    return gate_column("occurrence", rule.column)


def known_column(rule: Rule) -> str:
    """Derived column: 1 if the reference is NULL or known, NULL if it names an unknown id."""
    return gate_column("known", rule.column)


def unseen_column(rule: Rule) -> str:
    """Derived column: 1 if the key is NULL or not yet in the lake, NULL if it was admitted before."""
    return gate_column("unseen", rule.column)


def precision_ok_column(rule: Rule) -> str:
    """Derived column: 1 if the money value is NULL, not finite or whole minor units, NULL if not."""
    return gate_column("precision_ok", rule.column)


def condition_ok_column(rule: Rule) -> str:
    """Derived column: 1 if the row passes the rule's SQL condition, NULL if it fails."""
    return gate_column(f"ok_{rule.kind}", rule.column)


def cast_ok_column(column: str) -> str:
    """Reader-provided column: 1 if `column`'s value was NULL or converted exactly, NULL if not."""
    return gate_column("cast_ok", column)


def local_ok_column(column: str) -> str:
    """Reader-provided column: 1 if `column`'s local time exists in the source's time zone, NULL in a DST gap."""
    return gate_column("local_ok", column)


def checked_column(rule: Rule) -> str:
    """The column of the check view that GX's expectation for `rule` looks at."""
    if rule.check == FIRST_OCCURRENCE:
        return occurrence_column(rule)
    if rule.check == KNOWN_REF:
        return known_column(rule)
    if rule.check == NOT_IN_REF:
        return unseen_column(rule)
    if rule.check == CASTS:
        return cast_ok_column(rule.column)
    if rule.check == WHOLE_MINOR_UNITS:
        return precision_ok_column(rule)
    if rule.check == LOCAL_TIME:
        return local_ok_column(rule.column)
    if rule.check == CONDITION:
        return condition_ok_column(rule)
    return rule.column


def check_view_sql(relation: str, rules: tuple[Rule, ...]) -> str:
    """SELECT statement of the check table over `relation`."""
    derived, joins = [], []
    for i, rule in enumerate(rules):
        col = f"b.{quote_ident(rule.column)}"
        if rule.check == FIRST_OCCURRENCE:
            # The window runs over (row_number, key) only and yields the few later copies;
            # windowing the full rows would drag every column through the sort.
            alias, key = f"d{i}", quote_ident(rule.column)
            within = f"{quote_ident(rule.within)}, " if rule.within else ""
            joins.append(
                f"LEFT JOIN (SELECT {ROW_NUMBER} FROM (SELECT {ROW_NUMBER}, row_number() OVER "
                f"(PARTITION BY {within}{key} ORDER BY {ROW_NUMBER}) AS n FROM {quote_ident(relation)} "
                f"WHERE {key} IS NOT NULL) WHERE n > 1) {alias} ON b.{ROW_NUMBER} = {alias}.{ROW_NUMBER}"
            )
            derived.append(
                f"CAST(CASE WHEN {col} IS NULL THEN NULL WHEN {alias}.{ROW_NUMBER} IS NULL THEN 1 ELSE 2 END "
                f"AS UTINYINT) AS {quote_ident(occurrence_column(rule))}"
            )
        elif rule.check in (KNOWN_REF, NOT_IN_REF):
            # 1 when the row passes: the reference is known (KNOWN_REF) / the key is new (NOT_IN_REF).
            assert rule.ref_relation and rule.ref_column
            ref = quote_ident(rule.ref_column)
            member = f"{col} IN (SELECT {ref} FROM {quote_ident(rule.ref_relation)} WHERE {ref} IS NOT NULL)"
            passes = member if rule.check == KNOWN_REF else f"NOT ({member})"
            derived.append(
                f"CAST(CASE WHEN {col} IS NULL OR {passes} THEN 1 END AS UTINYINT) "
                f"AS {quote_ident(checked_column(rule))}"
            )
        elif rule.check == CONDITION:
            assert rule.condition
            derived.append(
                f"CAST(CASE WHEN NOT coalesce({rule.condition}, false) THEN 1 END AS UTINYINT) "
                f"AS {quote_ident(checked_column(rule))}"
            )
        elif rule.check == WHOLE_MINOR_UNITS:
            derived.append(
                f"CAST(CASE WHEN {whole_minor_units_sql(col, rule.scale)} THEN 1 END AS UTINYINT) "
                f"AS {quote_ident(checked_column(rule))}"
            )
    select = ", ".join(["b.*", *derived])
    return f"SELECT {select} FROM {quote_ident(relation)} b {' '.join(joins)}"


def check_table_name(relation: str) -> str:
    """Name of the check table built for `relation`."""
    return f"{relation}__gx_checks"


def create_check_table(con: duckdb.DuckDBPyConnection, relation: str, rules: tuple[Rule, ...]) -> str:
    """Materialize the non-TEMP check table for `relation` (GX's connection must see it); return its name."""
    name = check_table_name(relation)
    # Row order carries no meaning here (row_number does), and not preserving it lets
    # DuckDB build the table with less memory.
    previous = one_value(con, "SELECT current_setting('preserve_insertion_order')")
    con.execute("SET preserve_insertion_order = false")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {quote_ident(name)} AS {check_view_sql(relation, rules)}")
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if previous else 'false'}")
    return name


def drop_check_table(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """Free the check table of `relation`."""
    con.execute(f"DROP TABLE IF EXISTS {quote_ident(check_table_name(relation))}")
