"""Reading one landing batch into the gate's in-memory DuckDB: a relation with the gate's row number, plus its schema.

Column names are checked first, from the files' own headers and schemas (DuckDB
would silently rename a repeated name to ``a_1``): a reserved, repeated or invalid
name rejects the batch before anything is read (schema_policy.name_violations).

Parquet batches become a view over the files (types from the files themselves);
TIMESTAMP WITH TIME ZONE and other timestamp units convert to the contract's
TIMESTAMP (UTC). CSV and JSON carry no types, so they are read as text (DuckDB sniffs
the dialect), each contract column is converted exactly (conversions.py) to the type
of the contract version with the same column names (or the latest types), and a value
that does not convert leaves a flag column behind that the gate turns into
``invalid_type:<column>``. The raw text of every converted column is kept for
quarantine, so nothing is lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

from shop_analytics.ingest.batches import LandingBatch
from shop_analytics.ingest.conversions import (
    create_time_macros,
    epoch_number_sql,
    is_utc,
    local_exists_sql,
    local_to_utc_sql,
    parquet_timestamp_sql,
    text_local_exists_sql,
    text_to_type_sql,
)
from shop_analytics.ingest.errors import is_operational
from shop_analytics.quality.batch import create_batch_view
from shop_analytics.quality.check_view import cast_ok_column, local_ok_column
from shop_analytics.quality.contracts import Contract, batch_schema
from shop_analytics.quality.duckdb_types import family
from shop_analytics.quality.namespace import ROW_NUMBER, gate_column
from shop_analytics.quality.schema_policy import Column, Violation, name_violations
from shop_analytics.sql import one_value, quote_ident, quote_literal


class BatchRejectedError(ValueError):
    """The batch cannot be admitted as a whole; `rule` names the problem for reason.json."""

    def __init__(self, rule: str, message: str, violations: tuple[Violation, ...] = ()) -> None:
        super().__init__(message)
        self.rule = rule
        self.violations = violations


@dataclass(frozen=True)
class BatchRelation:
    """A batch loaded for the gate."""

    name: str
    columns: tuple[Column, ...]  # the batch schema the contract is checked against
    data_columns: tuple[str, ...]  # columns written to the lake, in batch order
    cast_columns: tuple[str, ...] = ()  # columns converted with a cast-ok flag (CSV/JSON, Parquet nanoseconds)
    relations: tuple[str, ...] = ()  # every relation created for it, dropped with it
    notes: tuple[str, ...] = ()  # conversions applied, for the report
    local_columns: tuple[str, ...] = ()  # local times converted from the time zone, with a local-ok flag

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """Helper columns holding the original values of converted columns (kept in quarantine)."""
        return tuple(raw_column(c) for c in dict.fromkeys(self.cast_columns + self.local_columns))


def raw_column(column: str) -> str:
    """Name of the helper column with `column`'s original value."""
    return gate_column("raw", column)


@dataclass(frozen=True)
class ReadOptions:
    """How a batch's timestamps are written (settings.SourceIngestSettings, with the batch's _batch.yml applied)."""

    timestamp_format: str = "iso8601"
    time_zone: str = "UTC"


def load_batch(
    con: duckdb.DuckDBPyConnection,
    batch: LandingBatch,
    name: str,
    contract: Contract,
    options: ReadOptions | None = None,
) -> BatchRelation:
    """Create relation `name` for `batch` in `con`; raise BatchRejectedError with a specific rule.

    I/O failures (disk full, permissions, files vanishing) are not the batch's fault and
    propagate as they are.
    """
    options = options or ReadOptions()
    if not is_utc(options.time_zone):
        create_time_macros(con)
    try:
        if batch.file_format == "parquet":
            return _load_parquet(con, batch, name, contract, options)
        return _load_text(con, batch, name, contract, options)
    except BatchRejectedError:
        raise
    except (duckdb.Error, ValueError) as exc:
        if is_operational(exc):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BatchRejectedError(
            "unreadable_file", f"cannot read {batch.file_format} batch {batch.folder}: {first}"
        ) from exc


