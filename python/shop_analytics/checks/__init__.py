"""Post-build checks on the dbt build file, one framework for `shop-analytics check` and `publish`.

`default_checks()` are the generic checks (non-empty relations, finite floats) and the domain
checks of the marts (similarity range, nothing seen recommended, bounded popularity, purchase
summary reconciles) and the commerce flags (over-reversals, unresolved countries, missing
rates: warnings). `shop-analytics check` runs them and reports; `shop-analytics publish`
runs the same ones (plus any `--check module:attr`) and publishes nothing when one fails.
"""

from shop_analytics.checks.commerce import CountriesResolve, NoOverReversals, RatesAvailable
from shop_analytics.checks.core import Check, CheckResult, Status, format_report, load_checks, run_checks
from shop_analytics.checks.domain import (
    PopularityBounded,
    PurchaseSummaryReconciles,
    RecommendationsUnseen,
    SimilarityInRange,
)
from shop_analytics.checks.generic import FiniteFloatingColumns, NonEmptyTables, SqlCheck


def default_checks() -> list[Check]:
    """The checks every `check` and every `publish` runs."""
    return [
        NonEmptyTables(),
        FiniteFloatingColumns(),
        SimilarityInRange(),
        RecommendationsUnseen(),
        PopularityBounded(),
        PurchaseSummaryReconciles(),
        NoOverReversals(),
        CountriesResolve(),
        RatesAvailable(),
    ]


__all__ = [
    "Check",
    "CheckResult",
    "CountriesResolve",
    "FiniteFloatingColumns",
    "NoOverReversals",
    "NonEmptyTables",
    "PopularityBounded",
    "PurchaseSummaryReconciles",
    "RatesAvailable",
    "RecommendationsUnseen",
    "SimilarityInRange",
    "SqlCheck",
    "Status",
    "default_checks",
    "format_report",
    "load_checks",
    "run_checks",
]
