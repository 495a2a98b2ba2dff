"""A hand-made lake of two real-data edges: v2 order ids equal to v1 purchase ids, and long exchange rates.

A shop that moves from contract v1 to v2 keeps its old purchases (numeric ids 5001, 77) and starts
numbering orders again, so its v2 order `5001` has nothing to do with purchase 5001: the warehouse
must keep them apart (the purchase becomes the order `purchase:5001`), and a cancellation must reach
the one it names. Rates are written as real rate files give them: a tiny rate with 20 decimals
(VND -> USD), one with 19 decimals (IRR -> USD), a 15-decimal leg of a triangulation (MXN -> EUR),
and a large rate only the other way round (USD -> IDR 16300.5, so IDR lines use 1 / 16300.5), on
amounts large enough that rounding any rate to 12 places would change the money.
Written with pyarrow in the ingest's layout, around ingest (the gate's part is tested on its own).
"""

from __future__ import annotations

from pathlib import Path

from oracles.commerce_lake import (
    ITEM_SCHEMA,
    ORDER_LINE_SCHEMA,
    PURCHASE_SCHEMA,
    RATE_SCHEMA,
    USER_SCHEMA,
    D,
    T,
    write_facts,
    write_table,
)

BATCH = "2021-04-01"
LATER = "2021-04-02"
USERS = ["U1", "U2", "U3"]
ITEMS = [("I1", 10.0), ("I2", 3.5)]
RATES = [  # (rate_date, currency, base_currency, rate)
    (D(2021, 3, 27), "USD", "IDR", 16300.5),  # IDR -> USD only inverted
    (D(2021, 3, 27), "IRR", "USD", 0.0000237512345678901),
    (D(2021, 3, 27), "VND", "USD", 0.00000012345678901234),
    (D(2021, 3, 27), "MXN", "EUR", 0.046512345678901),  # MXN -> USD triangulated through EUR
    (D(2021, 3, 27), "USD", "EUR", 0.8),
]
SALE, CANCEL, RETURN = "sale", "cancellation", "return"
# (order_id, line_number, ordered_at, user_id, item_id, quantity, unit_price, line_amount, currency,
#  line_type, original_order_id, original_line_number, batch)
ORDER_LINES: list[tuple] = [
    # the v2 order 5001: two lines, line 2 returned later
    ("5001", 1, T(2021, 3, 28, 9, 0), "U2", "I1", 1, 10.0, 10.0, "USD", SALE, None, None, BATCH),
    ("5001", 2, T(2021, 3, 28, 9, 0), "U2", "I2", 2, 3.5, 7.0, "USD", SALE, None, None, BATCH),
    ("R-5001", 1, T(2021, 3, 30, 9, 0), "U2", "I2", 2, 3.5, 7.0, "USD", RETURN, "5001", 2, LATER),
    # the legacy purchase 5001, cancelled by its warehouse order id
    ("C-P5001", 1, T(2021, 3, 28, 18, 0), "U1", "I1", 1, 12.0, 12.0, "USD", CANCEL, "purchase:5001", None, LATER),
    # the v2 order 77 of another customer on the day of purchase 77
    ("77", 1, T(2021, 3, 28, 11, 0), "U3", "I2", 1, 3.5, 3.5, "USD", SALE, None, None, BATCH),
    # long rates on large amounts (every amount within the gate's 1e13 and whole minor units)
    *(
        (order_id, n, T(2021, 3, 28, hour, 0), "U3", item, 1, amount, amount, currency, SALE, None, None, BATCH)
        for order_id, n, hour, item, amount, currency in [
            ("FX-IDR", 1, 12, "I1", 12345678901.23, "IDR"),
            ("FX-IDR", 2, 12, "I2", 150000.0, "IDR"),
            ("FX-IRR", 1, 13, "I1", 9876543210987.65, "IRR"),
            ("FX-VND", 1, 14, "I1", 987654321098.0, "VND"),
            ("FX-MXN", 1, 15, "I1", 1234567890.12, "MXN"),
        ]
    ),
    # a partial return converted at the tiny rate: its reporting amount is split exactly
    ("R-FX-VND", 1, T(2021, 3, 29, 14, 0), "U3", "I1", 1, 3.0, 3.0, "VND", RETURN, "FX-VND", 1, LATER),
]
# v1 purchases: (purchase_id, purchased_at, user_id, item_id, quantity, amount, batch)
PURCHASES = [
    (5001, T(2021, 3, 28, 10, 0), "U1", "I1", 1, 12.0, BATCH),
    (77, T(2021, 3, 28, 16, 0), "U1", "I2", 2, 7.0, BATCH),
]


def write_migration_fx_lake(lake: Path) -> Path:
    """Write the lake under `lake` (users, items, rates, order lines, purchases); return `lake`."""
    signup = T(2020, 1, 1)
    write_table(lake / "users" / f"batch_{BATCH}.parquet", USER_SCHEMA, [(u, "US", signup) for u in USERS])
    write_table(
        lake / "items" / f"batch_{BATCH}.parquet",
        ITEM_SCHEMA,
        [(i, i, "cat0", f"/items/{i}", p, "USD", signup) for i, p in ITEMS],
    )
    write_facts(lake, "exchange_rates", RATE_SCHEMA, [(*r, BATCH) for r in RATES], 0)
    write_facts(lake, "order_lines", ORDER_LINE_SCHEMA, ORDER_LINES, 2)
    write_facts(lake, "purchases", PURCHASE_SCHEMA, PURCHASES, 1)
    return lake
