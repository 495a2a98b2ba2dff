"""Row-for-row comparison of one model built twice: on DuckDB and on Spark (test_spark_parity.py), or twice on DuckDB.

Spark's rows are written by the Thrift Server itself as Parquet (`insert overwrite directory`), so
both sides are read with pyarrow into the same Python types: no driver-side conversion of strings.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from shop_analytics.spark.export import export_parquet

FLOAT_REL_TOL = 1e-9
_RELATION = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


def duckdb_table(warehouse: Path, relation: str) -> pa.Table:
    """Every row of `relation` in the DuckDB build file."""
    assert _RELATION.match(relation), relation
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select * from {relation}").to_arrow_table()


def spark_table(port: int, relation: str, folder: Path) -> pa.Table:
    """Every row of `relation` on the Thrift Server at 127.0.0.1:`port`, exported to `folder` as Parquet."""
    export_parquet(port, relation, folder)
    return pq.read_table(folder)


def _value(value: Any) -> Any:
    # Spark's Parquet timestamps are UTC instants; DuckDB's staging timestamps are naive UTC.
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # Floats sort by 9 significant digits, so values equal within the tolerance sort alike.
    return tuple((0, 0) if v is None else (1, float(f"{v:.9g}")) if isinstance(v, float) else (1, v) for v in row)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=0.0)
    return bool(a == b) and (a is None) == (b is None)


def assert_same_rows(
    model: str, duck: pa.Table, spark: pa.Table, labels: tuple[str, str] = ("DuckDB", "Spark")
) -> None:
    """Same columns in the same order, same row count, and row for row the same values (floats rel 1e-9).

    `labels` name the two builds in the failure message (by default a DuckDB and a Spark build).
    """
    assert spark.column_names == duck.column_names, f"{model}: columns differ"
    assert spark.num_rows == duck.num_rows, (
        f"{model}: {duck.num_rows} rows on {labels[0]}, {spark.num_rows} on {labels[1]}"
    )
    duck_rows = sorted((tuple(_value(v) for v in row.values()) for row in duck.to_pylist()), key=_sort_key)
    spark_rows = sorted((tuple(_value(v) for v in row.values()) for row in spark.to_pylist()), key=_sort_key)
    for index, (d, s) in enumerate(zip(duck_rows, spark_rows, strict=True)):
        differing = [
            f"{name}: {labels[0].lower()}={dv!r} {labels[1].lower()}={sv!r}"
            for name, dv, sv in zip(duck.column_names, d, s, strict=True)
            if not _same(dv, sv)
        ]
        assert not differing, f"{model}: sorted row {index} differs: " + "; ".join(differing)
