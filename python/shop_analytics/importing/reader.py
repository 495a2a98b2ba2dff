"""Reading the user's file into DuckDB as text, exactly: CSV, Parquet, or JSON (NDJSON or an array of objects).

Every input column becomes a VARCHAR column named ``c<position>`` of one table, in file
order (``row_number``, 0-based), so no column name from the file is ever spliced into
SQL. Nothing is sniffed into a type: CSV is read as text; Parquet values are written as
their exact text (integers in decimal, timestamps in ISO 8601, a TIMESTAMP WITH TIME ZONE
with its offset); JSON strings stay as they are, other JSON values keep their JSON text.
A number in a floating-point type (a Parquet DOUBLE, a JSON 1.5e3) cannot hold a key
exactly, so such a key column is refused; so is a boolean key, and an object, array, list,
struct or map in any mapped column (it would land as its JSON text). A malformed CSV row stops the import with
DuckDB's message (strict mode): no row is skipped.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shop_analytics.importing.mapping import ImportMapping, InputOptions, MappingError, check_input_columns
from shop_analytics.sql import one_value, quote_ident, quote_literal

TABLE = "input_rows"
ROW = "row_number"
_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".json": "json"}
_EXTENSIONS |= {".jsonl": "json", ".ndjson": "json"}
_FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")


class InputError(ValueError):
    """The input file cannot be imported as it is; the message says why and names the file."""


@dataclass(frozen=True)
class InputTable:
    """The input file loaded as text: table TABLE with ROW and one ``c<i>`` column per input column."""

    path: Path
    file_format: str
    names: tuple[str, ...]  # input column names as in the file
    types: tuple[str, ...]  # the file's own types (Parquet), VARCHAR for CSV; JSON for JSON
    rows: int

    def sql(self, name: str) -> str:
        """The SQL column holding input column `name` (as text)."""
        return quote_ident(f"c{self.names.index(name)}")


def read_input(con: duckdb.DuckDBPyConnection, path: Path, mapping: ImportMapping) -> InputTable:
    """Load `path` into `con` as TABLE; InputError or MappingError when it cannot be imported as mapped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} not found (or not a regular file)")
    file_format = mapping.input.format or _EXTENSIONS.get(path.suffix.lower())
    if file_format is None:
        raise InputError(
            f"{path}: cannot tell the format from the extension {path.suffix!r}; "
            f"say `input: {{format: csv | parquet | json}}` in the mapping file"
        )
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes): nothing to import")
    con.execute("SET preserve_insertion_order = true")  # ROW is the file's order
    con.execute("SET TimeZone = 'UTC'")
    try:
        if file_format == "csv":
            table = _read_csv(con, path, mapping.input)
        elif file_format == "parquet":
            table = _read_parquet(con, path)
        else:
            table = _read_json(con, path)
    except duckdb.Error as exc:
        raise InputError(f"cannot read {path} as {file_format}: {duckdb_problem(exc)}") from exc
    if table.rows == 0:
        raise InputError(f"{path} has no rows (only a header, or an empty JSON array): nothing to import")
    _check_names(table, mapping)
    _check_keys(con, table, mapping)
    return table


def duckdb_problem(exc: duckdb.Error) -> str:
    """The lines of DuckDB's error that say what is wrong and how to fix it, in one line."""
    kept = []
    for line in str(exc).splitlines():
        # Indented lines are DuckDB's dump of the reader's options; "Original Line" may show another
        # line than the one named; "LINE 1:" quotes our SQL; skipping rows (ignore_errors) is never the
        # fix, as no row is dropped.
        if not line.strip() or line.startswith((" ", "\t", "Original Line:", "LINE ")) or "ignore_errors" in line:
            continue
        if "Set the correct encoding" in line:
            line = "Possible Solution: declare the file's encoding in the mapping: input: {encoding: latin-1 | utf-16}"
        kept.append(line.strip())
    return "; ".join(kept) or type(exc).__name__


