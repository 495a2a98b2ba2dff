"""A hand-made contract-v2 lake: orders with lines, reversals, currencies, rates, countries, one v1 purchase.

Written with pyarrow in the ingest's layout and column types (natural keys VARCHAR, quantity and
line numbers INTEGER, money DOUBLE in whole minor units, naive-UTC microsecond timestamps), around
ingest, so every edge case is exactly what the tests say it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

T = dt.datetime
D = dt.date
BATCH = "2021-04-01"
LATER_BATCH = "2021-04-02"

USERS = [  # (user_id, country as delivered)
    ("C001", "GB"),
    ("C002", " united   kingdom "),  # the ISO name, odd case and spacing: alias
    ("C003", "uk"),  # legacy code from the alias map
    ("C004", "Atlantis"),  # unknown: flagged, still in revenue
    ("C005", None),  # missing
    ("007", "deu"),  # alpha-3; a key with leading zeros is not the key '7'
    ("7", "EL"),  # legacy alias of GR
    ("C008", "us"),
]
ITEMS = [  # (item_id, name, category, price, price_currency)
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "cat0", 2.55, "GBP"),
    ("22423", "REGENCY CAKESTAND 3 TIER", "cat1", 12.75, "GBP"),
    ("POST", "POSTAGE", "Gadgets", 18.0, None),  # category not in the seed: unknown
    ("10", "A numeric-looking code", None, 1.0, "USD"),  # category missing
]
RATES = [  # (rate_date, currency, base_currency, rate): one unit of currency = rate units of base
    (D(2021, 3, 26), "GBP", "USD", 1.38),
    (D(2021, 3, 29), "GBP", "USD", 1.39),
    (D(2021, 3, 25), "USD", "EUR", 0.8),  # EUR -> USD only through the inverse
    (D(2021, 3, 27), "JPY", "EUR", 0.0077),  # JPY -> USD triangulated through EUR
    (D(2021, 3, 1), "CHF", "USD", 1.08),  # too old for late-March lines: missing rate
]

# (order_id, line_number, ordered_at, user_id, item_id, quantity, unit_price, line_amount, currency,
#  line_type, original_order_id, original_line_number, batch)
SALE, CANCEL, RETURN = "sale", "cancellation", "return"
ORDER_LINES: list[tuple] = [
    # O1: spans midnight UTC (two UTC dates, one Berlin date); item 85123A on two lines
    ("O1", 1, T(2021, 3, 26, 23, 50), "C001", "85123A", 6, 2.55, 15.30, "GBP", SALE, None, None, BATCH),
    ("O1", 2, T(2021, 3, 27, 0, 10), "C001", "22423", 2, 12.75, 25.50, "GBP", SALE, None, None, BATCH),
    ("O1", 3, T(2021, 3, 27, 0, 10), "C001", "85123A", 4, 2.55, 10.20, "GBP", SALE, None, None, BATCH),
    # partial cancellation on a later day, matched by item over lines 1 and 3 (6 + 2 units)
    ("C-O1", 1, T(2021, 3, 30, 9, 0), "C001", "85123A", 8, 2.55, 20.40, "GBP", CANCEL, "O1", None, LATER_BATCH),
    # O2: identical lines with different line numbers (not duplicates); line 2 returned later
    ("O2", 1, T(2021, 3, 28, 1, 30), "C002", "22423", 1, 100.0, 100.0, "EUR", SALE, None, None, BATCH),
    ("O2", 2, T(2021, 3, 28, 1, 30), "C002", "22423", 1, 100.0, 100.0, "EUR", SALE, None, None, BATCH),
    ("R-O2", 1, T(2021, 3, 29, 10, 0), "C002", "22423", 1, 100.0, 100.0, "EUR", RETURN, "O2", 2, LATER_BATCH),
    # O3: fully cancelled on the same day
    ("O3", 1, T(2021, 3, 28, 10, 0), "C003", "POST", 1, 18.0, 18.0, "GBP", SALE, None, None, BATCH),
    ("C-O3", 1, T(2021, 3, 28, 11, 0), "C003", "POST", 1, 18.0, 18.0, "GBP", CANCEL, "O3", 1, BATCH),
    # O4: yen (no decimals), triangulated; returned in two parts on two later days
    ("O4", 1, T(2021, 3, 28, 12, 0), "C004", "85123A", 3, 400.0, 1200.0, "JPY", SALE, None, None, BATCH),
    ("R-O4a", 1, T(2021, 3, 29, 12, 0), "C004", "85123A", 1, 400.0, 400.0, "JPY", RETURN, "O4", 1, LATER_BATCH),
    ("R-O4b", 1, T(2021, 3, 31, 12, 0), "C004", "85123A", 2, 400.0, 800.0, "JPY", RETURN, "O4", None, LATER_BATCH),
    # O5: a guest order at 22:30 UTC, which is the next day in Berlin on the DST change day
    ("O5", 1, T(2021, 3, 28, 22, 30), None, "10", 1, 9.99, 9.99, "USD", SALE, None, None, BATCH),
    # O6: francs with only a stale rate; O7: kronor with no rate at all
    ("O6", 1, T(2021, 3, 28, 13, 0), "C005", "10", 2, 5.0, 10.0, "CHF", SALE, None, None, BATCH),
    ("O7", 1, T(2021, 3, 28, 14, 0), "007", "10", 1, 50.0, 50.0, "SEK", SALE, None, None, BATCH),
    # customer '7': two orders that day plus a v1 purchase (below) and a cancelled order
    ("O8a", 1, T(2021, 3, 28, 9, 0), "7", "10", 1, 3.0, 3.0, "USD", SALE, None, None, BATCH),
    ("O8a", 2, T(2021, 3, 28, 9, 0), "7", "POST", 1, 4.0, 4.0, "USD", SALE, None, None, BATCH),
    ("O8b", 1, T(2021, 3, 28, 20, 0), "7", "10", 2, 3.0, 5.5, "USD", SALE, None, None, BATCH),  # discounted
    ("O8c", 1, T(2021, 3, 28, 21, 0), "7", "10", 1, 3.0, 3.0, "USD", SALE, None, None, BATCH),
    ("C-O8c", 1, T(2021, 3, 28, 21, 5), "7", "10", 1, 3.0, 3.0, "USD", CANCEL, "O8c", 1, BATCH),
    # a credit note: reverses no order, reduces C001's totals and its own day's revenue
    ("CN1", 1, T(2021, 3, 31, 8, 0), "C001", "85123A", 1, 5.0, 5.0, "GBP", RETURN, None, None, LATER_BATCH),
    # O9: over-reversed (2 returned of 1 sold), and a return of an item the order never held
    ("O9", 1, T(2021, 3, 27, 15, 0), "C008", "10", 1, 10.0, 10.0, "USD", SALE, None, None, BATCH),
    ("R-O9", 1, T(2021, 3, 30, 15, 0), "C008", "10", 2, 10.0, 20.0, "USD", RETURN, "O9", 1, LATER_BATCH),
    ("R-O9", 2, T(2021, 3, 30, 15, 0), "C008", "POST", 1, 4.0, 4.0, "USD", RETURN, "O9", None, LATER_BATCH),
    # a return naming an order the lake does not hold (the gate quarantines these; a lake written
    # around it may still have one): a credit note of its customer, never dropped
    ("R-X", 1, T(2021, 3, 30, 16, 0), "C008", "10", 1, 2.0, 2.0, "USD", RETURN, "NOT-IN-LAKE", 1, LATER_BATCH),
    # a pre-2000 order (admitted under a widened ingest window), at midnight of the millennium
    (
        "O0",
        1,
        T(1999, 12, 31, 23, 59, 59, 999999),
        "C001",
        "POST",
        1,
        18.0,
        18.0,
        "USD",
        SALE,
        None,
        None,
        "1999-12-31",
    ),
]
# v1 purchases: (purchase_id, purchased_at, user_id, item_id, quantity, amount, batch)
PURCHASES = [(5001, T(2021, 3, 28, 15, 0), "7", "22423", 1, 12.0, BATCH)]

# ingest audit export: (source, batch_id, status, rows_in, admitted, quarantined, [(reason, rows)], version, seq)
AUDIT = [
    (
        "order_lines",
        BATCH,
        "committed",
        120,
        100,
        20,
        [("unknown_order:original_order_id", 15), ("invalid_value:quantity", 5)],
        2,
        1,
    ),
    ("users", BATCH, "committed", 8, 8, 0, [], 2, 2),
    ("purchases", "2021-04-03", "rejected", 10, 0, 10, [("unknown_user:user_id", 10)], 1, 3),
]
AUDIT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("batch_id", pa.string()),
        ("status", pa.string()),
        ("rows_in", pa.int64()),
        ("rows_admitted", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("quarantined_by_reason", pa.list_(pa.struct([("reason", pa.string()), ("rows", pa.int64())]))),
        ("contract_version", pa.int32()),
        ("committed_at", pa.timestamp("us")),
        ("commit_seq", pa.int64()),
    ]
)

ORDER_LINE_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("line_number", pa.int32()),
        ("ordered_at", pa.timestamp("us")),
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("quantity", pa.int32()),
        ("unit_price", pa.float64()),
        ("line_amount", pa.float64()),
        ("currency", pa.string()),
        ("line_type", pa.string()),
        ("original_order_id", pa.string()),
        ("original_line_number", pa.int32()),
    ]
)
PURCHASE_SCHEMA = pa.schema(
    [
        ("purchase_id", pa.int64()),
        ("purchased_at", pa.timestamp("us")),
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("quantity", pa.int32()),
        ("amount", pa.float64()),
    ]
)
RATE_SCHEMA = pa.schema(
    [("rate_date", pa.date32()), ("currency", pa.string()), ("base_currency", pa.string()), ("rate", pa.float64())]
)
USER_SCHEMA = pa.schema([("user_id", pa.string()), ("country_code", pa.string()), ("signup_at", pa.timestamp("us"))])
ITEM_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("page_url_path", pa.string()),
        ("price", pa.float64()),
        ("price_currency", pa.string()),
        ("created_at", pa.timestamp("us")),
    ]
)


def write_table(path: Path, schema: pa.Schema, rows: Iterable[Sequence[object]]) -> None:
    """Write `rows` (tuples in `schema`'s column order) as one Parquet file, creating folders."""
    columns = list(zip(*rows, strict=True)) or [[] for _ in schema]
    table = pa.table({f.name: pa.array(c, f.type) for f, c in zip(schema, columns, strict=True)}, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def write_facts(lake: Path, source: str, schema: pa.Schema, rows: list[tuple], date_of: int) -> None:
    """Rows ending in their batch id, one file per (event_date, batch) as ingest lays them out."""
    by_file: dict[tuple[dt.date, str], list[tuple]] = {}
    for row in rows:
        when = row[date_of]
        day = when.date() if isinstance(when, dt.datetime) else when
        by_file.setdefault((day, row[-1]), []).append(row[:-1])
    for (day, batch), file_rows in sorted(by_file.items()):
        write_table(lake / source / f"event_date={day}" / f"batch_{batch}_0.parquet", schema, file_rows)


def write_commerce_lake(lake: Path) -> Path:
    """Write the commerce edge-case lake under `lake`; return `lake`."""
    signup = T(2020, 1, 1)
    write_table(lake / "users" / f"batch_{BATCH}.parquet", USER_SCHEMA, [(u, c, signup) for u, c in USERS])
    write_table(
        lake / "items" / f"batch_{BATCH}.parquet",
        ITEM_SCHEMA,
        [(i, n, c, f"/items/{i}", p, cur, signup) for i, n, c, p, cur in ITEMS],
    )
    write_facts(lake, "exchange_rates", RATE_SCHEMA, [(*r, BATCH) for r in RATES], 0)
    write_facts(lake, "order_lines", ORDER_LINE_SCHEMA, ORDER_LINES, 2)
    write_facts(lake, "purchases", PURCHASE_SCHEMA, PURCHASES, 1)
    for source, batch, status, rows_in, admitted, quarantined, reasons, version, seq in AUDIT:
        write_table(
            lake / "_ingest_audit" / f"batch_{source}__{batch}.parquet",
            AUDIT_SCHEMA,
            [
                (
                    source,
                    batch,
                    status,
                    rows_in,
                    admitted,
                    quarantined,
                    [{"reason": r, "rows": n} for r, n in reasons],
                    version,
                    T(2021, 4, 3, 12, seq),
                    seq,
                )
            ],
        )
    return lake
