"""Row-level quality rules per source: what must hold, on which column, and the reason if not.

One rule list feeds both implementations of the gate: the GX expectation suite
(suites.py) and the hand-written single-pass SQL (rules_sql.py). Reason kinds match
the generator's dirty kinds, so quarantine counts reconcile with its manifest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from shop_analytics.quality.money import MONEY_COLUMNS, money_scale
from shop_analytics.quality.raw_contract import Source

# Reason kinds. The first six are the generator's DIRTY_KINDS.
NULL_KEY = "null_key"
INVALID_VALUE = "invalid_value"
DUPLICATE_EVENT_ID = "duplicate_event_id"
UNKNOWN_USER = "unknown_user"
UNKNOWN_ITEM = "unknown_item"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
MISSING_VALUE = "missing_value"  # a required non-key column is NULL
UNKNOWN_COUNTRY = "unknown_country"
INVALID_TYPE = "invalid_type"  # a text-format value that does not cast to the contract type
DUPLICATE_IN_LAKE = "duplicate_in_lake"  # the event id was admitted by an earlier batch
INVALID_PRECISION = "invalid_precision"  # money with more decimals than its minor unit (quality/money.py)

# Check kinds a rule can have; suites.py and rules_sql.py implement each one.
NOT_NULL = "not_null"
BETWEEN = "between"
IN_SET = "in_set"
FIRST_OCCURRENCE = "first_occurrence"  # duplicates: every copy after the first fails
KNOWN_REF = "known_ref"  # a non-null reference must exist in the known ids
NOT_IN_REF = "not_in_ref"  # a non-null key must NOT exist in the reference ids (already admitted)
CASTS = "casts"  # the batch's cast-ok flag column for this column is 1 (set by the reader)
WHOLE_MINOR_UNITS = "whole_minor_units"  # money: a whole number of minor units (quality/money.py)

EARLIEST_PLAUSIBLE = dt.datetime(2000, 1, 1)


@dataclass(frozen=True)
class Rule:
    """One row-level condition on one column; a failing row gets `reason`."""

    kind: str
    column: str
    check: str
    min_value: float | dt.datetime | None = None
    max_value: float | dt.datetime | None = None
    strict_min: bool = False
    strict_max: bool = False
    value_set: tuple[str, ...] = ()
    ref_relation: str | None = None  # KNOWN_REF: relation holding the known ids
    ref_column: str | None = None  # KNOWN_REF: id column in ref_relation
    scale: int = 0  # WHOLE_MINOR_UNITS: decimal places allowed

    @property
    def reason(self) -> str:
        """Reason code stored with each failing row, e.g. 'unknown_user:user_id'."""
        return f"{self.kind}:{self.column}"


@dataclass(frozen=True)
class RuleParams:
    """Inputs the rules depend on besides the source: time window, reference data."""

    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    earliest: dt.datetime = EARLIEST_PLAUSIBLE
    countries: tuple[str, ...] | None = None  # accepted country codes; None skips the check
    known_users: str | None = None  # relation with a user_id column; None skips the check
    known_items: str | None = None  # relation with an item_id column; None skips the check
    seen_keys: str | None = None  # relation with a `key` column of ids already in the lake; None skips
    cast_columns: tuple[str, ...] = ()  # columns read from text and cast (CSV/JSON); see CASTS

    @property
    def latest(self) -> dt.datetime:
        """Exclusive upper bound for event times: the start of tomorrow (UTC, naive)."""
        return dt.datetime.combine(self.today + dt.timedelta(days=1), dt.time())


# Value rules per source: (column, min, max, strict_min, strict_max). Money has an upper
# bound too: besides absurd values it catches NaN and +Infinity, which DuckDB orders
# above every number (so "> 0" alone would admit them).
MAX_MONEY = 1_000_000.0
_VALUE_RANGES: dict[str, tuple[tuple[str, float | None, float | None, bool, bool], ...]] = {
    "items": (("price", 0, MAX_MONEY, True, False),),
    "purchases": (("amount", 0, MAX_MONEY, True, False), ("quantity", 1, None, False, False)),
    "ratings": (("rating", 1, 5, False, False),),
}
_TIME_COLUMNS = {"users": "signup_at", "items": "created_at"}


def rules_for(source: Source, params: RuleParams) -> tuple[Rule, ...]:
    """All row-level rules for `source`, in a stable order."""
    rules: list[Rule] = [Rule(INVALID_TYPE, c, CASTS) for c in params.cast_columns]
    required_refs = [c for c in (source.user_ref, source.item_ref) if c]
    if source.user_ref_nullable and source.user_ref:
        required_refs.remove(source.user_ref)
    for column in [source.key, *required_refs]:
        rules.append(Rule(NULL_KEY, column, NOT_NULL))
    # Facts declare every column nullable (raw data may lack anything), but a fact row
    # without its event time or measured value cannot be partitioned or used.
    must_have = {f.name for f in source.schema if not f.nullable}
    must_have |= {c for c in (source.event_time,) if c} | {c for c, *_ in _VALUE_RANGES.get(source.name, ())}
    for f in source.schema:
        if f.name in must_have and f.name not in (source.key, *required_refs):
            rules.append(Rule(MISSING_VALUE, f.name, NOT_NULL))
    rules.append(Rule(DUPLICATE_EVENT_ID, source.key, FIRST_OCCURRENCE))
    if params.seen_keys:
        rules.append(Rule(DUPLICATE_IN_LAKE, source.key, NOT_IN_REF, ref_relation=params.seen_keys, ref_column="key"))
    time_column = source.event_time or _TIME_COLUMNS.get(source.name)
    if time_column:
        rules.append(
            Rule(
                TIMESTAMP_OUT_OF_RANGE,
                time_column,
                BETWEEN,
                min_value=params.earliest,
                max_value=params.latest,
                strict_max=True,
            )
        )
    for column, lo, hi, strict_lo, strict_hi in _VALUE_RANGES.get(source.name, ()):
        rules.append(
            Rule(INVALID_VALUE, column, BETWEEN, min_value=lo, max_value=hi, strict_min=strict_lo, strict_max=strict_hi)
        )
    for column in MONEY_COLUMNS.get(source.name, ()):
        rules.append(Rule(INVALID_PRECISION, column, WHOLE_MINOR_UNITS, scale=money_scale(source.name, column)))
    if source.name == "users" and params.countries is not None:
        rules.append(Rule(UNKNOWN_COUNTRY, "country_code", IN_SET, value_set=params.countries))
    if source.user_ref and params.known_users:
        rules.append(
            Rule(UNKNOWN_USER, source.user_ref, KNOWN_REF, ref_relation=params.known_users, ref_column="user_id")
        )
    if source.item_ref and params.known_items:
        rules.append(
            Rule(UNKNOWN_ITEM, source.item_ref, KNOWN_REF, ref_relation=params.known_items, ref_column="item_id")
        )
    return tuple(rules)