def _csv_options(options: InputOptions) -> str:
    # skip = 0: the first line is the header. Left to itself, DuckDB's sniffer may skip the first
    # lines to find a dialect that fits the rest (a row with one field too many on line 3 made
    # it skip two lines and read line 3 as the header).
    parts = [
        "all_varchar = true",
        "hive_partitioning = false",
        "strict_mode = true",
        "null_padding = false",
        "skip = 0",
    ]
    # RFC 4180 quoting unless declared: a sniffed quote character could strip the ' of a value such as 'A'.
    defaults = {"quote": '"', "escape": '"'}
    for name, option in (("delimiter", "delim"), ("quote", "quote"), ("escape", "escape")):
        value = getattr(options, name) or defaults.get(name)
        if value is not None:
            parts.append(f"{option} = {quote_literal(value)}")
    if options.encoding is not None:
        parts.append(f"encoding = {quote_literal(options.encoding.lower())}")
    return ", ".join(parts)


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, options: InputOptions) -> InputTable:
    # The header as written: read as a data row, so repeated or blank names are seen, not renamed.
    scan = f"read_csv({quote_literal(str(path))}, {_csv_options(options)}"
    try:
        header = con.execute(f"SELECT * FROM {scan}, header = false) LIMIT 1").fetchone() or ()
    except duckdb.Error as exc:  # with input.delimiter set, DuckDB's sniffer still fails on a malformed row
        found = _malformed_row(con, path, options, options.delimiter) if options.delimiter else None
        if found:
            raise InputError(f"{path}: {found}") from exc
        raise
    names = tuple("" if cell is None else str(cell) for cell in header)
    if len(names) == 1 and any(d in names[0] for d in _DELIMITERS):
        delimiter = options.delimiter or max(_DELIMITERS, key=names[0].count)
        found = _malformed_row(con, path, options, delimiter)
        raise InputError(
            f"{path}: {found}"
            if found
            else f"{path}: no CSV dialect fits every line (the header came back as one column {names[0][:80]!r}); "
            f"is a row malformed, or is the delimiter unusual? Set input.delimiter in the mapping file"
        )
    positional = "[" + ", ".join(quote_literal(f"c{i}") for i in range(len(names))) + "]"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT CAST(row_number() OVER () - 1 AS BIGINT) AS {ROW}, * "
        f"FROM {scan}, header = true, names = {positional})"
    )
    return InputTable(path, "csv", names, ("VARCHAR",) * len(names), _rows(con))


_DELIMITERS = (",", ";", "|", "\t")
_CSV_ERROR = re.compile(r"CSV Error on Line: (\d+).*?Expected Number of Columns: (\d+) Found: (\d+)", re.DOTALL)


def _malformed_row(con: duckdb.DuckDBPyConnection, path: Path, options: InputOptions, delimiter: str) -> str | None:
    """'line N has Y fields, the header X (...)' for the first row off the header's width; None if none is found.

    DuckDB's sniffer only says that no dialect fits; a strict read with the dialect given, which
    sniffs nothing, names the line.
    """
    quote = options.quote or '"'
    with path.open(encoding=options.encoding or "utf-8-sig", errors="replace", newline="") as f:
        first = next(csv.reader([f.readline()], delimiter=delimiter, quotechar=quote), [])
    if len(first) < 2:
        return None
    columns = "{" + ", ".join(f"{quote_literal(f'c{i}')}: 'VARCHAR'" for i in range(len(first))) + "}"
    encoding = f", encoding = {quote_literal(options.encoding.lower())}" if options.encoding else ""
    try:
        con.execute(
            f"SELECT count(*) FROM read_csv({quote_literal(str(path))}, auto_detect = false, header = true, "
            f"delim = {quote_literal(delimiter)}, quote = {quote_literal(quote)}, "
            f"escape = {quote_literal(options.escape or quote)}, columns = {columns}, strict_mode = true{encoding})"
        ).fetchall()
    except duckdb.Error as exc:
        match = _CSV_ERROR.search(str(exc))
        if match:
            line, expected, found = match.groups()
            # DuckDB stops counting one past the header's width: "more than", not its count.
            width = f"more than {expected}" if int(found) > int(expected) else found
            return (
                f"line {line} has {width} fields where the header has {expected} (delimiter {delimiter!r}); "
                f"a value holding the delimiter must be quoted ({quote}...{quote})"
            )
    return None


