"""The DuckDB-vs-Spark row comparison itself (tests/support/engine_parity.py) finds every kind of difference."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from support.engine_parity import assert_same_rows

BASE = {
    "id": ["a", "b", None],
    "n": [1, 2, 3],
    "x": [0.1, 1e6 / 3, 2.5],
    "d": [Decimal("1.5000"), Decimal("2.0000"), None],
    "t": [dt.datetime(2018, 1, 1, 12), dt.datetime(2018, 1, 2), None],
}


def _table(**changes: list[object]) -> pa.Table:
    return pa.table({**BASE, **changes})


def test_the_same_rows_in_another_order_and_utc_instants_match() -> None:
    spark = pa.table({name: list(reversed(values)) for name, values in BASE.items()})
    aware = [None if v is None else v.replace(tzinfo=dt.UTC) for v in spark.column("t").to_pylist()]
    spark = spark.set_column(4, "t", pa.array(aware, pa.timestamp("us", tz="UTC")))
    assert_same_rows("m", _table(), spark)


def test_floats_match_within_rel_1e_9_only() -> None:
    assert_same_rows("m", _table(), _table(x=[0.1 * (1 + 1e-12), 1e6 / 3, 2.5]))
    with pytest.raises(AssertionError, match="x: duckdb"):
        assert_same_rows("m", _table(), _table(x=[0.1 * (1 + 1e-8), 1e6 / 3, 2.5]))


@pytest.mark.parametrize(
    "changes",
    [
        {"id": ["a", "c", None]},
        {"n": [1, 2, 4]},
        {"d": [Decimal("1.5001"), Decimal("2.0000"), None]},
        {"d": [Decimal("1.5000"), Decimal("2.0000"), Decimal("0")]},
        {"t": [dt.datetime(2018, 1, 1, 12, 0, 0, 1), dt.datetime(2018, 1, 2), None]},
    ],
)
def test_any_differing_value_fails(changes: dict[str, list[object]]) -> None:
    with pytest.raises(AssertionError, match="differs"):
        assert_same_rows("m", _table(), _table(**changes))


def test_a_missing_row_or_column_fails() -> None:
    with pytest.raises(AssertionError, match="rows on DuckDB"):
        assert_same_rows("m", _table(), _table().slice(0, 2))
    with pytest.raises(AssertionError, match="columns differ"):
        assert_same_rows("m", _table(), _table().drop_columns(["x"]))
