"""Row-level quality rules per source: what must hold, on which column, and the reason if not.

One rule list feeds both implementations of the gate: the GX expectation suite
(suites.py) and the hand-written single-pass SQL (rules_sql.py). Reason kinds match
the generator's dirty kinds, so quarantine counts reconcile with its manifest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from shop_analytics.quality.money import CURRENCY_COLUMNS, MAX_SCALE, MONEY_COLUMNS, MONEY_SCALE, whole_minor_units_sql
from shop_analytics.quality.namespace import GATE_BATCH, GATE_KEY
from shop_analytics.quality.raw_contract import (
    EXCHANGE_RATES,
    ITEMS,
    LINE_TYPES,
    MIGRATED_ORDER_PATTERN,
    ORDER_LINES,
    SALE,
    Source,
)
from shop_analytics.sql import quote_ident, quote_literal, sql_value

# Reason kinds. The first six are the generator's DIRTY_KINDS.
NULL_KEY = "null_key"
INVALID_VALUE = "invalid_value"
DUPLICATE_EVENT_ID = "duplicate_event_id"
UNKNOWN_USER = "unknown_user"
UNKNOWN_ITEM = "unknown_item"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
MISSING_VALUE = "missing_value"  # a required non-key column is NULL
INVALID_TYPE = "invalid_type"  # a text-format value that does not cast to the contract type
DUPLICATE_IN_LAKE = "duplicate_in_lake"  # the event id was admitted by an earlier batch
INVALID_PRECISION = "invalid_precision"  # money with more decimals than its currency's minor unit (quality/money.py)
INVALID_KEY = "invalid_key"  # a natural key that is empty, too long, padded, holds control characters (or is reserved)
INVALID_LOCAL_TIME = "invalid_local_time"  # a local time inside a spring-forward gap of the source's time zone
UNKNOWN_CURRENCY = "unknown_currency"  # not an ISO 4217 code of seeds/currencies.csv
UNKNOWN_ORDER = "unknown_order"  # a cancellation/return of an order neither in the lake nor admitted in this run
INCONSISTENT_ORDER = "inconsistent_order"  # lines of one order in one batch disagree on the customer or currency

# Check kinds a rule can have; suites.py and rules_sql.py implement each one.
NOT_NULL = "not_null"
BETWEEN = "between"
IN_SET = "in_set"
FIRST_OCCURRENCE = "first_occurrence"  # duplicates: every copy after the first fails
KNOWN_REF = "known_ref"  # a non-null reference must exist in the known ids
NOT_IN_REF = "not_in_ref"  # a non-null key must NOT exist in the reference ids (already admitted)
CASTS = "casts"  # the batch's cast-ok flag column for this column is 1 (set by the reader)
LOCAL_TIME = "local_time"  # the batch's local-ok flag column for this column is 1 (set by the reader)
WHOLE_MINOR_UNITS = "whole_minor_units"  # money: a whole number of minor units (quality/money.py)
CONDITION = "condition"  # a row fails when the rule's SQL condition (over batch alias b) is true

EARLIEST_PLAUSIBLE = dt.datetime(1970, 1, 1)  # the default of ingest.yml's `earliest`
MAX_KEY_LENGTH = 256  # characters of a natural key
# Control characters anywhere, or white space (ASCII or Unicode) at either end, make a key invalid.
_BAD_KEY = r"\p{Cc}|^[\s\p{Z}]|[\s\p{Z}]$"


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
    condition: str | None = None  # CONDITION: SQL over batch alias `b`, true when the row fails
    label: str | None = None  # the column named in the reason when it is not `column` (a composite key)
    within: str | None = None  # FIRST_OCCURRENCE: a column whose groups are judged apart (each batch)

    @property
    def reason(self) -> str:
        """Reason code stored with each failing row, e.g. 'unknown_user:user_id'."""
        return f"{self.kind}:{self.label or self.column}"


@dataclass(frozen=True)
class RuleParams:
    """Inputs the rules depend on besides the source: time window, reference data."""

    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    earliest: dt.datetime = EARLIEST_PLAUSIBLE
    known_users: str | None = None  # relation with a user_id column; None skips the check
    known_items: str | None = None  # relation with an item_id column; None skips the check
    seen_keys: str | None = None  # relation with a `key` column of ids already in the lake; None skips
    cast_columns: tuple[str, ...] = ()  # columns read from text and cast (CSV/JSON); see CASTS
    local_columns: tuple[str, ...] = ()  # local times converted from the source's time zone; see LOCAL_TIME
    now: dt.datetime | None = None  # the run's start (naive UTC); None: the start of `today`
    max_future: dt.timedelta = dt.timedelta(days=1)
    currencies: str | None = None  # relation (currency VARCHAR, minor_units INTEGER); None skips currency rules
    known_orders: str | None = None  # relation (order_id, first_batch): orders known from that GATE_BATCH on (-1: lake)
    default_scale: int = MONEY_SCALE  # minor units of the source's default currency (purchases, items)
    default_currency: str = "USD"  # the currency of items.price when price_currency is NULL
    batch_column: str | None = None  # the column naming each row's batch when several are validated together

    @property
    def latest(self) -> dt.datetime:
        """Exclusive upper bound for event times: the run's start plus max_future (UTC, naive)."""
        return (self.now or dt.datetime.combine(self.today, dt.time())) + self.max_future