def _check_names(names: list[str], contract: Contract, batch: LandingBatch) -> None:
    found = name_violations(names, contract.column_names)
    if found:
        raise BatchRejectedError(
            found[0].rule,
            f"{batch.source.name} batch {batch.batch_id}: " + " ".join(f"[{v.rule}] {v.message}" for v in found),
            tuple(found),
        )


def _require_non_empty(batch: LandingBatch, expected: str) -> None:
    for path in batch.files:
        if path.lstat().st_size == 0:
            raise BatchRejectedError("empty_file", f"{path} is empty (0 bytes); {expected}")


def _load_parquet(
    con: duckdb.DuckDBPyConnection, batch: LandingBatch, name: str, contract: Contract, options: ReadOptions
) -> BatchRelation:
    _require_non_empty(batch, "a Parquet file has at least a footer")
    try:
        columns = batch_schema(con, batch.files)
    except ValueError as exc:
        if "disagree on the schema" in str(exc):
            raise BatchRejectedError("files_disagree", str(exc)) from exc
        raise
    _check_names([c.name for c in columns], contract, batch)
    wanted = {c.name: c.type.strip().upper() for v in contract.versions for c in v.columns}
    plan = [
        (c, conv)
        for c in columns
        if (conv := _parquet_conversion(c, wanted.get(c.name), c.name in contract.string_keys, options)) is not None
    ]
    data_columns = tuple(c.name for c in columns)
    if not plan:
        create_batch_view(con, name, batch.files)
        return BatchRelation(name, columns, data_columns, relations=(name,))
    files_view = f"{name}__files"
    create_batch_view(con, files_view, batch.files)
    replace = ", ".join(f"{conv.value} AS {quote_ident(c.name)}" for c, conv in plan)
    extra = []
    for c, conv in plan:
        column = f"f.{quote_ident(c.name)}"
        if conv.exact is not None:
            extra.append(
                f"CAST(CASE WHEN {column} IS NULL OR {conv.exact} THEN 1 END AS UTINYINT) "
                f"AS {quote_ident(cast_ok_column(c.name))}"
            )
        if conv.exists is not None:
            extra.append(
                f"CAST(CASE WHEN {conv.exists} THEN 1 END AS UTINYINT) AS {quote_ident(local_ok_column(c.name))}"
            )
        if conv.exact is not None or conv.exists is not None:  # the original value, kept in quarantine
            extra.append(f"{column} AS {quote_ident(raw_column(c.name))}")
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(name)} AS SELECT f.* REPLACE ({replace})"
        f"{''.join(', ' + e for e in extra)} FROM {quote_ident(files_view)} f"
    )
    types = {c.name: conv.type for c, conv in plan}
    schema = tuple(Column(c.name, types[c.name], c.nullable) if c.name in types else c for c in columns)
    cast = tuple(c.name for c, conv in plan if conv.exact is not None)
    local = tuple(c.name for c, conv in plan if conv.exists is not None)
    notes = tuple(f"{c.name}: {conv.note}" for c, conv in plan)
    return BatchRelation(name, schema, data_columns, cast, (name, files_view), notes, local)


@dataclass(frozen=True)
class _Conversion:
    """How the reader turns one Parquet column into its contract type."""

    type: str  # the contract type the column becomes
    value: str  # SQL over f.<column>
    exact: str | None  # SQL boolean, false where the value would be lost (then invalid_type); None: always exact
    exists: str | None  # SQL boolean, false for a local time in a DST gap (then invalid_local_time); None: n/a
    note: str