def _rows(con: duckdb.DuckDBPyConnection) -> int:
    return int(one_value(con, f"SELECT count(*) FROM {TABLE}"))


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> InputTable:
    scan = f"read_parquet({quote_literal(str(path))}, hive_partitioning = false)"
    described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    names = tuple(str(r[0]) for r in described)
    types = tuple(str(r[1]) for r in described)
    # Parquet column names are unique, so positional references are exact: #1, #2, ...
    select = [f"CAST(row_number() OVER () - 1 AS BIGINT) AS {ROW}"]
    for i, kind in enumerate(types):
        value = f"#{i + 1}"
        select.append(f"{_parquet_text(value, kind)} AS c{i}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT {', '.join(select)} FROM {scan}")
    return InputTable(path, "parquet", names, types, _rows(con))


def _parquet_text(value: str, kind: str) -> str:
    """Exact text of a Parquet value: DuckDB's casts to VARCHAR are exact for every scalar type, and
    print a DOUBLE in its shortest round-trip form (1.1, not 1.1000000000000001)."""
    upper = kind.upper()
    return value if upper == "VARCHAR" else f"CAST({value} AS VARCHAR)"


def _json_format(path: Path) -> str:
    """'array' when the file's first character (after a byte order mark and blanks) is '[', else 'auto'.

    DuckDB's own detection reads a JSON array behind a UTF-8 byte order mark as one record.
    """
    with path.open("rb") as f:
        head = f.read(4096)
    return "array" if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"[") else "auto"


def _read_json(con: duckdb.DuckDBPyConnection, path: Path) -> InputTable:
    objects = f"read_json_objects({quote_literal(str(path))}, format = {quote_literal(_json_format(path))})"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE input_objects AS "
        f"SELECT CAST(row_number() OVER () - 1 AS BIGINT) AS {ROW}, json FROM {objects}"
    )
    not_objects = one_value(con, "SELECT count(*) FROM input_objects WHERE json_type(json) <> 'OBJECT'")
    if not_objects:
        example = one_value(con, "SELECT json FROM input_objects WHERE json_type(json) <> 'OBJECT' LIMIT 1")
        raise InputError(f"{path}: {not_objects} record(s) are not JSON objects, e.g. {str(example)[:80]!r}")
    key_lists = con.execute(
        f"SELECT keys FROM (SELECT json_keys(json) AS keys, min({ROW}) AS first FROM input_objects GROUP BY keys) "
        f"ORDER BY first"
    ).fetchall()
    names: list[str] = []
    repeated: set[str] = set()
    for (keys,) in key_lists:
        repeated |= {k for k in keys if keys.count(k) > 1}
        names += [k for k in dict.fromkeys(keys) if k not in names]
    if repeated:
        raise InputError(f"{path}: an object repeats the key(s) {sorted(repeated)}; which value counts is ambiguous")
    select = [ROW]
    for i, name in enumerate(names):
        pointer = quote_literal("/" + name.replace("~", "~0").replace("/", "~1"))
        select.append(
            f"CASE json_type(json, {pointer}) WHEN 'VARCHAR' THEN json_extract_string(json, {pointer}) "
            f"WHEN 'NULL' THEN NULL ELSE CAST(json_extract(json, {pointer}) AS VARCHAR) END AS c{i}"
        )
        select.append(f"json_type(json, {pointer}) AS t{i}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT {', '.join(select)} FROM input_objects ORDER BY {ROW}")
    con.execute("DROP TABLE input_objects")
    return InputTable(path, "json", tuple(names), ("JSON",) * len(names), _rows(con))


def _check_names(table: InputTable, mapping: ImportMapping) -> None:
    check_input_columns(mapping, list(table.names), table.path)
    used = mapping.input_columns()
    for name, key in used.items():
        if table.names.count(name) > 1:
            raise MappingError(
                f"mapping file {mapping.path}: {key}: input column {name!r} appears "
                f"{table.names.count(name)} times in {table.path}; which one is meant is ambiguous"
            )


