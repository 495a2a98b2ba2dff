"""The one precision rule for money: amounts and prices are whole minor units (cents).

Landing carries money as DOUBLE; staging casts it to DECIMAL(12, MONEY_SCALE). A
value with more decimals (0.004) would be rounded there, silently (or to 0.00, which
then fails a dbt test and stops the marts), so the gate quarantines it instead with
``invalid_precision:<column>``. Binary floating point cannot hold most cent values
exactly (19.99 is 19.989999...), so "whole" means within PRECISION_TOLERANCE of a
whole number of minor units, far below a cent and far above double rounding noise
for amounts up to the gate's MAX_MONEY. tests/integration/test_ingest_adversarial.py checks that
the staging models cast with the same scale.

The scale is a function of the column so that per-currency minor units (ISO 4217:
JPY 0, KWD 3) can replace the constant without touching the rule.
"""

from __future__ import annotations

MONEY_SCALE = 2  # digits after the decimal point: USD cents; staging's DECIMAL(12, 2)
PRECISION_TOLERANCE = 1e-6  # in minor units
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {"items": ("price",), "purchases": ("amount",)}


def money_scale(source: str, column: str) -> int:
    """Decimal places a money value of `source`.`column` may have."""
    del source, column  # one currency today; see the module docstring
    return MONEY_SCALE


def whole_minor_units_sql(value_sql: str, scale: int) -> str:
    """SQL boolean: `value_sql` is NULL, not finite (other rules judge those), or a whole number of minor units."""
    scaled = f"(CAST({value_sql} AS DOUBLE) * {10**scale})"
    return (
        f"({value_sql} IS NULL OR NOT isfinite(CAST({value_sql} AS DOUBLE)) "
        f"OR abs({scaled} - round({scaled})) <= {PRECISION_TOLERANCE!r})"
    )
