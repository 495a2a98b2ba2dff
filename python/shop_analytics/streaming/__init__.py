"""Chunked processing of Arrow record batches with mergeable aggregators.

Usage::

    from shop_analytics.streaming import run, GroupedAggregate, HeavyHittersAggregator
    top = run(HeavyHittersAggregator("item_id", capacity=1000), "lake/page_views").top(100)
"""

from shop_analytics.streaming.exact import GroupedAggregate
from shop_analytics.streaming.protocol import Aggregator
from shop_analytics.streaming.runner import run
from shop_analytics.streaming.sketch_aggs import (
    BloomAggregator,
    DistinctAggregator,
    GroupedDistinctAggregator,
    HeavyHittersAggregator,
)
from shop_analytics.streaming.sources import count_rows, iter_batches, iter_micro_batches, open_dataset

__all__ = [
    "Aggregator",
    "BloomAggregator",
    "DistinctAggregator",
    "GroupedAggregate",
    "GroupedDistinctAggregator",
    "HeavyHittersAggregator",
    "count_rows",
    "iter_batches",
    "iter_micro_batches",
    "open_dataset",
    "run",
]
