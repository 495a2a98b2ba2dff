"""Checks of the commerce marts' data-quality flags: over-reversals, unresolved countries, missing rates.

Each one counts rows the marts keep but flag (docs/marts.md): they are WARN findings with examples,
never failures, because a flagged row is still correct data (a customer with an unknown country stays
in revenue; an over-reversal is what the source says). Each is 'not applicable' when its mart or flag
column is absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from shop_analytics.checks.core import MAX_EXAMPLES, CheckResult
from shop_analytics.checks.domain import mart_columns
from shop_analytics.sql import one_row

if TYPE_CHECKING:
    from shop_analytics.warehouse.relations import Relation


def _flagged(
    con: duckdb.DuckDBPyConnection,
    relations: Sequence[Relation],
    name: str,
    mart: str,
    needed: set[str],
    where: str,
    example: str,
    what: str,
) -> CheckResult:
    """WARN with the count and examples of marts.<mart> rows matching `where`, PASS when none do."""
    cols, skip = mart_columns(mart, name, con, relations)
    if skip:
        return skip
    if not needed <= cols.keys():
        return CheckResult.not_applicable(name, f"marts.{mart} has no {', '.join(sorted(needed - cols.keys()))}")
    n, total = one_row(con, f"SELECT count(*) FILTER (WHERE {where}), count(*) FROM marts.{mart}")
    if not n:
        return CheckResult.passed(name, f"none of {total:,} rows of marts.{mart}")
    examples = con.execute(
        f"SELECT {example} FROM marts.{mart} WHERE {where} ORDER BY ALL LIMIT {MAX_EXAMPLES}"
    ).fetchall()
    return CheckResult.warning(name, f"{n:,} of {total:,} rows of marts.{mart} {what}", n, examples)


@dataclass(frozen=True)
class NoOverReversals:
    """Orders with more cancelled or returned than sold (kept as delivered, not clamped)."""

    name: str = "no over-reversed orders"

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> CheckResult:
        """Count fct_orders rows with is_over_reversed."""
        return _flagged(
            con,
            relations,
            self.name,
            "fct_orders",
            {"order_id", "is_over_reversed", "quantity", "cancelled_quantity", "returned_quantity"},
            "is_over_reversed",
            "order_id, quantity, cancelled_quantity, returned_quantity",
            "reverse more than they sold (order_id, quantity, cancelled, returned)",
        )


@dataclass(frozen=True)
class CountriesResolve:
    """Customers whose country is unknown or missing (kept, and in revenue, but not in country reports)."""

    name: str = "customer countries resolve"

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> CheckResult:
        """Count dim_customers rows whose country_status is unknown or missing."""
        return _flagged(
            con,
            relations,
            self.name,
            "dim_customers",
            {"customer_id", "country_raw", "country_status"},
            "country_status IN ('unknown', 'missing')",
            "country_status, country_raw, customer_id",
            "have an unknown or missing country; extend seeds/country_aliases.csv (status, raw value, customer)",
        )


@dataclass(frozen=True)
class RatesAvailable:
    """Order lines without an exchange rate to the reporting currency (left out of reporting amounts)."""

    name: str = "exchange rates cover every order line"

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> CheckResult:
        """Count fct_order_lines rows with is_missing_rate."""
        return _flagged(
            con,
            relations,
            self.name,
            "fct_order_lines",
            {"currency", "activity_date", "is_missing_rate"},
            "is_missing_rate",
            "currency, activity_date",
            "have no rate within fx_max_staleness_days (currency, date)",
        )