# Value rules per source: (column, min, max, strict_min, strict_max). Money has an upper
# bound too: besides absurd values it catches NaN and +Infinity, which DuckDB orders
# above every number (so "> 0" alone would admit them).
MAX_MONEY = 1_000_000.0
MAX_LINE_MONEY = 1e13  # order lines in any currency (1e13 JPY is still far below DECIMAL(18, 4)'s 1e14)
MAX_RATE = 1e9
_VALUE_RANGES: dict[str, tuple[tuple[str, float | None, float | None, bool, bool], ...]] = {
    "items": (("price", 0, MAX_MONEY, True, False),),
    "purchases": (("amount", 0, MAX_MONEY, True, False), ("quantity", 1, None, False, False)),
    "ratings": (("rating", 1, 5, False, False),),
    "order_lines": (
        ("line_number", 1, None, False, False),
        ("quantity", 1, None, False, False),
        ("unit_price", 0, MAX_LINE_MONEY, False, False),
        ("line_amount", 0, MAX_LINE_MONEY, False, False),
    ),
    "exchange_rates": (("rate", 0, MAX_RATE, True, False),),
}
_TIME_COLUMNS = {"users": "signup_at", "items": "created_at"}
_DATE_COLUMNS = {"exchange_rates": "rate_date"}  # judged by a condition: GX compares dates and datetimes badly


def invalid_key_sql(column: str) -> str:
    """SQL over alias b: the natural key `column` is set but empty, too long, padded or holds control characters."""
    col = f"CAST(b.{quote_ident(column)} AS VARCHAR)"  # a no-op on text; integer keys pass through validate_batch
    return (
        f"({col} IS NOT NULL AND ({col} = '' OR length({col}) > {MAX_KEY_LENGTH} "
        f"OR regexp_matches({col}, {quote_literal(_BAD_KEY)})))"
    )


def dedupe_column(source: Source) -> str:
    """The column duplicates are judged on: the key, or the gate's text of a composite key (GATE_KEY)."""
    return GATE_KEY if source.composite_key else source.key


