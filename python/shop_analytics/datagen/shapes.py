"""Landing shapes of raw contract v2 (docs: /work/notes/contract_v2.md section 1), as the generator writes them.

Natural keys (customers, products, orders) are strings; event ids stay BIGINT. The
legacy v1 `purchases` source keeps its integer-keyed shape from quality.raw_contract.
"""

from __future__ import annotations

import pyarrow as pa

from shop_analytics.quality.raw_contract import PURCHASES, TIMESTAMP, Source

KEY = pa.string()

USERS = Source(
    name="users",
    key="user_id",
    schema=pa.schema(
        [
            pa.field("user_id", KEY, nullable=False),
            pa.field("country_code", pa.string()),
            pa.field("signup_at", TIMESTAMP),
        ]
    ),
)

ITEMS = Source(
    name="items",
    key="item_id",
    schema=pa.schema(
        [
            pa.field("item_id", KEY, nullable=False),
            pa.field("name", pa.string()),
            pa.field("category", pa.string()),
            pa.field("page_url_path", pa.string()),
            pa.field("price", pa.float64()),
            pa.field("price_currency", pa.string()),
            pa.field("created_at", TIMESTAMP),
        ]
    ),
)

PAGE_VIEWS = Source(
    name="page_views",
    key="page_view_id",
    event_time="viewed_at",
    user_ref="user_id",
    item_ref="item_id",
    user_ref_nullable=True,
    schema=pa.schema(
        [
            pa.field("page_view_id", pa.int64()),
            pa.field("viewed_at", TIMESTAMP),
            pa.field("user_id", KEY),
            pa.field("item_id", KEY),
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
            pa.field("user_id", KEY),
            pa.field("item_id", KEY),
            pa.field("rating", pa.int16()),
        ]
    ),
)

ORDER_LINES = Source(
    name="order_lines",
    key="order_id",  # with line_number: the key is (order_id, line_number)
    event_time="ordered_at",
    user_ref="user_id",
    item_ref="item_id",
    user_ref_nullable=True,  # guest checkout
    schema=pa.schema(
        [
            pa.field("order_id", KEY),
            pa.field("line_number", pa.int32()),
            pa.field("ordered_at", TIMESTAMP),
            pa.field("user_id", KEY),
            pa.field("item_id", KEY),
            pa.field("quantity", pa.int32()),
            pa.field("unit_price", pa.float64()),
            pa.field("line_amount", pa.float64()),
            pa.field("currency", pa.string()),
            pa.field("line_type", pa.string()),
            pa.field("original_order_id", KEY),
            pa.field("original_line_number", pa.int32()),
        ]
    ),
)

EXCHANGE_RATES = Source(
    name="exchange_rates",
    key="rate_date",  # with currency and base_currency
    schema=pa.schema(
        [
            pa.field("rate_date", pa.date32()),
            pa.field("currency", pa.string()),
            pa.field("base_currency", pa.string()),
            pa.field("rate", pa.float64()),
        ]
    ),
)

DIMENSIONS: tuple[Source, ...] = (USERS, ITEMS)
# Every source the generator can write, in the order it plans them (fixed: it seeds the RNGs).
ALL_SOURCES: tuple[Source, ...] = (USERS, ITEMS, PAGE_VIEWS, PURCHASES, RATINGS, ORDER_LINES, EXCHANGE_RATES)


def source_named(name: str) -> Source:
    """The generator's shape of source `name`."""
    return next(s for s in ALL_SOURCES if s.name == name)
