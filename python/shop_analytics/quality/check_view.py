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

from shop_analytics.quality.rules import FIRST_OCCURRENCE, KNOWN_REF, ROW_NUMBER, Rule
from shop_analytics.quality.sql import quote_ident


def occurrence_column(rule: Rule) -> str:
    """Derived column: 1 for the first row with this key, 2 for any later copy, NULL for a NULL key."""
    return f"{rule.column}__occurrence"


def known_column(rule: Rule) -> str:
    """Derived column: 1 if the reference is NULL or known, NULL if it names an unknown id."""
    return f"{rule.column}__known"


def checked_column(rule: Rule) -> str:
    """The column of the check view that GX's expectation for `rule` looks at."""
    if rule.check == FIRST_OCCURRENCE:
        return occurrence_column(rule)
    if rule.check == KNOWN_REF:
        return known_column(rule)
    return rule.column


def check_view_sql(relation: str, rules: tuple[Rule, ...]) -> str:
    """SELECT statement of the check view over `relation`."""
    derived, joins = [], []
    for i, rule in enumerate(rules):
        col = f"b.{quote_ident(rule.column)}"
        if rule.check == FIRST_OCCURRENCE:
            derived.append(
                f"CASE WHEN {col} IS NULL THEN NULL ELSE CAST(least(row_number() OVER "
                f"(PARTITION BY {col} ORDER BY b.{ROW_NUMBER}), 2) AS UTINYINT) END "
                f"AS {quote_ident(occurrence_column(rule))}")
        elif rule.check == KNOWN_REF:
            assert rule.ref_relation and rule.ref_column
            alias = f"k{i}"
            # DISTINCT keeps the left join from multiplying rows if the known ids repeat.
            joins.append(
                f"LEFT JOIN (SELECT DISTINCT {quote_ident(rule.ref_column)} AS id, 1::UTINYINT AS found "
                f"FROM {quote_ident(rule.ref_relation)}) {alias} ON {col} = {alias}.id")
            derived.append(f"CASE WHEN {col} IS NULL THEN 1::UTINYINT ELSE {alias}.found END "
                           f"AS {quote_ident(known_column(rule))}")
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
    previous = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = false")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {quote_ident(name)} AS {check_view_sql(relation, rules)}")
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if previous else 'false'}")
    return name


def drop_check_table(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """Free the check table of `relation`."""
    con.execute(f"DROP TABLE IF EXISTS {quote_ident(check_table_name(relation))}")
