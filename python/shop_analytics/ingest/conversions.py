"""Exact conversions to contract types: a value converts only if nothing is lost, else it is NULL.

CSV and JSON carry text; some Parquet types need converting too. DuckDB's TRY_CAST
rounds ('42.7' -> 43 for BIGINT) and drops what it cannot parse ('10:00:00+05:00' ->
10:00), so every conversion here first checks the text's shape:

- integers: optional sign and digits, nothing else ('42.0', '1.5', '1e3' are refused),
  within the type's range;
- floating point: decimal or scientific notation, or nan / inf / infinity (the value
  rules judge those);
- DECIMAL(p, s): at most s digits after the point, within p digits;
- TIMESTAMP, timestamp_format ``iso8601`` (the default):
  ``YYYY-MM-DD[(T| )HH:MM[:SS[.ffffff]]][Z|±HH[[:]MM]]``; an offset or Z is converted to
  UTC, a value without one is local time in the source's time_zone (default UTC; see
  local_to_utc_sql for DST days); more than 6 fractional digits (sub-microsecond) is refused;
- TIMESTAMP, ``epoch_s``: seconds since 1970-01-01 UTC, an integer with up to 6 decimals;
  ``epoch_ms``: milliseconds, an integer with up to 3 decimals;
- DATE: ``YYYY-MM-DD``; BOOLEAN: true / false (any case);
- any other type: only if the value casts and casts back to the same text.

Surrounding spaces are allowed. A value that does not convert becomes NULL, and the
reader's cast-ok flag turns it into ``invalid_type:<column>`` with the raw text kept.
"""

from __future__ import annotations

import duckdb

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


UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal"})
_EPOCH = {
    "epoch_s": (rf"{_SPACES}[+-]?[0-9]{{1,11}}(\.[0-9]{{1,6}})?{_SPACES}", 1_000_000),
    "epoch_ms": (rf"{_SPACES}[+-]?[0-9]{{1,14}}(\.[0-9]{{1,3}})?{_SPACES}", 1_000),
}
MAX_EPOCH_SECONDS = 253_402_300_799  # 9999-12-31 23:59:59 UTC: beyond, DuckDB's TIMESTAMP has no room
LOCAL_MACRO = "__gate_local_to_utc"  # (local TIMESTAMP, zone) -> UTC TIMESTAMP; ambiguous: the earlier instant
EXISTS_MACRO = "__gate_local_exists"  # (local TIMESTAMP, zone) -> false inside a spring-forward gap