def key_input_columns(mapping: ImportMapping) -> dict[str, str]:
    """Input columns mapped to natural keys -> their target column."""
    return {source: target for target, source in mapping.columns.items() if mapping.target.column(target).kind == "key"}


def _check_keys(con: duckdb.DuckDBPyConnection, table: InputTable, mapping: ImportMapping) -> None:
    """Refuse keys that are not the text the user typed, and mapped values that are not single values.

    A float (85123.0, 1.2e22) cannot keep a key exactly; a boolean key would land as the text
    "true"; an object or array would land as its JSON text ('{"code":"X"}', '["GB"]') in any column.
    """
    keys = key_input_columns(mapping)
    for source, where in mapping.input_columns().items():
        i = table.names.index(source)
        target = keys.get(source)
        what = f"mapped to key {target}" if target else f"mapped by {where}"
        if table.file_format == "parquet":
            _check_parquet_column(table, source, table.types[i].upper(), what, is_key=target is not None)
        elif table.file_format == "json":
            refused = ", ".join(quote_literal(t) for t in (_JSON_KEY_REFUSED if target else _JSON_NON_SCALAR))
            # DuckDB types an integer beyond 64 bits as DOUBLE but keeps its digits as written: those land exactly.
            digits = f"(t{i} = 'DOUBLE' AND regexp_full_match({table.sql(source)}, '-?[0-9]+'))"
            found = con.execute(
                f"SELECT t{i}, {table.sql(source)} FROM {TABLE} WHERE t{i} IN ({refused}) AND NOT {digits} "
                f"ORDER BY {ROW} LIMIT 1"
            ).fetchone()
            if found:
                kind, value = found
                shown = value if len(value) <= 80 else value[:77] + "..."
                need = "a JSON string or integer" if target else "a single JSON value (a string, number or null)"
                raise InputError(
                    f"{table.path}: column {source!r} ({what}) holds the JSON {_JSON_NAMES[kind]} {shown}; "
                    f"it must be {need}{_JSON_WHY[kind]}"
                )


_JSON_KEY_REFUSED = ("DOUBLE", "BOOLEAN", "OBJECT", "ARRAY")
_JSON_NON_SCALAR = ("OBJECT", "ARRAY")
_JSON_NAMES = {"DOUBLE": "number", "BOOLEAN": "boolean", "OBJECT": "object", "ARRAY": "array"}
_JSON_WHY = {
    "DOUBLE": ", as a floating-point number cannot keep it exactly",
    "BOOLEAN": ", as true/false is not an id: write the key as a string",
    "OBJECT": ", not an object: map the field that holds the value, or flatten the export",
    "ARRAY": ", not an array: map one value per column, or flatten the export",
}


def _check_parquet_column(table: InputTable, source: str, kind: str, what: str, is_key: bool) -> None:
    """Refuse a Parquet column whose type cannot land as the text of one value (or of a key)."""
    nested = kind.startswith(("STRUCT", "MAP", "UNION")) or kind.endswith("]")
    if nested:
        raise InputError(
            f"{table.path}: column {source!r} ({what}) is a Parquet {kind}, not a single value; "
            f"map a column holding one value per row, or flatten the export"
        )
    if is_key and kind in _FLOAT_TYPES:
        raise InputError(
            f"{table.path}: column {source!r} ({what}) is a Parquet {kind}; a key must be text "
            f"or an integer, as a float cannot keep it exactly. Write it as a string column"
        )
    if is_key and kind == "BOOLEAN":
        raise InputError(
            f"{table.path}: column {source!r} ({what}) is a Parquet BOOLEAN; a key must be text or an integer, "
            f"as true/false is not an id. Write it as a string column"
        )


def temporal_input_type(table: InputTable, name: str) -> str | None:
    """The Parquet temporal type of input column `name` (already ISO 8601 text), or None."""
    if table.file_format != "parquet":
        return None
    kind = table.types[table.names.index(name)].upper()
    return kind if kind.startswith(("TIMESTAMP", "DATE")) else None
