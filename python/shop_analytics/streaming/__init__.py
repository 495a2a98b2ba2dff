"""Chunked processing of Arrow record batches with mergeable aggregators.

Every aggregator follows ``Aggregator`` (init / update(batch) / merge /
finalize); ``run`` drives one over a Parquet path or dataset, an Arrow table
or reader, a DuckDB relation, or any iterable of record batches, in
``mode="batch"`` (one pass), ``"micro_batch"`` (per file, or every
``micro_batch_rows`` rows, merged) or ``"streaming"`` (one record at a time).

In a dbt-duckdb Python model::

    from shop_analytics.streaming import run, GroupedDistinctAggregator, HeavyHittersAggregator

    def model(dbt, session):
        views = dbt.ref("stg_shop__page_views")            # DuckDBPyRelation
        daily = run(GroupedDistinctAggregator(["item_id"], "user_id", time_column="viewed_at"),
                    views, columns=["item_id", "user_id", "viewed_at"])
        return daily                                           # item_id, day, distinct_estimate, sketch

        # heavy hitters: hh = run(HeavyHittersAggregator("item_id", capacity=2000), views)
        #                hh.top(100)  -> item, lower, upper, estimate;  hh.to_bytes() -> BLOB
"""

from shop_analytics.streaming.exact import GroupedAggregate
from shop_analytics.streaming.protocol import Aggregator
from shop_analytics.streaming.readers import count_rows, iter_batches, iter_micro_batches, open_dataset
from shop_analytics.streaming.runner import run
from shop_analytics.streaming.sketch_aggs import (
    BloomAggregator,
    DistinctAggregator,
    GroupedDistinctAggregator,
    HeavyHittersAggregator,
)

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
