"""The raw data contract: every source's columns, types and keys, in one place.

The generator writes these schemas, ingest validates against them, and
docs/raw_data_contract.md describes them for people bringing their own data.
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
    """One raw source: its schema and the roles its columns play."""

    name: str
    schema: pa.Schema
    key: str
    event_time: str | None = None
    user_ref: str | None = None
    item_ref: str | None = None
    user_ref_nullable: bool = False

    @property
    def is_fact(self) -> bool:
        """Facts are event streams partitioned by event date; dimensions are snapshots."""
        return self.event_time is not None

    def fact_column(self, role: str) -> str:
        """The column playing `role` (event_time, user_ref or item_ref) in a fact source; an error if none does."""
        column = {"event_time": self.event_time, "user_ref": self.user_ref, "item_ref": self.item_ref}[role]
        if column is None:
            raise ValueError(f"source {self.name} has no {role} column: it is not a fact source")
        return column


USERS = Source(
    name="users",
    key="user_id",
    schema=pa.schema(
        [
            pa.field("user_id", pa.int64(), nullable=False),
            pa.field("country_code", pa.string(), nullable=False),
            pa.field("signup_at", TIMESTAMP, nullable=False),
        ]
    ),
)

ITEMS = Source(
    name="items",
    key="item_id",
    schema=pa.schema(
        [
            pa.field("item_id", pa.int64(), nullable=False),
            pa.field("category", pa.string(), nullable=False),
            pa.field("page_url_path", pa.string(), nullable=False),
            pa.field("price", pa.float64(), nullable=False),
            pa.field("created_at", TIMESTAMP, nullable=False),
        ]
    ),
)

PAGE_VIEWS = Source(
    name="page_views",
    key="page_view_id",
    event_time="viewed_at",
    user_ref="user_id",
    item_ref="item_id",
    user_ref_nullable=True,  # anonymous views carry no user
    schema=pa.schema(
        [
            pa.field("page_view_id", pa.int64()),
            pa.field("viewed_at", TIMESTAMP),
            pa.field("user_id", pa.int64()),
            pa.field("item_id", pa.int64()),
        ]
    ),
)

PURCHASES = Source(
    name="purchases",
    key="purchase_id",
    event_time="purchased_at",
    user_ref="user_id",
    item_ref="item_id",
    schema=pa.schema(
        [
            pa.field("purchase_id", pa.int64()),
            pa.field("purchased_at", TIMESTAMP),
            pa.field("user_id", pa.int64()),
            pa.field("item_id", pa.int64()),
            pa.field("quantity", pa.int32()),
            pa.field("amount", pa.float64()),
        ]
    ),
)

RATINGS = Source(
    name="ratings",
    key="rating_id",
    event_time="rated_at",
    user_ref="user_id",
    item_ref="item_id",
    schema=pa.schema(
        [
            pa.field("rating_id", pa.int64()),
            pa.field("rated_at", TIMESTAMP),
            pa.field("user_id", pa.int64()),
            pa.field("item_id", pa.int64()),
            pa.field("rating", pa.int16()),
        ]
    ),
)

DIMENSIONS: tuple[Source, ...] = (USERS, ITEMS)
FACTS: tuple[Source, ...] = (PAGE_VIEWS, PURCHASES, RATINGS)
ALL_SOURCES: tuple[Source, ...] = DIMENSIONS + FACTS


def source_by_name(name: str) -> Source:
    """Return the source called `name`, or raise a ValueError listing the valid names."""
    for source in ALL_SOURCES:
        if source.name == name:
            return source
    valid = ", ".join(s.name for s in ALL_SOURCES)
    raise ValueError(f"unknown source {name!r}; expected one of: {valid}")