def _parquet_conversion(
    column: Column, wanted: str | None, string_key: bool, options: ReadOptions
) -> _Conversion | None:
    ref, found = f"f.{quote_ident(column.name)}", column.type.strip().upper()
    if string_key and family(found) in ("integer", "unsigned integer"):
        return _Conversion(
            "VARCHAR", f"CAST({ref} AS VARCHAR)", None, None, f"{found} key converted to its decimal text"
        )
    if wanted != "TIMESTAMP":
        return None
    if options.timestamp_format != "iso8601" and family(found) in ("integer", "unsigned integer", "floating point"):
        value = epoch_number_sql(ref, options.timestamp_format)
        return _Conversion(
            "TIMESTAMP",
            value,
            f"({value}) IS NOT NULL",
            None,
            f"{found} {options.timestamp_format} converted to TIMESTAMP",
        )
    converted = parquet_timestamp_sql(ref, found)
    if found == "TIMESTAMP":
        converted = (ref, None)
    if converted is None:
        return None
    value, exact = converted
    if found == "TIMESTAMP WITH TIME ZONE" or is_utc(options.time_zone):
        if found == "TIMESTAMP":
            return None
        return _Conversion("TIMESTAMP", value, exact, None, f"{found} converted to TIMESTAMP (UTC)")
    return _Conversion(
        "TIMESTAMP",
        local_to_utc_sql(value, options.time_zone),
        exact,
        local_exists_sql(value, options.time_zone),
        f"{found} local time in {options.time_zone} converted to UTC",
    )


def _files_list(batch: LandingBatch) -> str:
    return "[" + ", ".join(quote_literal(str(p)) for p in batch.files) + "]"


@contextlib.contextmanager
def _file_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Scans inside keep the files' row order (ingest otherwise runs with preserve_insertion_order off)."""
    con.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute("SET preserve_insertion_order = false")


def _csv_names(con: duckdb.DuckDBPyConnection, batch: LandingBatch) -> list[str]:
    """The header of every file of a CSV batch, as written (all files must agree)."""
    headers = []
    for path in batch.files:
        # In file order: with preserve_insertion_order off (ingest's setting), LIMIT 1 over a
        # large file's parallel scan may return a data row instead of the header.
        with _file_order(con):
            row = con.execute(
                f"SELECT * FROM read_csv({quote_literal(str(path))}, header = false, all_varchar = true, "
                f"hive_partitioning = false) LIMIT 1"
            ).fetchone()
        headers.append([cell if cell is None else str(cell) for cell in (row or ())])
    first = headers[0]
    for path, header in zip(batch.files, headers, strict=True):
        if header != first:
            raise BatchRejectedError(
                "files_disagree",
                f"files of one batch disagree on the header: "
                f"{batch.files[0].name} has {first}, {path.name} has {header}",
            )
    if len(first) == 1 and first[0] is not None and any(d in first[0] for d in ",;|\t"):
        # The sniffer found no dialect that fits every line (e.g. a truncated last row) and
        # fell back to one column holding the whole line.
        raise BatchRejectedError(
            "unparsable_csv",
            f"{batch.folder}: no CSV dialect fits every line (the header came back as "
            f"one column {first[0][:80]!r}); is the file truncated or are rows inconsistent?",
        )
    return [cell or "" for cell in first]


def _json_names(con: duckdb.DuckDBPyConnection, batch: LandingBatch) -> list[str]:
    """Every key of every object of a JSON batch, in order of first appearance (repeats kept, to be reported)."""
    with _file_order(con):
        key_lists = con.execute(
            f"SELECT keys FROM (SELECT json_keys(json) AS keys, row_number() OVER () AS n "
            f"FROM read_json_objects({_files_list(batch)}, format = 'auto')) "
            f"WHERE keys IS NOT NULL GROUP BY keys ORDER BY min(n)"
        ).fetchall()
    names: list[str] = []
    for (keys,) in key_lists:
        names += [k for k in dict.fromkeys(keys) if k not in names]
        names += sorted(k for k in set(keys) if keys.count(k) > 1)  # an object repeating a key: a duplicate
    if not names:
        raise BatchRejectedError("no_columns", f"{batch.folder}: the JSON batch holds no object with a key")
    return names


def _text_schema(names: list[str], contract: Contract) -> tuple[Column, ...]:
    """Text has no types: the version with exactly these column names decides them, else the latest types."""
    match = next((v for v in reversed(contract.versions) if {c.name for c in v.columns} == set(names)), None)
    types = {c.name: c for c in match.columns} if match else {c.name: c for v in contract.versions for c in v.columns}
    # Natural keys are text whatever the version (contract v2): '007' stays '007'.
    types |= {n: Column(n, "VARCHAR", types[n].nullable) for n in contract.string_keys if n in types}
    # A new column stays text, nullable: the contract check then sees only the names change.
    return tuple(types.get(n, Column(n, "VARCHAR", True)) for n in names)


