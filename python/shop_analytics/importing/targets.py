"""What `shop-analytics import` can write: every landing source's columns (raw data contract v2), by kind.

The importer writes text (NDJSON, every value a JSON string or null) so that a value the
mapping cannot convert still reaches the gate as it was, and is quarantined there with
its reason. The kinds below decide only what the importer may derive or check, never a
conversion: the gate converts and judges every value.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kinds of target columns.
KEY = "key"  # natural key: exact text, never parsed as a number
EVENT_ID = "event_id"  # BIGINT event id of page views, ratings, legacy purchases
INTEGER = "integer"
NUMBER = "number"
TEXT = "text"
TIMESTAMP = "timestamp"
DATE = "date"


@dataclass(frozen=True)
class TargetColumn:
    """One column of a landing source, as the importer sees it."""

    name: str
    kind: str
    required: bool


@dataclass(frozen=True)
class Target:
    """A landing source the importer writes: its columns and which dimension keys its rows reference."""

    name: str
    columns: tuple[TargetColumn, ...]
    time_column: str | None = None  # the column the mapping's timestamp section applies to
    user_column: str | None = None  # references a customer: a users batch can be derived from it
    item_column: str | None = None  # references a product: an items batch can be derived from it

    @property
    def column_names(self) -> tuple[str, ...]:
        """Every column, in contract order (the order of the written batch)."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> TargetColumn:
        """The column called `name`; KeyError if there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


def _c(name: str, kind: str, required: bool = False) -> TargetColumn:
    return TargetColumn(name, kind, required)


USERS = Target(
    "users",
    (_c("user_id", KEY, True), _c("country_code", TEXT), _c("signup_at", TIMESTAMP)),
    time_column="signup_at",
)
ITEMS = Target(
    "items",
    (
        _c("item_id", KEY, True),
        _c("name", TEXT),
        _c("category", TEXT),
        _c("page_url_path", TEXT),
        _c("price", NUMBER),
        _c("price_currency", TEXT),
        _c("created_at", TIMESTAMP),
    ),
    time_column="created_at",
)
PAGE_VIEWS = Target(
    "page_views",
    (
        _c("page_view_id", EVENT_ID, True),
        _c("viewed_at", TIMESTAMP, True),
        _c("user_id", KEY),
        _c("item_id", KEY, True),
    ),
    time_column="viewed_at",
    user_column="user_id",
    item_column="item_id",
)
RATINGS = Target(
    "ratings",
    (
        _c("rating_id", EVENT_ID, True),
        _c("rated_at", TIMESTAMP, True),
        _c("user_id", KEY, True),
        _c("item_id", KEY, True),
        _c("rating", INTEGER, True),
    ),
    time_column="rated_at",
    user_column="user_id",
    item_column="item_id",
)
PURCHASES = Target(
    "purchases",
    (
        _c("purchase_id", EVENT_ID, True),
        _c("purchased_at", TIMESTAMP, True),
        _c("user_id", KEY, True),
        _c("item_id", KEY, True),
        _c("quantity", INTEGER, True),
        _c("amount", NUMBER, True),
    ),
    time_column="purchased_at",
    user_column="user_id",
    item_column="item_id",
)
ORDER_LINES = Target(
    "order_lines",
    (
        _c("order_id", KEY, True),
        _c("line_number", INTEGER, True),
        _c("ordered_at", TIMESTAMP, True),
        _c("user_id", KEY),
        _c("item_id", KEY, True),
        _c("quantity", INTEGER, True),
        _c("unit_price", NUMBER, True),
        _c("line_amount", NUMBER, True),
        _c("currency", TEXT, True),
        _c("line_type", TEXT, True),
        _c("original_order_id", KEY),
        _c("original_line_number", INTEGER),
    ),
    time_column="ordered_at",
    user_column="user_id",
    item_column="item_id",
)
EXCHANGE_RATES = Target(
    "exchange_rates",
    (
        _c("rate_date", DATE, True),
        _c("currency", TEXT, True),
        _c("base_currency", TEXT, True),
        _c("rate", NUMBER, True),
    ),
    time_column="rate_date",
)

TARGETS: tuple[Target, ...] = (USERS, ITEMS, PAGE_VIEWS, RATINGS, PURCHASES, ORDER_LINES, EXCHANGE_RATES)
DIMENSION_TARGETS = {"users": USERS, "items": ITEMS}


def target_by_name(name: str) -> Target:
    """The target source called `name`, or a ValueError listing the valid names."""
    for target in TARGETS:
        if target.name == name:
            return target
    raise ValueError(f"unknown source {name!r}; expected one of: {', '.join(t.name for t in TARGETS)}")
