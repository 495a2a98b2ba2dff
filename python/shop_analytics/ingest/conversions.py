"""Exact conversions to contract types: a value converts only if nothing is lost, else it is NULL.

CSV and JSON carry text; some Parquet types need converting too. DuckDB's TRY_CAST
rounds ('42.7' -> 43 for BIGINT) and drops what it cannot parse ('10:00:00+05:00' ->
10:00), so every conversion here first checks the text's shape:

- integers: optional sign and digits, nothing else ('42.0', '1.5', '1e3' are refused),
  within the type's range;
- floating point: decimal or scientific notation, or nan / inf / infinity (the value
  rules judge those);
- DECIMAL(p, s): at most s digits after the point, within p digits;
- TIMESTAMP: ISO 8601 ``YYYY-MM-DD[(T| )HH:MM[:SS[.ffffff]]][Z|±HH[[:]MM]]``; an offset
  or Z is converted to UTC, a value without one is taken as UTC; more than 6
  fractional digits (sub-microsecond) is refused;
- DATE: ``YYYY-MM-DD``; BOOLEAN: true / false (any case);
- any other type: only if the value casts and casts back to the same text.

Surrounding spaces are allowed. A value that does not convert becomes NULL, and the
reader's cast-ok flag turns it into ``invalid_type:<column>`` with the raw text kept.
"""

from __future__ import annotations

from shop_analytics.quality.duckdb_types import parse_decimal
from shop_analytics.sql import quote_literal

_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_SPACES = "[ ]*"
_INTEGER = rf"{_SPACES}[+-]?[0-9]+{_SPACES}"
_FLOAT = rf"{_SPACES}([+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(?i:nan|inf|infinity)){_SPACES}"
_DATE = rf"{_SPACES}[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}{_SPACES}"
_TIMESTAMP = (
    rf"^{_SPACES}([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})"
    rf"(?:[Tt ]([0-9]{{2}}):([0-9]{{2}})(?::([0-9]{{2}})(\.[0-9]{{1,6}})?)?)?"
    rf"{_SPACES}(?:([Zz])|([+-])([0-9]{{2}})(?::?([0-9]{{2}}))?)?{_SPACES}$"
)
MAX_OFFSET_HOURS = 18  # ISO 8601 allows more; no time zone in use has more than 14

# Parquet types the reader converts to the contract's TIMESTAMP: (value SQL, exactness SQL or None).
TIMESTAMP_SOURCES = {
    "TIMESTAMP WITH TIME ZONE": ("make_timestamp(epoch_us({c}))", None),  # an instant: its UTC wall time
    "TIMESTAMP_S": ("CAST({c} AS TIMESTAMP)", None),
    "TIMESTAMP_MS": ("CAST({c} AS TIMESTAMP)", None),
    "TIMESTAMP_NS": ("make_timestamp(epoch_ns({c}) // 1000)", "epoch_ns({c}) % 1000 = 0"),
}


def _matches(raw: str, pattern: str) -> str:
    return f"regexp_full_match({raw}, {quote_literal(pattern)})"


def text_to_type_sql(raw: str, type_name: str) -> str:
    """SQL for the VARCHAR expression `raw` converted exactly to `type_name`, NULL when that would lose anything."""
    t = type_name.strip().upper()
    if t == "VARCHAR":
        return raw
    if t in _INTEGER_TYPES:
        return f"CASE WHEN {_matches(raw, _INTEGER)} THEN TRY_CAST(trim({raw}) AS {t}) END"
    if t in _FLOAT_TYPES:
        return f"CASE WHEN {_matches(raw, _FLOAT)} THEN TRY_CAST(trim({raw}) AS {t}) END"
    decimal = parse_decimal(t)
    if decimal is not None:
        fraction_only = rf"|\.[0-9]{{1,{decimal.scale}}}" if decimal.scale else ""
        digits = rf"{_SPACES}[+-]?([0-9]+(\.[0-9]{{0,{decimal.scale}}})?{fraction_only}){_SPACES}"
        return f"CASE WHEN {_matches(raw, digits)} THEN TRY_CAST(trim({raw}) AS {t}) END"
    if t == "TIMESTAMP":
        return _timestamp_sql(raw)
    if t == "DATE":
        return f"CASE WHEN {_matches(raw, _DATE)} THEN TRY_CAST(trim({raw}) AS DATE) END"
    if t == "BOOLEAN":
        return f"CASE lower(trim({raw})) WHEN 'true' THEN true WHEN 'false' THEN false END"
    return f"CASE WHEN CAST(TRY_CAST({raw} AS {t}) AS VARCHAR) = trim({raw}) THEN TRY_CAST({raw} AS {t}) END"


def _timestamp_sql(raw: str) -> str:
    p = f"regexp_extract({raw}, {quote_literal(_TIMESTAMP)}, ['d', 'h', 'mi', 's', 'f', 'z', 'sg', 'oh', 'om'])"
    local = (
        f"TRY_CAST({p}.d || ' ' || coalesce(nullif({p}.h, ''), '00') || ':' || coalesce(nullif({p}.mi, ''), '00')"
        f" || ':' || coalesce(nullif({p}.s, ''), '00') || {p}.f AS TIMESTAMP)"
    )
    hours = f"coalesce(TRY_CAST(nullif({p}.oh, '') AS INTEGER), 0)"
    minutes = f"coalesce(TRY_CAST(nullif({p}.om, '') AS INTEGER), 0)"
    offset = f"(CASE {p}.sg WHEN '-' THEN -1 ELSE 1 END) * ({hours} * 60 + {minutes})"
    return (
        f"CASE WHEN {p}.d <> '' AND {hours} <= {MAX_OFFSET_HOURS} AND {minutes} < 60 "
        f"THEN {local} - to_minutes({offset}) END"
    )


def parquet_timestamp_sql(column: str, type_name: str) -> tuple[str, str | None] | None:
    """(value, exact) SQL converting Parquet column `column` of `type_name` to TIMESTAMP, or None if not convertible.

    `exact` is None when every value converts exactly, else a boolean that is false for a
    value that would lose precision (sub-microsecond nanoseconds).
    """
    found = TIMESTAMP_SOURCES.get(type_name.strip().upper())
    if found is None:
        return None
    value, exact = found
    return value.format(c=column), exact.format(c=column) if exact else None