def _load_text(
    con: duckdb.DuckDBPyConnection, batch: LandingBatch, name: str, contract: Contract, options: ReadOptions
) -> BatchRelation:
    _require_non_empty(batch, "expected at least a header")
    files = _files_list(batch)
    if batch.file_format == "csv":
        names = _csv_names(con, batch)
        _check_names(names, contract, batch)
        scan = f"read_csv({files}, header = true, all_varchar = true, hive_partitioning = false)"
        read = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
        if read != names:
            raise BatchRejectedError("unparsable_csv", f"{batch.folder}: the header {names} was read as {read}")
    else:
        names = _json_names(con, batch)
        _check_names(names, contract, batch)
        spec = "{" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in names) + "}"
        scan = f"read_json({files}, format = 'auto', hive_partitioning = false, columns = {spec})"
    schema = _text_schema(names, contract)
    cast = tuple(c.name for c in schema if c.type.upper() != "VARCHAR")
    fmt, zone = options.timestamp_format, options.time_zone
    local = tuple(
        c.name for c in schema if c.type.strip().upper() == "TIMESTAMP" and fmt == "iso8601" and not is_utc(zone)
    )
    select = [f"CAST(row_number() OVER () - 1 AS BIGINT) AS {ROW_NUMBER}"]
    for column in schema:
        raw = f"raw.{quote_ident(column.name)}"
        value = text_to_type_sql(raw, column.type, fmt, zone) if column.name in cast else raw
        select.append(f"{value} AS {quote_ident(column.name)}")
    for column in schema:
        if column.name in cast:
            raw = f"raw.{quote_ident(column.name)}"
            select.append(
                f"CAST(CASE WHEN {raw} IS NULL OR ({text_to_type_sql(raw, column.type, fmt, zone)}) IS NOT NULL "
                f"THEN 1 END AS UTINYINT) AS {quote_ident(cast_ok_column(column.name))}"
            )
            if column.name in local:
                select.append(
                    f"CAST(CASE WHEN {raw} IS NULL OR {text_local_exists_sql(raw, zone)} THEN 1 END AS UTINYINT) "
                    f"AS {quote_ident(local_ok_column(column.name))}"
                )
            select.append(f"{raw} AS {quote_ident(raw_column(column.name))}")
    # A table, not a view: row numbers must not change between the gate's queries, and
    # GX's own connection must see it (so not TEMP).
    with _file_order(con):
        con.execute(f"CREATE OR REPLACE TABLE {quote_ident(name)} AS SELECT {', '.join(select)} FROM {scan} raw")
    return BatchRelation(name, schema, tuple(names), cast, (name,), local_columns=local)


def count_rows(con: duckdb.DuckDBPyConnection, batch: LandingBatch) -> int:
    """The batch's row count for the audit of a batch rejected before it was loaded; 0 if the files cannot tell."""
    files = _files_list(batch)
    queries = {
        "parquet": f"SELECT sum(num_rows) FROM parquet_file_metadata({files})",
        "csv": f"SELECT count(*) FROM read_csv({files}, header = true, all_varchar = true, hive_partitioning = false)",
        "json": f"SELECT count(*) FROM read_json_objects({files}, format = 'auto')",
    }
    if batch.file_format not in queries or not batch.files:
        return 0
    try:
        return int(one_value(con, queries[batch.file_format]) or 0)
    except duckdb.Error:
        return 0


def drop_relations(con: duckdb.DuckDBPyConnection, names: tuple[str, ...] | list[str]) -> None:
    """Drop these views or tables of `con` if they exist (newest first)."""
    for relation in reversed(list(names)):
        kind = con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_name = ? "
            "AND table_catalog = current_database()",
            [relation],
        ).fetchone()
        if kind:
            con.execute(f"DROP {'VIEW' if kind[0] == 'VIEW' else 'TABLE'} {quote_ident(relation)}")
