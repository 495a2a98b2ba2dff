"""Reading one landing batch into the gate's in-memory DuckDB: a relation with row_number, plus its schema.

Parquet batches become a view over the files (types from the files themselves).
CSV and JSON carry no types, so they are read as text (DuckDB sniffs the dialect and
the header), the contract's columns are cast with TRY_CAST, and a value that does not
cast leaves a flag column behind that the gate turns into ``invalid_type:<column>``.
The raw text of every cast column is kept for quarantine, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from shop_analytics.ingest.batches import LandingBatch
from shop_analytics.quality.batch import create_batch_view
from shop_analytics.quality.check_view import cast_ok_column
from shop_analytics.quality.contracts import batch_schema, latest_columns
from shop_analytics.quality.rules import ROW_NUMBER
from shop_analytics.quality.schema_policy import Column
from shop_analytics.quality.sql import quote_ident, quote_literal

HELPER_PREFIX = "_gate_"  # columns the gate adds; never written to the lake


class UnreadableBatchError(ValueError):
    """The batch's files cannot be read as one table; `rule` names the problem for reason.json."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class BatchRelation:
    """A batch loaded for the gate."""

    name: str
    columns: tuple[Column, ...]  # the batch schema the contract is checked against
    data_columns: tuple[str, ...]  # columns written to the lake, in batch order
    cast_columns: tuple[str, ...] = ()  # text columns cast to contract types (CSV/JSON)

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """Helper columns holding the original text of cast columns (kept in quarantine)."""
        return tuple(raw_column(c) for c in self.cast_columns)


def raw_column(column: str) -> str:
    """Name of the helper column with `column`'s original text."""
    return f"{HELPER_PREFIX}raw__{column}"


def load_batch(con: duckdb.DuckDBPyConnection, batch: LandingBatch, name: str,
               contracts_dir: Path) -> BatchRelation:
    """Create relation `name` for `batch` in `con`; raise UnreadableBatchError with a specific rule."""
    try:
        if batch.file_format == "parquet":
            return _load_parquet(con, batch, name)
        return _load_text(con, batch, name, contracts_dir)
    except UnreadableBatchError:
        raise
    except (duckdb.Error, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableBatchError(
            "unreadable_file", f"cannot read {batch.file_format} batch {batch.files[0].parent}: {first}") from exc


def _load_parquet(con: duckdb.DuckDBPyConnection, batch: LandingBatch, name: str) -> BatchRelation:
    for path in batch.files:
        if path.stat().st_size == 0:
            raise UnreadableBatchError("empty_file", f"{path} is empty (0 bytes); a Parquet file has at least a footer")
    try:
        columns = batch_schema(con, batch.files)
    except ValueError as exc:
        if "disagree on the schema" in str(exc):
            raise UnreadableBatchError("files_disagree", str(exc)) from exc
        raise
    create_batch_view(con, name, batch.files)
    return BatchRelation(name, columns, tuple(c.name for c in columns))


def _text_scan(batch: LandingBatch, columns: dict[str, str] | None = None) -> str:
    files = "[" + ", ".join(quote_literal(str(p)) for p in batch.files) + "]"
    if batch.file_format == "csv":
        # Everything as text: sniffing picks delimiter and quoting, casting is ours.
        return f"read_csv({files}, header = true, all_varchar = true, hive_partitioning = false)"
    if columns is None:
        return f"read_json({files}, format = 'auto', hive_partitioning = false)"
    spec = "{" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in columns) + "}"
    return f"read_json({files}, format = 'auto', hive_partitioning = false, columns = {spec})"


def _load_text(con: duckdb.DuckDBPyConnection, batch: LandingBatch, name: str,
               contracts_dir: Path) -> BatchRelation:
    for path in batch.files:
        if path.stat().st_size == 0:
            raise UnreadableBatchError("empty_file", f"{path} is empty (0 bytes); expected at least a header")
    names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {_text_scan(batch)}").fetchall()]
    if batch.file_format == "csv" and len(names) == 1 and any(d in names[0] for d in ",;|\t"):
        # The sniffer found no dialect that fits every line (e.g. a truncated last row) and
        # fell back to one column holding the whole line.
        raise UnreadableBatchError(
            "unparsable_csv", f"{batch.files[0].parent}: no CSV dialect fits every line (the header came back as "
            f"one column {names[0][:80]!r}); is the file truncated or are rows inconsistent?")
    if len(set(names)) != len(names):
        raise UnreadableBatchError("duplicate_column", f"{batch.files[0].parent}: duplicate column names {names}")
    scan = _text_scan(batch, dict.fromkeys(names, "VARCHAR")) if batch.file_format == "json" else _text_scan(batch)
    contract = {c.name: c for c in latest_columns(batch.source, contracts_dir)}
    # Known columns take the contract's type and nullability (text has neither); new
    # columns stay text, nullable: the contract check then sees only names change.
    schema = tuple(contract[n] if n in contract else Column(n, "VARCHAR", True) for n in names)
    cast = tuple(n for n in names if n in contract and contract[n].type.upper() != "VARCHAR")
    select = [f"CAST(row_number() OVER () - 1 AS BIGINT) AS {ROW_NUMBER}"]
    for column in schema:
        raw = f"raw.{quote_ident(column.name)}"
        if column.name in cast:
            select.append(f"TRY_CAST({raw} AS {column.type}) AS {quote_ident(column.name)}")
        else:
            select.append(f"{raw} AS {quote_ident(column.name)}")
    for column in cast:
        raw = f"raw.{quote_ident(column)}"
        select.append(f"CAST(CASE WHEN {raw} IS NULL OR TRY_CAST({raw} AS {contract[column].type}) IS NOT NULL "
                      f"THEN 1 END AS UTINYINT) AS {quote_ident(cast_ok_column(column))}")
        select.append(f"{raw} AS {quote_ident(raw_column(column))}")
    # A table, not a view: row numbers must not change between the gate's queries, and
    # GX's own connection must see it (so not TEMP).
    con.execute("SET preserve_insertion_order = true")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {quote_ident(name)} AS SELECT {', '.join(select)} FROM {scan} raw")
    finally:
        con.execute("SET preserve_insertion_order = false")
    return BatchRelation(name, schema, tuple(names), cast)