def create_time_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the local-time macros in `con` (idempotent).

    A local time L in zone Z has two candidate instants: L minus the UTC offset in force a
    day before, and L minus the offset a day after (they differ only around a transition).
    A candidate is real when it reads as L in Z. Two real candidates: L is ambiguous (the
    autumn hour repeats) and the earlier instant wins; none: L falls in the spring-forward
    gap and does not exist. (Zones with two transitions within two days are not handled.)
    """
    offset = "(timezone(z, timezone('UTC', u)) - u)"  # local minus UTC at the UTC instant u
    c1 = f"(l - {offset.replace('u', '(l - INTERVAL 1 DAY)')})"
    c2 = f"(l - {offset.replace('u', '(l + INTERVAL 1 DAY)')})"

    def real(c: str) -> str:
        return f"(timezone(z, timezone('UTC', {c})) = l)"

    con.execute(
        f"CREATE OR REPLACE MACRO {LOCAL_MACRO}(l, z) AS CASE WHEN {real(c1)} AND {real(c2)} THEN least({c1}, {c2}) "
        f"WHEN {real(c2)} THEN {c2} ELSE {c1} END"
    )
    con.execute(f"CREATE OR REPLACE MACRO {EXISTS_MACRO}(l, z) AS l IS NULL OR {real(c1)} OR {real(c2)}")


def is_utc(time_zone: str) -> bool:
    """True if naive times in `time_zone` are UTC already (no conversion needed)."""
    return time_zone in UTC_ZONES


def local_to_utc_sql(local: str, time_zone: str) -> str:
    """SQL for the naive local TIMESTAMP `local` in `time_zone` as a naive UTC TIMESTAMP (create_time_macros first)."""
    if is_utc(time_zone):
        return local
    return f"{LOCAL_MACRO}({local}, {quote_literal(time_zone)})"


def local_exists_sql(local: str, time_zone: str) -> str:
    """SQL boolean: the local TIMESTAMP `local` exists in `time_zone` (false in a spring-forward gap)."""
    if is_utc(time_zone):
        return "true"
    return f"{EXISTS_MACRO}({local}, {quote_literal(time_zone)})"


def epoch_text_sql(raw: str, timestamp_format: str) -> str:
    """SQL for VARCHAR `raw` holding epoch seconds/milliseconds as a naive UTC TIMESTAMP, NULL if it is not one."""
    pattern, per_unit = _EPOCH[timestamp_format]
    scale = len(str(per_unit)) - 1  # the pattern allows at most this many fraction digits: the product is whole
    # Text is parsed as DECIMAL(18, scale) (the pattern's digits fit) and only then widened: parsing
    # text straight to DECIMAL(38, _) is about 30x slower in DuckDB 1.5 (bench/bench_ingest.py).
    parsed = f"CAST(TRY_CAST(trim({raw}) AS DECIMAL(18, {scale})) AS DECIMAL(38, {scale}))"
    micros = f"TRY_CAST({parsed} * {per_unit} AS BIGINT)"
    return epoch_micros_sql(f"CASE WHEN {_matches(raw, pattern)} THEN {micros} END")


def epoch_number_sql(column: str, timestamp_format: str) -> str:
    """SQL for a numeric column of epoch seconds/milliseconds as a naive UTC TIMESTAMP, NULL if out of range."""
    _, per_unit = _EPOCH[timestamp_format]
    micros = f"TRY_CAST(round(CAST({column} AS DOUBLE) * {per_unit}) AS BIGINT)"
    return epoch_micros_sql(f"CASE WHEN isfinite(CAST({column} AS DOUBLE)) THEN {micros} END")


def epoch_micros_sql(micros: str) -> str:
    """SQL: microseconds since the epoch (BIGINT) as a TIMESTAMP, NULL beyond year 9999 or before year 1."""
    bound = MAX_EPOCH_SECONDS * 1_000_000
    return f"CASE WHEN abs({micros}) <= {bound} THEN make_timestamp({micros}) END"


def _matches(raw: str, pattern: str) -> str:
    return f"regexp_full_match({raw}, {quote_literal(pattern)})"


def text_to_type_sql(raw: str, type_name: str, timestamp_format: str = "iso8601", time_zone: str = "UTC") -> str:
    """SQL for the VARCHAR expression `raw` converted exactly to `type_name`, NULL when that would lose anything.

    TIMESTAMP text is read per `timestamp_format`; naive ISO 8601 text is local time in `time_zone`.
    """
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
        if timestamp_format in _EPOCH:
            return epoch_text_sql(raw, timestamp_format)
        return _timestamp_sql(raw, time_zone)
    if t == "DATE":
        return f"CASE WHEN {_matches(raw, _DATE)} THEN TRY_CAST(trim({raw}) AS DATE) END"
    if t == "BOOLEAN":
        return f"CASE lower(trim({raw})) WHEN 'true' THEN true WHEN 'false' THEN false END"
    return f"CASE WHEN CAST(TRY_CAST({raw} AS {t}) AS VARCHAR) = trim({raw}) THEN TRY_CAST({raw} AS {t}) END"


def _timestamp_parts(raw: str) -> str:
    return f"regexp_extract({raw}, {quote_literal(_TIMESTAMP)}, ['d', 'h', 'mi', 's', 'f', 'z', 'sg', 'oh', 'om'])"


def _local_sql(p: str) -> str:
    return (
        f"TRY_CAST({p}.d || ' ' || coalesce(nullif({p}.h, ''), '00') || ':' || coalesce(nullif({p}.mi, ''), '00')"
        f" || ':' || coalesce(nullif({p}.s, ''), '00') || {p}.f AS TIMESTAMP)"
    )


def _timestamp_sql(raw: str, time_zone: str = "UTC") -> str:
    p = _timestamp_parts(raw)
    local = _local_sql(p)
    hours = f"coalesce(TRY_CAST(nullif({p}.oh, '') AS INTEGER), 0)"
    minutes = f"coalesce(TRY_CAST(nullif({p}.om, '') AS INTEGER), 0)"
    offset = f"(CASE {p}.sg WHEN '-' THEN -1 ELSE 1 END) * ({hours} * 60 + {minutes})"
    instant = f"{local} - to_minutes({offset})"
    if not is_utc(time_zone):  # no Z and no offset: local time in the source's zone
        instant = f"CASE WHEN {p}.z = '' AND {p}.sg = '' THEN {local_to_utc_sql(local, time_zone)} ELSE {instant} END"
    return f"CASE WHEN {p}.d <> '' AND {hours} <= {MAX_OFFSET_HOURS} AND {minutes} < 60 THEN {instant} END"


def text_local_exists_sql(raw: str, time_zone: str) -> str:
    """SQL boolean for ISO 8601 text `raw`: false only for a naive local time inside a DST gap of `time_zone`."""
    if is_utc(time_zone):
        return "true"
    p = _timestamp_parts(raw)
    return f"({p}.d = '' OR {p}.z <> '' OR {p}.sg <> '' OR {local_exists_sql(_local_sql(p), time_zone)})"


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
