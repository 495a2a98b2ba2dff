"""The dbt Python models of the sparse similarity engine (models/intermediate/recommendations/similarity_sparse)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from shop_analytics.recommendations.similarity import top_k_neighbours
from shop_analytics.streaming_marts import relation_sql


def build_similarity(session: Any, centred_ratings: Any, k: int, min_co_rated: int) -> pa.Table:
    """Read a centred-ratings relation and return its exact top-K neighbour table."""
    # As many block threads as DuckDB may use (SHOP_ANALYTICS_DUCKDB_THREADS).
    threads = int(session.sql("select current_setting('threads')").fetchone()[0])
    ratings = session.sql(
        f"select user_id, item_id, centred_rating, user_norm from {relation_sql(centred_ratings)}"
    ).arrow().read_all()
    return top_k_neighbours(ratings, k, min_co_rated, threads=threads)
