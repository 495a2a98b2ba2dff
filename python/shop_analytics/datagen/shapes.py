"""The sources the generator writes, as the raw contract defines them (quality/raw_contract.py).

The generator writes every source in its contract v2 shape, except the legacy `purchases`,
which it writes in the v1 shape (integer keys) that producers of v1 data send.
"""

from __future__ import annotations

import pyarrow as pa

from shop_analytics.quality.raw_contract import (
    EXCHANGE_RATES,
    ITEMS,
    ORDER_LINES,
    PAGE_VIEWS,
    PURCHASES,
    RATINGS,
    USERS,
    Source,
)

__all__ = ["ALL_SOURCES", "DIMENSIONS", "EXCHANGE_RATES", "ITEMS", "ORDER_LINES", "USERS", "landing_schema"]

DIMENSIONS: tuple[Source, ...] = (USERS, ITEMS)
# Every source the generator can write, in the order it plans them (fixed: it seeds the RNGs).
ALL_SOURCES: tuple[Source, ...] = (USERS, ITEMS, PAGE_VIEWS, PURCHASES, RATINGS, ORDER_LINES, EXCHANGE_RATES)


def source_named(name: str) -> Source:
    """The raw contract's source `name`, among those the generator writes."""
    return next(s for s in ALL_SOURCES if s.name == name)


def landing_schema(source: Source) -> pa.Schema:
    """The shape the generator writes `source` in: v1 for the legacy purchases, v2 for every other source."""
    return source.legacy_schema if source is PURCHASES else source.schema
