"""The view GX validates: the batch plus one derived column per rule that needs more than one row.

Duplicates and references are not single-row conditions, so they become columns here
(occurrence number within the key, joined known-id flag) and GX then checks them with
ordinary column expectations, all pushed down to DuckDB.
"""

from __future__ import annotations

import duckdb

from shop_analytics.quality.rules import FIRST_OCCURRENCE, KNOWN_REF, ROW_NUMBER, Rule
from shop_analytics.quality.sql import quote_ident


def occurrence_column(rule: Rule) -> str:
    """Derived column: 1 for the first row with this key, 2.. for copies, NULL for a NULL key."""
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
                f"CASE WHEN {col} IS NULL THEN NULL ELSE row_number() OVER "
                f"(PARTITION BY {col} ORDER BY b.{ROW_NUMBER}) END AS {quote_ident(occurrence_column(rule))}")
        elif rule.check == KNOWN_REF:
            assert rule.ref_relation and rule.ref_column
            alias = f"k{i}"
            # DISTINCT keeps the left join from multiplying rows if the known ids repeat.
            joins.append(
                f"LEFT JOIN (SELECT DISTINCT {quote_ident(rule.ref_column)} AS id, 1 AS found "
                f"FROM {quote_ident(rule.ref_relation)}) {alias} ON {col} = {alias}.id")
            derived.append(f"CASE WHEN {col} IS NULL THEN 1 ELSE {alias}.found END "
                           f"AS {quote_ident(known_column(rule))}")
    select = ", ".join(["b.*", *derived])
    return f"SELECT {select} FROM {quote_ident(relation)} b {' '.join(joins)}"


def create_check_view(con: duckdb.DuckDBPyConnection, relation: str, rules: tuple[Rule, ...]) -> str:
    """Create (or replace) the non-TEMP check view for `relation`; return its name."""
    name = f"{relation}__gx_checks"
    con.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {check_view_sql(relation, rules)}")
    return name
