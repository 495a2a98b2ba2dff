"""A tiny hand-made lake holding every edge case the marts must get right."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

T = dt.datetime
FIRST_BATCH, LATER_BATCH = "2016-01-01", "2017-06-01"
# The edge lake is written around ingest, replays included, so staging must deduplicate it
# (by default it trusts ingest and its unique tests fail on this lake: test_staging_uniqueness.py).
EDGE_DBT_VARS = {"deduplicate_lake_events": True}

USERS = [  # (user_id, country_code, batch)
    (1, "US", FIRST_BATCH),
    (2, "us", FIRST_BATCH),
    (3, "US", FIRST_BATCH),
    (6, "US", FIRST_BATCH),
    (7, "US", FIRST_BATCH),
    (5, "DE", FIRST_BATCH),
    (4, "US", FIRST_BATCH),
    (4, "CA", LATER_BATCH),  # moved abroad: the later snapshot wins
]
ITEMS = [(item, f"cat{item % 2}", f"/items/{item}") for item in (10, 11, 12, 13, 14, 15)]

# (page_view_id, viewed_at, user_id, item_id, batch)
PAGE_VIEWS = [
    # the cutoff day 2017-01-01 in UTC; in America/New_York 00:00 UTC is still 2016-12-31
    (1, T(2017, 1, 1, 0, 0, 0), 1, 11, "2017-01-01"),
    (2, T(2016, 12, 31, 23, 59, 59, 999999), 1, 12, "2016-12-31"),  # one microsecond before the cutoff
    (3, T(2017, 1, 2, 4, 0), 2, 12, "2017-01-02"),  # 2017-01-01 23:00 in New York: on the cutoff day there
    (4, T(2017, 1, 1, 12, 0), 2, 11, "2017-01-01"),
    # rank ties: items 11 and 12 end with the same number of viewers in UTC
    (5, T(2017, 1, 3, 10, 0), 3, 12, "2017-01-03"),
    (6, T(2017, 1, 3, 11, 0), 3, 11, "2017-01-03"),
    (22, T(2017, 1, 7, 10, 0), 1, 12, "2017-01-07"),
    (23, T(2017, 1, 8, 10, 0), 7, 12, "2017-01-08"),
    # the same user viewing the same page again counts once as a viewer, twice as views
    (7, T(2017, 1, 3, 12, 0), 3, 11, "2017-01-03"),
    # duplicate event: the same page view delivered again by a later batch
    (8, T(2017, 1, 4, 9, 0), 1, 13, "2017-01-04"),
    (8, T(2017, 1, 4, 9, 0), 1, 13, "2017-01-09"),
    # anonymous views: counted in trends, never in the audience marts
    (9, T(2017, 1, 4, 9, 30), None, 13, "2017-01-04"),
    (10, T(2017, 1, 4, 9, 31), None, 13, "2017-01-04"),
    (11, T(2017, 1, 5, 9, 0), None, 10, "2017-01-05"),
    # users outside the country, a user who moved abroad, a user missing from the snapshot
    (12, T(2017, 1, 5, 10, 0), 5, 13, "2017-01-05"),
    (13, T(2017, 1, 5, 10, 0), 4, 13, "2017-01-05"),
    (14, T(2017, 1, 5, 10, 0), 99, 13, "2017-01-05"),
    # an item with a single viewer
    (15, T(2017, 1, 6, 8, 0), 6, 14, "2017-01-06"),
    (16, T(2017, 1, 6, 9, 0), 6, 14, "2017-01-06"),
    # trends: a gap longer than the window, then a return; a view on the last day
    (17, T(2017, 1, 12, 8, 0), 7, 15, "2017-01-12"),
    (18, T(2017, 1, 13, 8, 0), 7, 10, "2017-01-13"),
    (19, T(2017, 1, 13, 9, 0), None, 10, "2017-01-13"),
    (20, T(2017, 1, 14, 23, 30), 7, 15, "2017-01-14"),  # New York: still 2017-01-14, the last day
    (21, T(2017, 1, 15, 3, 0), 7, 11, "2017-01-15"),  # New York: 2017-01-14 22:00
]

# (purchase_id, purchased_at, user_id, item_id, quantity, amount, batch)
PURCHASES = [
    # exactly at midnight UTC, and one microsecond before it: two UTC days, one New York day
    (1, T(2017, 3, 10, 0, 0, 0), 1, 10, 1, 10.00, "2017-03-10"),
    (2, T(2017, 3, 9, 23, 59, 59, 999999), 1, 11, 2, 5.25, "2017-03-09"),
    (3, T(2017, 3, 10, 12, 0), 1, 12, 1, 0.10, "2017-03-10"),
    # around midnight New York (04:00/05:00 UTC in March before DST): one UTC day, two New York days
    (4, T(2017, 3, 11, 4, 30), 2, 10, 1, 3.33, "2017-03-11"),
    (5, T(2017, 3, 11, 5, 30), 2, 10, 1, 3.33, "2017-03-11"),
    (6, T(2017, 3, 11, 5, 45), 2, 13, 3, 0.01, "2017-03-11"),
    # a null user: no customer
    (7, T(2017, 3, 11, 6, 0), None, 10, 1, 99.99, "2017-03-11"),
    (8, T(2017, 3, 11, 6, 5), None, 10, 1, 99.99, "2017-03-11"),
    # duplicate event: delivered twice, counted once (so no repeat day for customer 3)
    (9, T(2017, 4, 1, 15, 0), 3, 11, 1, 20.00, "2017-04-01"),
    (9, T(2017, 4, 1, 15, 0), 3, 11, 1, 20.00, "2017-04-03"),
    # one purchase only
    (10, T(2017, 5, 5, 5, 5), 6, 14, 1, 7.77, "2017-05-05"),
]


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _write_facts(lake: Path, name: str, schema: pa.Schema, rows: list[tuple], time_column: int) -> None:
    by_file: dict[tuple[dt.date, str], list[tuple]] = {}
    for row in rows:
        by_file.setdefault((row[time_column].date(), row[-1]), []).append(row[:-1])
    for (event_date, batch), file_rows in sorted(by_file.items()):
        columns = list(zip(*file_rows, strict=True))
        table = pa.table({f.name: pa.array(col, f.type) for f, col in zip(schema, columns, strict=True)}, schema=schema)
        _write(table, lake / name / f"event_date={event_date}" / f"batch_{batch}_0.parquet")


def write_edge_lake(lake: Path) -> Path:
    """Write the edge-case lake under `lake` in the ingest's layout and types; return `lake`."""
    for batch in sorted({b for *_, b in USERS}):
        rows = [(u, c) for u, c, b in USERS if b == batch]
        _write(
            pa.table(
                {
                    "user_id": pa.array([r[0] for r in rows], pa.int64()),
                    "country_code": [r[1] for r in rows],
                    "signup_at": pa.array([T(2015, 1, 1)] * len(rows), pa.timestamp("us")),
                }
            ),
            lake / "users" / f"batch_{batch}.parquet",
        )
    _write(
        pa.table(
            {
                "item_id": pa.array([i for i, _, _ in ITEMS], pa.int64()),
                "category": [c for _, c, _ in ITEMS],
                "page_url_path": [p for _, _, p in ITEMS],
                "price": [1.0] * len(ITEMS),
                "created_at": pa.array([T(2015, 1, 1)] * len(ITEMS), pa.timestamp("us")),
            }
        ),
        lake / "items" / f"batch_{FIRST_BATCH}.parquet",
    )
    _write_facts(
        lake,
        "page_views",
        pa.schema(
            [
                ("page_view_id", pa.int64()),
                ("viewed_at", pa.timestamp("us")),
                ("user_id", pa.int64()),
                ("item_id", pa.int64()),
            ]
        ),
        PAGE_VIEWS,
        1,
    )
    _write_facts(
        lake,
        "purchases",
        pa.schema(
            [
                ("purchase_id", pa.int64()),
                ("purchased_at", pa.timestamp("us")),
                ("user_id", pa.int64()),
                ("item_id", pa.int64()),
                ("quantity", pa.int32()),
                ("amount", pa.float64()),
            ]
        ),
        PURCHASES,
        1,
    )
    return lake


def edge_lake_root(root: Path) -> Path:
    """`root` with the edge-case lake written to `root`/lake (a DataLayout root)."""
    write_edge_lake(root / "lake")
    return root
