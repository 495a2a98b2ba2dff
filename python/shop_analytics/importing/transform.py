"""The mapping applied in SQL: the input table (text) -> the landing rows of the target source and its dimensions.

Every value stays text. The importer renames, fills constants, applies value maps and the
derivations the mapping asks for, and converts a strptime timestamp to ISO 8601 text; a
value it cannot convert is written as it was, for the gate to quarantine with a reason.
Nothing is filtered: the landing batch has exactly one row per input row.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from shop_analytics.importing.mapping import (
    EPOCH_MS,
    EPOCH_S,
    HASH,
    ORDER_APPEARANCE,
    QUANTITY_TIMES_UNIT_PRICE,
    REVERSALS,
    ROW_NUMBER,
    Derivation,
    DimensionMapping,
    ImportMapping,
    MappingError,
    template_parts,
)
from shop_analytics.importing.reader import ROW, TABLE, InputTable, temporal_input_type
from shop_analytics.importing.targets import DATE, Target
from shop_analytics.sql import one_value, quote_ident, quote_literal

FACT = "import_fact"
_NEGATIVE_INTEGER = r"^ *-[0-9]+ *$"
_PLAIN_INTEGER = r"^ *[+-]?[0-9]{1,18} *$"
_PLAIN_DECIMAL = r"^ *[+-]?([0-9]{1,27}(\.[0-9]{0,10})?|\.[0-9]{1,10}) *$"


@dataclass(frozen=True)
class PlannedBatch:
    """Rows for one landing batch: a query over the import's tables, with its row count."""

    target: Target
    query: str  # selects the target's columns, as text, in file order
    rows: int
    notes: tuple[str, ...] = ()


def plan_batches(con: duckdb.DuckDBPyConnection, table: InputTable, mapping: ImportMapping) -> list[PlannedBatch]:
    """Create the fact table in `con` and return the batches to write: derived dimensions first, then the fact."""
    _check_time_input(table, mapping)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {FACT} AS {_fact_sql(table, mapping)}")
    rows = int(one_value(con, f"SELECT count(*) FROM {FACT}"))
    if rows != table.rows:  # an invariant: the importer never drops or adds a row
        raise RuntimeError(f"internal error: {table.rows} input rows became {rows} landing rows")
    columns = ", ".join(quote_ident(c) for c in mapping.target.column_names)
    fact = PlannedBatch(
        mapping.target, f"SELECT {columns} FROM {FACT} ORDER BY {ROW}", rows, _fact_notes(con, table, mapping)
    )
    dims = [_dimension(con, table, mapping, dim) for dim in mapping.dimensions]
    return [*dims, fact]


def _check_time_input(table: InputTable, mapping: ImportMapping) -> None:
    time_column = mapping.target.time_column
    source = mapping.columns.get(time_column or "")
    kind = temporal_input_type(table, source) if source else None
    if kind is not None and mapping.timestamp_format != "iso8601":
        raise MappingError(
            f"mapping file {mapping.path}: timestamp.format: input column {source!r} is a Parquet {kind}, "
            f"already a time; remove timestamp.format (it applies to text and numbers)"
        )


def _value_map(expr: str, table: dict[str, str]) -> str:
    cases = " ".join(f"WHEN {quote_literal(k)} THEN {quote_literal(v)}" for k, v in table.items())
    return f"CASE {expr} {cases} ELSE {expr} END"


def _strptime(expr: str, pattern: str, kind: str) -> str:
    """ISO 8601 text of `expr` parsed with `pattern`; the value itself when it does not parse (the gate judges it)."""
    parsed = f"try_strptime({expr}, {quote_literal(pattern)})"
    if kind == DATE:
        # A date keeps only the date: a pattern with a time of day must leave midnight, else the text stays.
        iso = f"strftime({parsed}, '%Y-%m-%d')"
        return f"CASE WHEN {parsed} IS NOT NULL AND CAST({parsed} AS TIME) = TIME '00:00' THEN {iso} ELSE {expr} END"
    # With %z the parse is an instant (printed in UTC with +00); without, a local time for the gate's time zone.
    with_zone = "%z" in pattern or "%Z" in pattern
    fraction = ".%f" if "%f" in pattern or "%g" in pattern else ""
    iso = f"strftime({parsed}, {quote_literal('%Y-%m-%dT%H:%M:%S' + fraction + ('%z' if with_zone else ''))})"
    return f"coalesce({iso}, {expr})"


