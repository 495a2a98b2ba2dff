"""Arrow UDFs that do no work: the ceiling for any Python UDF in DuckDB.

DuckDB converts every 2048-row chunk to Arrow and back around a Python UDF, so
no Python UDF can filter rows faster than one that only answers True. The
sketch and streaming benchmarks time these next to ``bloom_contains``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:  # the streaming benchmark's children import duckdb only where they use it
    import duckdb


def register_empty_udf(con: duckdb.DuckDBPyConnection, name: str, *, takes_filter: bool = False) -> None:
    """Register ``name(key BIGINT)``, or ``name(filter BLOB, key BIGINT)``: True for every row, no work."""

    def all_true(keys: pa.Array) -> pa.Array:
        return pa.array(np.ones(len(keys), dtype=bool))

    # DuckDB reads the UDF's arity from its signature, so each shape is its own function.
    if takes_filter:
        udf, types = (lambda _filter, keys: all_true(keys)), ["BLOB", "BIGINT"]
    else:
        udf, types = all_true, ["BIGINT"]
    con.create_function(name, udf, types, "BOOLEAN", type="arrow", null_handling="special", side_effects=False)
