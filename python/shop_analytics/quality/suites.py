"""GX expectation suites per source, built from the shared rule list (see rules.py)."""

from __future__ import annotations

import great_expectations as gx
from great_expectations.expectations import Expectation

from shop_analytics.quality.check_view import checked_column
from shop_analytics.quality.raw_contract import Source
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
    RuleParams,
    rules_for,
)

REASON_META = "shop_analytics_reason"  # meta key carrying the rule's reason code


def expectation_for(rule: Rule) -> Expectation:
    """The GX expectation that fails exactly on the rows `rule` rejects."""
    column = checked_column(rule)
    meta = {REASON_META: rule.reason}
    if rule.check in (NOT_NULL, KNOWN_REF, NOT_IN_REF, CASTS, LOCAL_TIME, WHOLE_MINOR_UNITS, CONDITION):
        return gx.expectations.ExpectColumnValuesToNotBeNull(column=column, meta=meta)
    if rule.check == BETWEEN:
        return gx.expectations.ExpectColumnValuesToBeBetween(
            column=column,
            min_value=rule.min_value,
            max_value=rule.max_value,
            strict_min=rule.strict_min,
            strict_max=rule.strict_max,
            meta=meta,
        )
    if rule.check == FIRST_OCCURRENCE:
        return gx.expectations.ExpectColumnValuesToBeBetween(column=column, min_value=1, max_value=1, meta=meta)
    if rule.check == IN_SET:
        return gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=list(rule.value_set), meta=meta)
    raise ValueError(f"no GX expectation for check {rule.check!r} (rule {rule.reason})")


def build_suite(source: Source, params: RuleParams, name: str | None = None) -> gx.ExpectationSuite:
    """Expectation suite for `source`, one expectation per rule, each tagged with its reason."""
    suite = gx.ExpectationSuite(name=name or f"{source.name}_batch")
    for rule in rules_for(source, params):
        suite.add_expectation(expectation_for(rule))
    return suite