def _fact_sql(table: InputTable, mapping: ImportMapping) -> str:
    target = mapping.target
    base = [ROW]
    for column in target.column_names:
        if column in mapping.columns:
            expr = f"i.{table.sql(mapping.columns[column])}"
            if column in mapping.values:
                expr = _value_map(expr, mapping.values[column])
            if column == target.time_column and mapping.is_strptime:
                expr = _strptime(expr, mapping.timestamp_format, target.column(column).kind)
        elif column in mapping.constants:
            expr = quote_literal(mapping.constants[column])
        else:
            expr = "CAST(NULL AS VARCHAR)"
        base.append(f"{expr} AS {quote_ident(column)}")
    for dim in mapping.dimensions:
        for source in dim.columns.values():
            base.append(f"i.{table.sql(source)} AS {quote_ident(_dim_input(source, table))}")
    sql = f"SELECT {', '.join(base)} FROM {TABLE} i"
    # Derivations in dependency order: reversals change the quantity that line_amount multiplies.
    for column, derivation in sorted(mapping.derive.items(), key=lambda kv: _ORDER[kv[1].method]):
        sql = f"SELECT * REPLACE ({_derived(column, derivation, mapping)} AS {quote_ident(column)}) FROM ({sql}) d"
        if derivation.method == REVERSALS:
            quantity = (
                f"CASE WHEN d.line_type <> 'sale' AND regexp_matches(d.quantity, {quote_literal(_NEGATIVE_INTEGER)}) "
                f"THEN ltrim(trim(d.quantity), '-') ELSE d.quantity END"
            )
            sql = f"SELECT * REPLACE ({quantity} AS quantity) FROM ({sql}) d"
    return sql


_ORDER = {REVERSALS: 0, QUANTITY_TIMES_UNIT_PRICE: 1, ORDER_APPEARANCE: 2, ROW_NUMBER: 3, HASH: 4}


def _dim_input(source: str, table: InputTable) -> str:
    return f"__dim_input_{table.names.index(source)}"


def _derived(column: str, derivation: Derivation, mapping: ImportMapping) -> str:
    method = derivation.method
    if method == ROW_NUMBER:
        return f"CAST(d.{ROW} + {derivation.start} AS VARCHAR)"
    if method == HASH:
        parts = ", ".join(f"coalesce('v' || d.{quote_ident(c)}, 'n')" for c in derivation.of)
        # 15 hex digits of md5: a positive BIGINT, stable across runs and engines (like the warehouse's keys).
        return f"CAST(CAST(('0x' || substr(md5(concat_ws(chr(31), {parts})), 1, 15)) AS UBIGINT) AS VARCHAR)"
    if method == ORDER_APPEARANCE:
        return f"CAST(row_number() OVER (PARTITION BY d.order_id ORDER BY d.{ROW}) AS VARCHAR)"
    if method == QUANTITY_TIMES_UNIT_PRICE:
        return _exact_product("d.quantity", "d.unit_price")
    conditions = []
    if derivation.order_id_prefix is not None:
        conditions.append(f"starts_with(d.order_id, {quote_literal(derivation.order_id_prefix)})")
    if derivation.negative_quantity:
        conditions.append(f"regexp_matches(d.quantity, {quote_literal(_NEGATIVE_INTEGER)})")
    kind = quote_literal(derivation.reversal_type)
    return f"CASE WHEN coalesce({' OR '.join(conditions)}, false) THEN {kind} ELSE 'sale' END"


def _exact_product(quantity: str, price: str) -> str:
    """quantity x price in decimal arithmetic, as text without trailing zeros; NULL unless both are plain numbers."""
    product = f"try(CAST(trim({price}) AS DECIMAL(38, 10)) * CAST(trim({quantity}) AS DECIMAL(18, 0)))"
    text = f"rtrim(rtrim(CAST({product} AS VARCHAR), '0'), '.')"
    return (
        f"CASE WHEN regexp_matches({quantity}, {quote_literal(_PLAIN_INTEGER)}) "
        f"AND regexp_matches({price}, {quote_literal(_PLAIN_DECIMAL)}) THEN {text} END"
    )