def rules_for(source: Source, params: RuleParams) -> tuple[Rule, ...]:
    """All row-level rules for `source`, in a stable order."""
    rules: list[Rule] = [Rule(INVALID_TYPE, c, CASTS) for c in params.cast_columns]
    rules += [Rule(INVALID_LOCAL_TIME, c, LOCAL_TIME) for c in params.local_columns]
    required_refs = [c for c in (source.user_ref, source.item_ref) if c]
    if source.user_ref_nullable and source.user_ref:
        required_refs.remove(source.user_ref)
    keys = [*source.key_columns, *(c for c in required_refs if c not in source.key_columns)]
    for column in keys:
        rules.append(Rule(NULL_KEY, column, NOT_NULL))
    # Facts declare every column nullable (raw data may lack anything), but a fact row
    # without its event time or measured value cannot be partitioned or used.
    must_have = {f.name for f in source.schema if not f.nullable}
    must_have |= {c for c in (source.event_time,) if c}
    if source.is_fact:  # a dimension's attributes may be missing (v2): flagged in the warehouse
        must_have |= {c for c, *_ in _VALUE_RANGES.get(source.name, ())}
    must_have |= set(_REQUIRED_EXTRA.get(source.name, ()))
    for f in source.schema:
        if f.name in must_have and f.name not in keys:
            rules.append(Rule(MISSING_VALUE, f.name, NOT_NULL))
    for column in source.string_keys:
        condition = invalid_key_sql(column)
        if source.name == ORDER_LINES.name and column == "order_id":
            # The id space of migrated v1 purchases (raw_contract.MIGRATED_ORDER_PREFIX) is not a v2 order's.
            text = f"CAST(b.{quote_ident(column)} AS VARCHAR)"
            reserved = f"regexp_matches({text}, {quote_literal(MIGRATED_ORDER_PATTERN)})"
            condition = f"({condition} OR coalesce({reserved}, false))"
        rules.append(Rule(INVALID_KEY, column, CONDITION, condition=condition))
    dedupe, label = dedupe_column(source), source.key_label if source.composite_key else None
    # A dimension batch is a snapshot: a key twice in one batch is a defect, but a later batch
    # updating a key supersedes the earlier one (staging keeps the latest), whether the two
    # batches are validated together or in separate runs.
    within = None if source.is_fact else params.batch_column
    rules.append(Rule(DUPLICATE_EVENT_ID, dedupe, FIRST_OCCURRENCE, label=label, within=within))
    if params.seen_keys:
        rules.append(
            Rule(DUPLICATE_IN_LAKE, dedupe, NOT_IN_REF, ref_relation=params.seen_keys, ref_column="key", label=label)
        )
    rules += _window_rules(source, params)
    for column, lo, hi, strict_lo, strict_hi in _VALUE_RANGES.get(source.name, ()):
        rules.append(
            Rule(INVALID_VALUE, column, BETWEEN, min_value=lo, max_value=hi, strict_min=strict_lo, strict_max=strict_hi)
        )
    rules += _money_rules(source, params)
    if source.name == ORDER_LINES.name:
        rules += _order_line_rules(params)
    if source.name == EXCHANGE_RATES.name:
        rules += _exchange_rate_rules(params)
    if source.user_ref and params.known_users:
        rules.append(
            Rule(UNKNOWN_USER, source.user_ref, KNOWN_REF, ref_relation=params.known_users, ref_column="user_id")
        )
    if source.item_ref and params.known_items:
        rules.append(
            Rule(UNKNOWN_ITEM, source.item_ref, KNOWN_REF, ref_relation=params.known_items, ref_column="item_id")
        )
    return tuple(rules)


_REQUIRED_EXTRA = {"order_lines": ("currency", "line_type"), "exchange_rates": ("rate",)}


def _window_rules(source: Source, params: RuleParams) -> list[Rule]:
    date_column = _DATE_COLUMNS.get(source.name)
    if date_column:
        col = f"b.{quote_ident(date_column)}"
        condition = f"({col} < {sql_value(params.earliest.date())} OR {col} >= {sql_value(params.latest)})"
        return [Rule(TIMESTAMP_OUT_OF_RANGE, date_column, CONDITION, condition=condition)]
    time_column = source.event_time or _TIME_COLUMNS.get(source.name)
    if not time_column:
        return []
    return [
        Rule(
            TIMESTAMP_OUT_OF_RANGE,
            time_column,
            BETWEEN,
            min_value=params.earliest,
            max_value=params.latest,
            strict_max=True,
        )
    ]


