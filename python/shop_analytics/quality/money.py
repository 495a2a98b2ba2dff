"""The one precision rule for money: amounts and prices are whole minor units of their currency.

Landing carries money as DOUBLE; staging casts it to DECIMAL(18, MAX_SCALE). A value
with more decimals than its currency has minor units (0.004 USD, 1.5 JPY, 0.0005 BHD)
would be rounded there, silently, so the gate quarantines it instead with
``invalid_precision:<column>``. Minor units come from seeds/currencies.csv (ISO 4217:
JPY 0, USD 2, BHD 3, CLF 4): per row for order lines (their ``currency``) and items
(``price_currency``, else the source's default currency); the legacy purchases carry no
currency and use the default currency's (USD: 2). A currency without minor units in
ISO 4217 (gold, SDR), or an unknown one, is held to MAX_SCALE, which the staging cast
keeps exactly.

Binary floating point cannot hold most cent values exactly (19.99 is 19.989999...), so
"whole" means within PRECISION_TOLERANCE of a whole number of minor units, far below a
minor unit and far above double rounding noise for amounts up to the gate's bounds.
"""

from __future__ import annotations

MONEY_SCALE = 2  # minor units of USD, the default currency
MAX_SCALE = 4  # the most minor units of any ISO 4217 currency (CLF, UYW); staging's DECIMAL(18, 4)
PRECISION_TOLERANCE = 1e-6  # in minor units
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "items": ("price",),
    "purchases": ("amount",),
    "order_lines": ("unit_price", "line_amount"),
}
# The column holding each money column's currency; absent: the source's default currency.
CURRENCY_COLUMNS: dict[tuple[str, str], str] = {
    ("items", "price"): "price_currency",
    ("order_lines", "unit_price"): "currency",
    ("order_lines", "line_amount"): "currency",
}


def whole_minor_units_sql(value_sql: str, scale: int | str) -> str:
    """SQL boolean: `value_sql` is NULL, not finite (other rules judge those), or a whole number of minor units.

    `scale` is a number of decimal places, or SQL for one (e.g. a lookup of the row's currency).
    """
    factor = f"{10**scale}" if isinstance(scale, int) else f"power(10, {scale})"
    scaled = f"(CAST({value_sql} AS DOUBLE) * {factor})"
    return (
        f"({value_sql} IS NULL OR NOT isfinite(CAST({value_sql} AS DOUBLE)) "
        f"OR abs({scaled} - round({scaled})) <= {PRECISION_TOLERANCE!r})"
    )