def _fact_notes(con: duckdb.DuckDBPyConnection, table: InputTable, mapping: ImportMapping) -> tuple[str, ...]:
    notes = []
    derivation = mapping.derive.get("line_type")
    if derivation is not None and derivation.method == REVERSALS:
        reversals = one_value(con, f"SELECT count(*) FROM {FACT} WHERE line_type <> 'sale'")
        notes.append(f"{reversals:,} line(s) marked {derivation.reversal_type} (quantity made positive)")
    amount = mapping.derive.get("line_amount")
    if amount is not None:
        missing = one_value(con, f"SELECT count(*) FROM {FACT} WHERE line_amount IS NULL")
        if missing:
            notes.append(
                f"{missing:,} line(s) without line_amount: quantity or unit_price is not a plain decimal number "
                f"(the gate quarantines them)"
            )
    time_column = mapping.target.time_column
    if mapping.is_strptime and time_column in mapping.columns:
        raw = table.sql(mapping.columns[time_column])
        unparsed = one_value(
            con,
            f"SELECT count(*) FROM {TABLE} WHERE {raw} IS NOT NULL "
            f"AND try_strptime({raw}, {quote_literal(mapping.timestamp_format)}) IS NULL",
        )
        if unparsed:
            notes.append(
                f"{unparsed:,} {time_column} value(s) do not match {mapping.timestamp_format!r}: written as they "
                f"are (the gate quarantines them)"
            )
    return tuple(notes)


def _order_key(expr: str, mapping: ImportMapping) -> str:
    """A value that orders event times correctly, NULL for text that is not a time (ignored)."""
    if mapping.timestamp_format in (EPOCH_S, EPOCH_MS):
        return f"TRY_CAST({expr} AS DOUBLE)"
    return f"TRY_CAST({expr} AS TIMESTAMPTZ)"


def _dimension(
    con: duckdb.DuckDBPyConnection, table: InputTable, mapping: ImportMapping, dim: DimensionMapping
) -> PlannedBatch:
    target = mapping.target
    key = dim.target.columns[0].name
    reference = target.user_column if dim.target.name == "users" else target.item_column
    assert reference is not None  # checked when the mapping was read
    fact_time = quote_ident(target.time_column) if target.time_column else "NULL"
    select = [f"f.{quote_ident(reference)} AS {quote_ident(key)}"]
    for column in dim.target.column_names[1:]:
        if column in dim.columns:
            source = quote_ident(_dim_input(dim.columns[column], table))
            expr = f"arg_min(f.{source}, f.{ROW}) FILTER (WHERE f.{source} IS NOT NULL)"
        elif column in dim.constants:
            expr = quote_literal(dim.constants[column])
        elif column in dim.templates:
            pieces = [
                f"f.{quote_ident(reference)}" if is_key else quote_literal(text)
                for text, is_key in template_parts(dim.templates[column])
            ]
            expr = f"concat({', '.join(pieces)})"
        elif column == dim.target.time_column and dim.first_event_time:
            order = _order_key(f"f.{fact_time}", mapping)
            expr = f"arg_min(f.{fact_time}, {order}) FILTER (WHERE {order} IS NOT NULL)"
        else:
            expr = "CAST(NULL AS VARCHAR)"
        select.append(f"{expr} AS {quote_ident(column)}")
    group = f"f.{quote_ident(reference)}"
    query = f"SELECT {', '.join(select)} FROM {FACT} f WHERE {group} IS NOT NULL GROUP BY {group} ORDER BY min(f.{ROW})"
    rows = int(one_value(con, f"SELECT count(*) FROM ({query})"))
    notes = []
    for column, source in dim.columns.items():
        name = quote_ident(_dim_input(source, table))
        conflicting = one_value(
            con,
            f"SELECT count(*) FROM (SELECT {group} FROM {FACT} f WHERE {group} IS NOT NULL "
            f"GROUP BY {group} HAVING count(DISTINCT f.{name}) > 1)",
        )
        if conflicting:
            notes.append(
                f"{conflicting:,} {key} value(s) have more than one {column} in the file; the first one is used"
            )
    return PlannedBatch(dim.target, query, rows, tuple(notes))
