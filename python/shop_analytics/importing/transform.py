"""The mapping applied in SQL: the input table (text) -> the landing rows of the target source and its dimensions.

Every value stays text. The importer renames, fills constants, applies value maps and the
derivations the mapping asks for, and converts a strptime timestamp to ISO 8601 text; a
value it cannot convert is written as it was, for the gate to quarantine with a reason.
Nothing is filtered: the landing batch has exactly one row per input row.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from shop_analytics.importing.accepted import GateView, JudgedColumn, dimension_settings, judged_column, prepare
from shop_analytics.importing.mapping import (
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


def plan_batches(
    con: duckdb.DuckDBPyConnection, table: InputTable, mapping: ImportMapping, view: GateView
) -> list[PlannedBatch]:
    """Create the fact table in `con` and return the batches to write: derived dimensions first, then the fact.

    `view` is what the gate will judge the dimension batches with (their attributes come from accepted values).
    """
    _check_time_input(table, mapping)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {FACT} AS {_fact_sql(table, mapping)}")
    rows = int(one_value(con, f"SELECT count(*) FROM {FACT}"))
    if rows != table.rows:  # an invariant: the importer never drops or adds a row
        raise RuntimeError(f"internal error: {table.rows} input rows became {rows} landing rows")
    columns = ", ".join(quote_ident(c) for c in mapping.target.column_names)
    fact = PlannedBatch(
        mapping.target, f"SELECT {columns} FROM {FACT} ORDER BY {ROW}", rows, _fact_notes(con, table, mapping)
    )
    dims = [_dimension(con, table, mapping, dim, view) for dim in mapping.dimensions]
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


def _dimension(
    con: duckdb.DuckDBPyConnection,
    table: InputTable,
    mapping: ImportMapping,
    dim: DimensionMapping,
    view: GateView,
) -> PlannedBatch:
    """The users or items batch: one row per key; a judged attribute from the first line the gate accepts."""
    key = dim.target.columns[0].name
    reference = mapping.target.user_column if dim.target.name == "users" else mapping.target.item_column
    assert reference is not None  # checked when the mapping was read
    attributes = dim.target.column_names[1:]
    settings = dimension_settings(view, dim.target.name, mapping.batch_settings())
    judged = {
        column: found
        for column in attributes
        # A constant or template too: one the gate refuses would lose every line of every key.
        if (
            column in dim.columns
            or column in dim.constants
            or column in dim.templates
            or _is_first_event_time(dim, column)
        )
        and (found := judged_column(view, dim.target.name, column, f"l.{quote_ident(column)}", settings)) is not None
    }
    prepare(con, view, any(found.money for found in judged.values()))
    lines = _dimension_lines(table, mapping, dim, reference, judged)
    select = [f"b.{_KEY} AS {quote_ident(key)}"]
    for column in attributes:
        if column in judged:
            # The first value the gate accepts (by time for first_event_time, else by file order); none: NULL.
            order = _dimension_order(dim, column)
            value = f"arg_min(b.{_raw(column)}, {order}) FILTER (WHERE b.{_ok(column)})"
        else:
            value = f"any_value(b.{quote_ident(column)})"  # one value per key already (_dimension_lines)
        select.append(f"{value} AS {quote_ident(column)}")
    query = f"SELECT {', '.join(select)} FROM ({lines}) b GROUP BY b.{_KEY} ORDER BY min(b.{_ROW})"
    rows = int(one_value(con, f"SELECT count(*) FROM ({query})"))
    notes = _conflict_notes(con, table, dim, key, reference, judged)
    for column in judged:
        notes += _refused_notes(con, lines, dim, key, column)
    return PlannedBatch(dim.target, query, rows, tuple(notes))


_KEY, _ROW = quote_ident("__key"), quote_ident("__row")


def _raw(column: str) -> str:
    return quote_ident(f"__raw_{column}")


def _ok(column: str) -> str:
    return quote_ident(f"__ok_{column}")


def _why(column: str) -> str:
    return quote_ident(f"__why_{column}")


def _is_first_event_time(dim: DimensionMapping, column: str) -> bool:
    return dim.first_event_time and column == dim.target.time_column


def _dimension_order(dim: DimensionMapping, column: str) -> str:
    """SQL over b ordering a key's lines for `column`: the gate's instant (then file order), or file order."""
    if _is_first_event_time(dim, column):
        return f"struct_pack(t := b.{quote_ident(column)}, r := b.{_ROW})"
    return f"b.{_ROW}"


def _dimension_lines(
    table: InputTable, mapping: ImportMapping, dim: DimensionMapping, reference: str, judged: dict[str, JudgedColumn]
) -> str:
    """One row per fact line with a key: every attribute's landed text, and for a judged one the gate's verdict.

    An attribute the gate does not judge gets the key's first non-empty value on every line; a judged
    one keeps each line's text (as __raw_<column>), its converted value (as <column>, which the gate's
    rules read), the reader's flags, whether the gate accepts it and why not.
    """
    fact_time = quote_ident(mapping.target.time_column) if mapping.target.time_column else "NULL"
    texts = [f"f.{ROW} AS {_ROW}", f"f.{quote_ident(reference)} AS {_KEY}"]
    for column in dim.target.column_names[1:]:
        if column in dim.columns:
            expr = f"f.{quote_ident(_dim_input(dim.columns[column], table))}"
        elif column in dim.constants:
            expr = quote_literal(dim.constants[column])
        elif column in dim.templates:
            pieces = [
                f"f.{quote_ident(reference)}" if is_key else quote_literal(text)
                for text, is_key in template_parts(dim.templates[column])
            ]
            expr = f"concat({', '.join(pieces)})"
        elif _is_first_event_time(dim, column):
            expr = f"CAST(f.{fact_time} AS VARCHAR)"
        else:
            expr = "CAST(NULL AS VARCHAR)"
        texts.append(f"{expr} AS {quote_ident(column)}")
    lines = f"SELECT {', '.join(texts)} FROM {FACT} f WHERE f.{quote_ident(reference)} IS NOT NULL"
    whole_key = (
        f"OVER (PARTITION BY l.{_KEY} ORDER BY l.{_ROW} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
    )
    per_key = [f"l.{_ROW}", f"l.{_KEY}"]
    for column in dim.target.column_names[1:]:
        name = quote_ident(column)
        if column in judged:
            found = judged[column]
            per_key.append(f"l.{name} AS {_raw(column)}")
            per_key.append(f"{found.value} AS {name}")
            per_key += [f"{sql} AS {quote_ident(flag)}" for flag, sql in found.flags.items()]
        else:
            per_key.append(f"first_value(l.{name} IGNORE NULLS) {whole_key} AS {name}")
    verdicts = [f"{found.accepted()} AS {_ok(c)}, {found.reason()} AS {_why(c)}" for c, found in judged.items()]
    converted = f"SELECT {', '.join(per_key)} FROM ({lines}) l"
    if not verdicts:
        return converted
    return f"SELECT b.*, {', '.join(verdicts)} FROM ({converted}) b"


def _conflict_notes(
    con: duckdb.DuckDBPyConnection,
    table: InputTable,
    dim: DimensionMapping,
    key: str,
    reference: str,
    judged: dict[str, JudgedColumn],
) -> list[str]:
    """How many keys have more than one value of a mapped attribute in the file (the first one is used)."""
    group = f"f.{quote_ident(reference)}"
    notes = []
    for column, source in dim.columns.items():
        name = quote_ident(_dim_input(source, table))
        conflicting = one_value(
            con,
            f"SELECT count(*) FROM (SELECT {group} FROM {FACT} f WHERE {group} IS NOT NULL "
            f"GROUP BY {group} HAVING count(DISTINCT f.{name}) > 1)",
        )
        if conflicting:
            which = "the first one the gate accepts" if column in judged else "the first one"
            notes.append(f"{conflicting:,} {key} value(s) have more than one {column} in the file; {which} is used")
    return notes


def _refused_notes(
    con: duckdb.DuckDBPyConnection, lines: str, dim: DimensionMapping, key: str, column: str
) -> list[str]:
    """Keys whose first (or earliest) value of `column` the gate would refuse: another one used, or left empty."""
    order = _dimension_order(dim, column)
    chosen = f"min({order}) FILTER (WHERE b.{_ok(column)}) OVER (PARTITION BY b.{_KEY})"
    refused = f"b.{_raw(column)} IS NOT NULL AND NOT b.{_ok(column)}"
    before = f"{order} < {chosen} OR {chosen} IS NULL"
    if _is_first_event_time(dim, column):  # a refused time that does not convert has no place in time: counted
        before = f"b.{quote_ident(column)} IS NULL OR {before}"
    skipped = f"{refused} AND ({before})"
    # The window in `skipped` must see every line of the key, so it is computed before any filter.
    per_key = (
        f"SELECT b.{_KEY} AS k, min(b.{_ROW}) AS first_row, bool_or(b.{_ok(column)}) AS accepted, "
        f"arg_min(struct_pack(v := b.{_raw(column)}, why := b.{_why(column)}), b.{_ROW}) FILTER (WHERE b.s) AS e "
        f"FROM (SELECT b.*, ({skipped}) AS s FROM ({lines}) b) b GROUP BY b.{_KEY} HAVING bool_or(b.s)"
    )
    found = con.execute(
        f"SELECT accepted, count(*), arg_min(struct_pack(k := k, v := e.v, why := e.why), first_row) "
        f"FROM ({per_key}) GROUP BY accepted ORDER BY accepted DESC"
    ).fetchall()
    notes = []
    for accepted, count, example in found:
        shown = f"e.g. {key} {example['k']!r}: {example['v']!r}, {example['why']}"
        first = "earliest" if _is_first_event_time(dim, column) else "first"
        if accepted:
            notes.append(
                f"{count:,} {key} value(s) have {'an' if first == 'earliest' else 'a'} {first} {column} the gate "
                f"would refuse ({shown}); the {first} one it accepts is used"
            )
        else:
            notes.append(
                f"{count:,} {key} value(s) have no {column} the gate would accept ({shown}): {column} left empty"
            )
    return notes
