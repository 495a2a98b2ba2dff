"""The dbt Python model of the sparse similarity engine (models/intermediate/recommendations/similarity_sparse)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from shop_analytics.dbt.streaming_models import relation_sql
from shop_analytics.recommendations.similarity import NEIGHBOURS_SCHEMA, top_k_neighbours
from shop_analytics.sql import one_value

DATASET_NEIGHBOURS_SCHEMA = pa.schema([pa.field("dataset", pa.string()), *NEIGHBOURS_SCHEMA])


def build_similarity(session: Any, centred_ratings: Any, k: int, min_co_rated: int) -> pa.RecordBatchReader:
    """Exact top-K neighbours of every dataset in a centred-ratings relation, streamed one dataset at a time."""
    # As many block threads as DuckDB may use (SHOP_ANALYTICS_DUCKDB_THREADS).
    threads = int(one_value(session, "select current_setting('threads')"))
    relation = relation_sql(centred_ratings)
    datasets = [row[0] for row in session.sql(f"select distinct dataset from {relation} order by dataset").fetchall()]

    def batches() -> Iterator[pa.RecordBatch]:
        # dbt-duckdb writes the returned stream on a second cursor while this one reads, so
        # a dataset's ratings are loaded only when the previous dataset's rows are written:
        # memory holds one dataset's matrices and neighbours, as a model per dataset did.
        for dataset in datasets:
            ratings = (
                session.execute(
                    f"select user_id, item_id, centred_rating, user_norm from {relation} where dataset = ?", [dataset]
                )
                .arrow()
                .read_all()
            )
            neighbours = top_k_neighbours(ratings, k, min_co_rated, threads=threads)
            del ratings
            for batch in neighbours.to_batches():
                yield pa.RecordBatch.from_arrays(
                    [pa.repeat(pa.scalar(dataset, pa.string()), batch.num_rows), *batch.columns],
                    schema=DATASET_NEIGHBOURS_SCHEMA,
                )
            del neighbours

    return pa.RecordBatchReader.from_batches(DATASET_NEIGHBOURS_SCHEMA, batches())
