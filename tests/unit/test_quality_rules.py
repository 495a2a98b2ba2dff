"""Rule lists per source, the single-pass SQL on its own, the check table, currencies seed, batch view."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shop_analytics.quality.batch import batch_files, create_batch_view
from shop_analytics.quality.check_view import check_view_sql
from shop_analytics.quality.currencies import load_currencies
from shop_analytics.quality.raw_contract import (
    ITEMS,
    MIGRATED_ORDER_PATTERN,
    MIGRATED_ORDER_PREFIX,
    ORDER_LINES,
    PAGE_VIEWS,
    PURCHASES,
    RATINGS,
    USERS,
)
from shop_analytics.quality.rules import RuleParams, rules_for
from shop_analytics.quality.rules_sql import row_reasons_sql, write_row_reasons
from shop_analytics.quality.split import admitted_sql, quarantined_sql

# The window starts in 2000 here (ingest.yml's `earliest`; the default is 1970-01-01).
FULL = RuleParams(today=dt.date(2026, 11, 20), earliest=dt.datetime(2000, 1, 1), known_users="ku", known_items="ki")


@pytest.mark.parametrize(
    "source, reasons",
    [
        (
            PAGE_VIEWS,
            [
                "null_key:page_view_id",
                "null_key:item_id",
                "missing_value:viewed_at",
                "invalid_key:user_id",
                "invalid_key:item_id",
                "duplicate_event_id:page_view_id",
                "timestamp_out_of_range:viewed_at",
                "unknown_user:user_id",
                "unknown_item:item_id",
            ],
        ),
        (
            PURCHASES,
            [
                "null_key:purchase_id",
                "null_key:user_id",
                "null_key:item_id",
                "missing_value:purchased_at",
                "missing_value:quantity",
                "missing_value:amount",
                "invalid_key:user_id",
                "invalid_key:item_id",
                "duplicate_event_id:purchase_id",
                "timestamp_out_of_range:purchased_at",
                "invalid_value:amount",
                "invalid_value:quantity",
                "invalid_precision:amount",
                "unknown_user:user_id",
                "unknown_item:item_id",
            ],
        ),
        (
            RATINGS,
            [
                "null_key:rating_id",
                "null_key:user_id",
                "null_key:item_id",
                "missing_value:rated_at",
                "missing_value:rating",
                "invalid_key:user_id",
                "invalid_key:item_id",
                "duplicate_event_id:rating_id",
                "timestamp_out_of_range:rated_at",
                "invalid_value:rating",
                "unknown_user:user_id",
                "unknown_item:item_id",
            ],
        ),
        (
            USERS,
            [
                "null_key:user_id",
                "invalid_key:user_id",
                "duplicate_event_id:user_id",
                "timestamp_out_of_range:signup_at",
            ],
        ),
        (
            ITEMS,
            [
                "null_key:item_id",
                "invalid_key:item_id",
                "duplicate_event_id:item_id",
                "timestamp_out_of_range:created_at",
                "invalid_value:price",
                "invalid_precision:price",
            ],
        ),
    ],
    ids=lambda x: getattr(x, "name", ""),
)
def test_rules_per_source(source, reasons) -> None:
    assert [r.reason for r in rules_for(source, FULL)] == reasons


def test_time_window_ends_at_the_start_of_tomorrow() -> None:
    assert FULL.latest == dt.datetime(2026, 11, 21)
    window = next(r for r in rules_for(PURCHASES, FULL) if r.kind == "timestamp_out_of_range")
    assert (window.min_value, window.max_value, window.strict_min, window.strict_max) == (
        dt.datetime(2000, 1, 1),
        dt.datetime(2026, 11, 21),
        False,
        True,
    )


def _ratings_con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("""CREATE VIEW r AS SELECT * FROM (VALUES
        (0, 1, TIMESTAMP '2017-01-01', 1, 10, 5::SMALLINT),
        (1, 1, TIMESTAMP '2017-01-02', 1, 10, 5::SMALLINT),
        (2, 1, TIMESTAMP '2017-01-03', 1, 10, 5::SMALLINT),
        (3, NULL, TIMESTAMP '2017-01-01', NULL, 10, 0::SMALLINT),
        (4, NULL, TIMESTAMP '1970-01-01', 2, 11, 6::SMALLINT),
        (5, 6, TIMESTAMP '2017-01-01', 3, 12, 1::SMALLINT)
        ) t(__gate_row_number, rating_id, rated_at, user_id, item_id, rating)""")
    con.execute("CREATE VIEW ku AS SELECT * FROM (VALUES (1), (2), (NULL)) t(user_id)")
    con.execute("CREATE VIEW ki AS SELECT * FROM (VALUES (10), (11)) t(item_id)")
    return con


def test_single_pass_sql_reasons_on_its_own() -> None:
    con = _ratings_con()
    write_row_reasons(con, "r", rules_for(RATINGS, FULL), "reasons")
    got = con.execute("SELECT __gate_row_number, reason FROM reasons ORDER BY ALL").fetchall()
    assert got == [
        (1, "duplicate_event_id:rating_id"),
        (2, "duplicate_event_id:rating_id"),
        (3, "invalid_value:rating"),
        (3, "null_key:rating_id"),
        (3, "null_key:user_id"),
        (4, "invalid_value:rating"),
        (4, "null_key:rating_id"),
        (4, "timestamp_out_of_range:rated_at"),
        (5, "unknown_item:item_id"),
        (5, "unknown_user:user_id"),
    ]


def test_check_table_derived_columns() -> None:
    con = _ratings_con()
    rows = con.execute(
        f"SELECT __gate_row_number, __gate_occurrence__rating_id, __gate_known__user_id, __gate_known__item_id "
        f"FROM ({check_view_sql('r', rules_for(RATINGS, FULL))}) ORDER BY __gate_row_number"
    ).fetchall()
    assert rows == [(0, 1, 1, 1), (1, 2, 1, 1), (2, 2, 1, 1), (3, None, 1, 1), (4, None, 1, 1), (5, 1, None, None)]


def test_single_pass_reads_the_batch_once(tmp_path: Path) -> None:
    table = pa.table(
        {"page_view_id": [1], "viewed_at": pa.array([0], pa.timestamp("us")), "user_id": [1], "item_id": [1]}
    )
    pq.write_table(table, tmp_path / "part-00000.parquet")
    con = duckdb.connect()
    create_batch_view(con, "batch", batch_files(tmp_path))
    con.execute("CREATE VIEW ku AS SELECT 1 AS user_id")
    con.execute("CREATE VIEW ki AS SELECT 1 AS item_id")
    explain = con.execute("EXPLAIN (FORMAT json) " + row_reasons_sql("batch", rules_for(PAGE_VIEWS, FULL)))
    names = [node["name"] for tree in json.loads(explain.fetchall()[0][1]) for node in _walk(tree)]
    assert names.count("READ_PARQUET") == 1
    assert "WINDOW" in names
    assert not [n for n in names if "DELIM" in n]


def _walk(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("children", []):
        yield from _walk(child)


def test_batch_view_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no \.parquet files"):
        batch_files(tmp_path)
    with pytest.raises(ValueError, match="at least one file"):
        create_batch_view(duckdb.connect(), "x", [])


def test_currencies_from_a_seed_file(tmp_path: Path) -> None:
    seed = tmp_path / "currencies.csv"
    seed.write_text("currency,numeric,name,minor_units\nJPY,392,Yen,0\nBHD,048,Bahraini Dinar,3\nXAU,959,Gold,\n")
    assert load_currencies(seed) == {"JPY": 0, "BHD": 3, "XAU": None}
    (tmp_path / "bad.csv").write_text("code,name\nUS,United States\n")
    with pytest.raises(ValueError, match="lacks column"):
        load_currencies(tmp_path / "bad.csv")
    (tmp_path / "bad2.csv").write_text("currency,minor_units\nusd,2\n")
    with pytest.raises(ValueError, match="line 2"):
        load_currencies(tmp_path / "bad2.csv")
    with pytest.raises(FileNotFoundError, match="currencies seed"):
        load_currencies(tmp_path / "missing.csv")


def test_the_project_seed_has_iso_4217_minor_units() -> None:
    seed = load_currencies(Path(__file__).resolve().parents[2] / "seeds" / "currencies.csv")
    assert (seed["JPY"], seed["USD"], seed["BHD"], seed["CLF"], seed["XAU"]) == (0, 2, 3, 4, None)
    assert len(seed) > 150


def test_split_puts_every_row_in_exactly_one_side() -> None:
    con = _ratings_con()
    write_row_reasons(con, "r", rules_for(RATINGS, FULL), "reasons")
    admitted = con.execute(f"SELECT * FROM ({admitted_sql('r', 'reasons')}) ORDER BY rated_at").fetchall()
    quarantined = con.execute(
        f"SELECT __gate_row_number, __gate_reasons FROM ({quarantined_sql('r', 'reasons')}) ORDER BY __gate_row_number"
    ).fetchall()
    assert admitted == [(1, dt.datetime(2017, 1, 1), 1, 10, 5)]
    assert [r[0] for r in quarantined] == [1, 2, 3, 4, 5]
    assert quarantined[1] == (2, ["duplicate_event_id:rating_id"])
    assert quarantined[3] == (4, ["invalid_value:rating", "null_key:rating_id", "timestamp_out_of_range:rated_at"])
    assert len(admitted) + len(quarantined) == 6


def test_fact_rows_without_event_time_or_value_are_quarantined() -> None:
    con = duckdb.connect()
    con.execute("""CREATE VIEW r AS SELECT * FROM (VALUES (0, 1, NULL::TIMESTAMP, 1, 10, NULL::SMALLINT))
        t(__gate_row_number, rating_id, rated_at, user_id, item_id, rating)""")
    write_row_reasons(con, "r", rules_for(RATINGS, RuleParams(today=dt.date(2026, 11, 20))), "reasons")
    assert con.execute("SELECT * FROM reasons ORDER BY ALL").fetchall() == [
        (0, "missing_value:rated_at"),
        (0, "missing_value:rating"),
    ]


def test_migrated_order_ids_are_one_namespace_in_gate_and_staging() -> None:
    """The gate reserves exactly the ids staging gives migrated v1 purchases ('purchase:<purchase_id>')."""
    root = Path(__file__).resolve().parents[2]
    staging = (root / "models" / "staging" / "stg_shop__order_lines.sql").read_text()
    # `string`: the type name both engines accept (DuckDB reads it as VARCHAR; docs/spark.md).
    assert f"'{MIGRATED_ORDER_PREFIX}' || cast(purchase_id as string) as order_id" in staging
    assert (
        f"regexp_extract(order_id, '{MIGRATED_ORDER_PATTERN}', 0) = ''"
        in (root / "models" / "staging" / "_shop__models.yml").read_text()
    )
    rule = next(r for r in rules_for(ORDER_LINES, RuleParams()) if r.reason == "invalid_key:order_id")
    assert rule.condition is not None
    ids = ["purchase:5001", "purchase:-5", "purchase:5001x", "Purchase:5001", "purchase:", "5001", "C-purchase:1"]
    with duckdb.connect() as con:
        flagged = con.execute(
            f"SELECT order_id FROM (SELECT unnest(?) AS order_id) b WHERE {rule.condition}", [ids]
        ).fetchall()
    # every migrated id (any BIGINT's text) is reserved, nothing else beyond the ordinary key rules
    assert [i for (i,) in flagged] == ["purchase:5001", "purchase:-5"]
