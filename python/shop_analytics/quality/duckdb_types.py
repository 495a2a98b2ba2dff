"""DuckDB type names: families, and which changes count as safe widening.

The allowlist follows Iceberg / Delta type widening: integers up (TINYINT ->
SMALLINT -> INTEGER -> BIGINT), FLOAT -> DOUBLE, DECIMAL precision up with the same
scale. Anything else inside a family (e.g. TIMESTAMP -> TIMESTAMP_NS) is not widening.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import pyarrow as pa

_INTEGER_ORDER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT")
_UNSIGNED_ORDER = ("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_FLOAT_ORDER = ("FLOAT", "DOUBLE")
_FAMILY_OF = {
    **dict.fromkeys((*_INTEGER_ORDER, "HUGEINT"), "integer"),
    **dict.fromkeys((*_UNSIGNED_ORDER, "UHUGEINT"), "unsigned integer"),
    **dict.fromkeys(_FLOAT_ORDER, "floating point"),
    **dict.fromkeys(
        ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE"), "timestamp"
    ),
    "VARCHAR": "string",
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


@dataclass(frozen=True)
class Decimal:
    """A parsed DECIMAL(precision, scale)."""

    precision: int
    scale: int


def parse_decimal(type_name: str) -> Decimal | None:
    """DECIMAL(p,s) as numbers, or None for any other type."""
    m = _DECIMAL.match(type_name.strip().upper())
    return Decimal(int(m.group(1)), int(m.group(2))) if m else None


def family(type_name: str) -> str:
    """The type family of a DuckDB type name (decimal, integer, timestamp, ... or the name itself)."""
    name = type_name.strip().upper()
    if parse_decimal(name):
        return "decimal"
    return _FAMILY_OF.get(name, name.lower())


def _rank(order: tuple[str, ...], name: str) -> int | None:
    return order.index(name) if name in order else None


def compare(old: str, new: str) -> str:
    """Classify old -> new: 'same', 'widening', 'narrowing', 'other' (same family) or 'family_change'."""
    a, b = old.strip().upper(), new.strip().upper()
    if a == b:
        return "same"
    if family(a) != family(b):
        return "family_change"
    da, db = parse_decimal(a), parse_decimal(b)
    if da and db:
        if da.scale != db.scale:
            return "other"
        return "widening" if db.precision > da.precision else "narrowing"
    for order in (_INTEGER_ORDER, _FLOAT_ORDER):
        ra, rb = _rank(order, a), _rank(order, b)
        if ra is not None and rb is not None:
            return "widening" if rb > ra else "narrowing"
    ra, rb = _rank(_UNSIGNED_ORDER, a), _rank(_UNSIGNED_ORDER, b)
    if ra is not None and rb is not None and rb < ra:
        return "narrowing"  # unsigned widening is not on the allowlist: reported as 'other'
    if "HUGEINT" in (a, b) and family(a) == "integer":
        return "narrowing" if a == "HUGEINT" else "other"
    return "other"


def duckdb_type_names(schema: pa.Schema) -> list[str]:
    """The DuckDB type name DuckDB itself gives each field of an Arrow schema."""
    con = duckdb.connect()
    try:
        con.register("empty_batch", schema.empty_table())
        return [row[1] for row in con.execute("DESCRIBE SELECT * FROM empty_batch").fetchall()]
    finally:
        con.close()
