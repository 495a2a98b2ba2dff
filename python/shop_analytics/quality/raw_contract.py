"""The raw data contract (version 2): every source's columns, types and keys, in one place.

The generator writes these schemas, ingest validates against them, and
docs/raw_data_contract.md describes them for people bringing their own data. Version 1
(integer keys, the legacy one-row-per-purchase source) is still admitted: see v1_schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

# Timestamps are UTC instants stored without an offset (naive), in microseconds.
TIMESTAMP = pa.timestamp("us")

# Landing layout: <source>/batch_date=<batch id>/<files>, complete once the folder holds
# COMPLETION_MARKER (an empty file the producer writes last: the Hadoop/Spark convention).
BATCH_PREFIX = "batch_date="
BATCH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
BATCH_ID_GRAMMAR = (
    f"1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (regex {BATCH_ID.pattern})"
)
COMPLETION_MARKER = "_SUCCESS"


def batch_id_problem(batch_id: str) -> str | None:
    """Why `batch_id` is not a valid batch id, or None."""
    if BATCH_ID.fullmatch(batch_id):
        return None
    shown = batch_id if len(batch_id) <= 80 else batch_id[:77] + "..."
    return f"batch id {shown!r} is not valid: a batch id is {BATCH_ID_GRAMMAR}"


@dataclass(frozen=True)
class Source:
    """One raw source: its schema (contract v2, what the lake holds) and the roles its columns play."""

    name: str
    schema: pa.Schema
    key: str  # the event id (facts) or natural key (dimensions); the first key column of a composite key
    event_time: str | None = None
    user_ref: str | None = None
    item_ref: str | None = None
    user_ref_nullable: bool = False
    composite_key: tuple[str, ...] = ()  # several columns that together identify a row, e.g. (order_id, line_number)
    string_keys: tuple[str, ...] = ()  # natural-key columns: text, never altered; integers accepted and converted
    v1_schema: pa.Schema | None = None  # contract v1 (integer keys), for producers of the legacy shapes

    @property
    def is_fact(self) -> bool:
        """Facts are event streams partitioned by event date; dimensions are snapshots."""
        return self.event_time is not None

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The columns that identify a row: the composite key, or the key alone."""
        return self.composite_key or (self.key,)

    @property
    def key_label(self) -> str:
        """The key as named in reasons: ``purchase_id``, or ``order_id+line_number`` for a composite key."""
        return "+".join(self.key_columns)

    @property
    def legacy_schema(self) -> pa.Schema:
        """The schema producers of contract v1 write (integer keys); the v2 schema for sources new in v2."""
        return self.v1_schema if self.v1_schema is not None else self.schema

    def fact_column(self, role: str) -> str:
        """The column playing `role` (event_time, user_ref or item_ref) in a fact source; an error if none does."""
        column = {"event_time": self.event_time, "user_ref": self.user_ref, "item_ref": self.item_ref}[role]
        if column is None:
            raise ValueError(f"source {self.name} has no {role} column: it is not a fact source")
        return column


def _field(name: str, type_: pa.DataType, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable)


KEY = pa.string()  # natural keys: customers, products, orders
EVENT_ID = pa.int64()  # event ids of page views, ratings and legacy purchases
MONEY = pa.float64()  # whole minor units of the row's currency (the gate checks); DECIMAL(18, 4) from staging on

USERS = Source(
    name="users",
    key="user_id",
    string_keys=("user_id",),
    schema=pa.schema(
        [_field("user_id", KEY, False), _field("country_code", pa.string()), _field("signup_at", TIMESTAMP)]
    ),
    v1_schema=pa.schema(
        [
            _field("user_id", pa.int64(), False),
            _field("country_code", pa.string(), False),
            _field("signup_at", TIMESTAMP, False),
        ]
    ),
)

ITEMS = Source(
    name="items",
    key="item_id",
    string_keys=("item_id",),
    schema=pa.schema(
        [
            _field("item_id", KEY, False),
            _field("category", pa.string()),
            _field("page_url_path", pa.string()),
            _field("price", MONEY),
            _field("created_at", TIMESTAMP),
            _field("name", pa.string()),
            _field("price_currency", pa.string()),
        ]
    ),
    v1_schema=pa.schema(
        [
            _field("item_id", pa.int64(), False),
            _field("category", pa.string(), False),
            _field("page_url_path", pa.string(), False),
            _field("price", MONEY, False),
            _field("created_at", TIMESTAMP, False),
        ]
    ),
)