def _money_rules(source: Source, params: RuleParams) -> list[Rule]:
    rules = []
    for column in MONEY_COLUMNS.get(source.name, ()):
        currency = CURRENCY_COLUMNS.get((source.name, column))
        if currency is None or params.currencies is None:
            rules.append(Rule(INVALID_PRECISION, column, WHOLE_MINOR_UNITS, scale=params.default_scale))
            continue
        # The row's own currency (items: price_currency, else the default) decides its minor units;
        # an unknown currency (flagged, or quarantined as unknown_currency) is held to MAX_SCALE.
        code = f"b.{quote_ident(currency)}"
        if source.name == ITEMS.name:
            code = f"coalesce({code}, {quote_literal(params.default_currency)})"
        scale = (
            f"coalesce((SELECT c.minor_units FROM {quote_ident(params.currencies)} c WHERE c.currency = {code}), "
            f"{MAX_SCALE})"
        )
        rules.append(
            Rule(
                INVALID_PRECISION,
                column,
                CONDITION,
                condition=f"NOT {whole_minor_units_sql(f'b.{quote_ident(column)}', scale)}",
            )
        )
    return rules


def _order_line_rules(params: RuleParams) -> list[Rule]:
    b = {c: f"b.{quote_ident(c)}" for c in ("line_type", "original_order_id", "original_line_number", "order_id")}
    sale = quote_literal(SALE)
    reversal = ", ".join(quote_literal(t) for t in LINE_TYPES if t != SALE)
    rules = [
        Rule(INVALID_VALUE, "line_type", IN_SET, value_set=LINE_TYPES),
        Rule(
            INVALID_VALUE,
            "original_order_id",
            CONDITION,
            condition=f"({b['line_type']} = {sale} AND {b['original_order_id']} IS NOT NULL)",
        ),
        Rule(
            INVALID_VALUE,
            "original_line_number",
            CONDITION,
            condition=(
                f"({b['original_line_number']} IS NOT NULL AND ({b['original_line_number']} < 1 "
                f"OR {b['original_order_id']} IS NULL OR {b['line_type']} = {sale}))"
            ),
        ),
    ]
    if params.currencies:
        rules.append(
            Rule(UNKNOWN_CURRENCY, "currency", KNOWN_REF, ref_relation=params.currencies, ref_column="currency")
        )
    if params.known_orders:
        known = quote_ident(params.known_orders)
        rules.append(
            Rule(
                UNKNOWN_ORDER,
                "original_order_id",
                CONDITION,
                # Known from the lake (first_batch -1), or from this batch or an earlier one of the group.
                condition=(
                    f"({b['line_type']} IN ({reversal}) AND {b['original_order_id']} IS NOT NULL AND NOT coalesce("
                    f"(SELECT min(k.first_batch) FROM {known} k WHERE k.order_id = {b['original_order_id']}) "
                    f"<= b.{quote_ident(GATE_BATCH)}, false))"
                ),
            )
        )
    window = f"OVER (PARTITION BY b.{quote_ident(GATE_BATCH)}, {b['order_id']})"
    for column in ("user_id", "currency"):
        value = f"coalesce(b.{quote_ident(column)}, '')"
        rules.append(
            Rule(
                INCONSISTENT_ORDER,
                column,
                CONDITION,
                condition=f"({b['order_id']} IS NOT NULL AND min({value}) {window} <> max({value}) {window})",
            )
        )
    return rules


def _exchange_rate_rules(params: RuleParams) -> list[Rule]:
    rules = [
        Rule(
            INVALID_VALUE,
            "base_currency",
            CONDITION,
            condition='(b."currency" = b."base_currency")',
        )
    ]
    if params.currencies:
        for column in ("currency", "base_currency"):
            rules.append(
                Rule(UNKNOWN_CURRENCY, column, KNOWN_REF, ref_relation=params.currencies, ref_column="currency")
            )
    return rules