def _event_schema(id_column: str, time_column: str, *values: pa.Field, user: pa.DataType = KEY) -> pa.Schema:
    return pa.schema(
        [_field(id_column, EVENT_ID), _field(time_column, TIMESTAMP), _field("user_id", user), _field("item_id", user)]
        + list(values)
    )


PAGE_VIEWS = Source(
    name="page_views",
    key="page_view_id",
    event_time="viewed_at",
    user_ref="user_id",
    item_ref="item_id",
    user_ref_nullable=True,  # anonymous views carry no user
    string_keys=("user_id", "item_id"),
    schema=_event_schema("page_view_id", "viewed_at"),
    v1_schema=_event_schema("page_view_id", "viewed_at", user=pa.int64()),
)

PURCHASES = Source(
    name="purchases",
    key="purchase_id",
    event_time="purchased_at",
    user_ref="user_id",
    item_ref="item_id",
    string_keys=("user_id", "item_id"),
    schema=_event_schema("purchase_id", "purchased_at", _field("quantity", pa.int32()), _field("amount", MONEY)),
    v1_schema=_event_schema(
        "purchase_id", "purchased_at", _field("quantity", pa.int32()), _field("amount", MONEY), user=pa.int64()
    ),
)

RATINGS = Source(
    name="ratings",
    key="rating_id",
    event_time="rated_at",
    user_ref="user_id",
    item_ref="item_id",
    string_keys=("user_id", "item_id"),
    schema=_event_schema("rating_id", "rated_at", _field("rating", pa.int16())),
    v1_schema=_event_schema("rating_id", "rated_at", _field("rating", pa.int16()), user=pa.int64()),
)

# Line types of order_lines: a sale, or a reversal of (part of) an earlier sale.
SALE = "sale"
CANCELLATION = "cancellation"
RETURN = "return"
LINE_TYPES: tuple[str, ...] = (SALE, CANCELLATION, RETURN)
# A v1 purchase becomes the order "purchase:<purchase_id>" in the warehouse (stg_shop__order_lines), and a
# v2 reversal names it so. The gate refuses a v2 order_id of that form (invalid_key), so the two id spaces
# never meet: a v2 order "123" and purchase 123 stay two orders.
MIGRATED_ORDER_PREFIX = "purchase:"
MIGRATED_ORDER_PATTERN = r"^purchase:-?[0-9]+$"

ORDER_LINES = Source(
    name="order_lines",
    key="order_id",
    composite_key=("order_id", "line_number"),
    event_time="ordered_at",
    user_ref="user_id",
    item_ref="item_id",
    user_ref_nullable=True,  # guest checkout
    string_keys=("order_id", "user_id", "item_id", "original_order_id"),
    schema=pa.schema(
        [
            _field("order_id", KEY),
            _field("line_number", pa.int32()),
            _field("ordered_at", TIMESTAMP),
            _field("user_id", KEY),
            _field("item_id", KEY),
            _field("quantity", pa.int32()),
            _field("unit_price", MONEY),
            _field("line_amount", MONEY),
            _field("currency", pa.string()),
            _field("line_type", pa.string()),
            _field("original_order_id", KEY),
            _field("original_line_number", pa.int32()),
        ]
    ),
)

EXCHANGE_RATES = Source(
    name="exchange_rates",
    key="rate_date",
    composite_key=("rate_date", "currency", "base_currency"),
    event_time="rate_date",
    schema=pa.schema(
        [
            _field("rate_date", pa.date32()),
            _field("currency", pa.string()),
            _field("base_currency", pa.string()),
            _field("rate", pa.float64()),
        ]
    ),
)

DIMENSIONS: tuple[Source, ...] = (USERS, ITEMS)
# New sources go last: the generator seeds its random streams by a source's position here.
FACTS: tuple[Source, ...] = (PAGE_VIEWS, PURCHASES, RATINGS, ORDER_LINES, EXCHANGE_RATES)
ALL_SOURCES: tuple[Source, ...] = DIMENSIONS + FACTS


def source_by_name(name: str) -> Source:
    """Return the source called `name`, or raise a ValueError listing the valid names."""
    for source in ALL_SOURCES:
        if source.name == name:
            return source
    valid = ", ".join(s.name for s in ALL_SOURCES)
    raise ValueError(f"unknown source {name!r}; expected one of: {valid}")
