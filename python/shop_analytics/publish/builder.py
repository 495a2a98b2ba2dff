"""Materialize the published relations as plain tables in a new DuckDB file, plus `_publication`."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
from tqdm import tqdm

from shop_analytics.sql import one_row, quote_ident, quote_literal
from shop_analytics.warehouse.relations import Relation

SERVING_ALIAS = "__serving"
PUBLICATION_TABLE = "_publication"


@dataclass(frozen=True)
class Provenance:
    """What a publication records about itself in `_publication`."""

    version: int
    published_at: dt.datetime
    built_at: dt.datetime
    git_revision: str


@contextmanager
def attached(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[str]:
    """Attach a new DuckDB file for writing to the read-only build connection; checkpoint and detach."""
    if path.exists():
        raise FileExistsError(f"{path} already exists; refusing to overwrite it")
    con.execute(f"ATTACH {quote_literal(str(path))} AS {SERVING_ALIAS} (READ_WRITE)")
    try:
        yield SERVING_ALIAS
        # Everything lands in the main file, so the published file never comes with a .wal.
        con.execute(f"CHECKPOINT {SERVING_ALIAS}")
    except BaseException:
        # The first error says what went wrong (a full disk); DETACH then failing too must not hide it.
        with contextlib.suppress(duckdb.Error):
            con.execute(f"DETACH {SERVING_ALIAS}")
        raise
    con.execute(f"DETACH {SERVING_ALIAS}")


def materialize(
    con: duckdb.DuckDBPyConnection, alias: str, relations: Sequence[Relation], progress: bool | None = None
) -> dict[Relation, int]:
    """Copy each relation into `alias` as a plain table (views are evaluated), with its comments."""
    source = quote_ident(one_row(con, "SELECT current_database()")[0])
    for schema in sorted({r.schema for r in relations}):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {alias}.{quote_ident(schema)}")
    counts: dict[Relation, int] = {}
    for relation in tqdm(
        relations, desc="publish tables", unit="table", disable=None if progress is None else not progress
    ):
        target = f"{alias}.{relation.sql}"
        con.execute(f"CREATE TABLE {target} AS SELECT * FROM {source}.{relation.sql}")
        _copy_comments(con, relation, target)
        counts[relation] = one_row(con, f"SELECT count(*) FROM {target}")[0]
    return counts


def _copy_comments(con: duckdb.DuckDBPyConnection, relation: Relation, target: str) -> None:
    # dbt's persist_docs writes model and column descriptions as comments; BI tools show them.
    table_comment = con.execute(
        f"SELECT comment FROM duckdb_tables() WHERE database_name = current_database() AND {relation.matches()} "
        "UNION ALL SELECT comment FROM duckdb_views() WHERE database_name = current_database() "
        f"AND {relation.matches(name_column='view_name')}"
    ).fetchone()
    if table_comment and table_comment[0]:
        con.execute(f"COMMENT ON TABLE {target} IS {quote_literal(table_comment[0])}")
    for column, comment in con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = current_database() "
        f"AND {relation.matches()} AND comment IS NOT NULL AND comment <> ''"
    ).fetchall():
        con.execute(f"COMMENT ON COLUMN {target}.{quote_ident(column)} IS {quote_literal(comment)}")


def write_publication(
    con: duckdb.DuckDBPyConnection, alias: str, provenance: Provenance, counts: dict[Relation, int]
) -> None:
    """Create `main._publication`: one row per published table with the publication's provenance."""
    table = f"{alias}.main.{PUBLICATION_TABLE}"
    con.execute(f"""
        CREATE TABLE {table} (
            version INTEGER NOT NULL, published_at TIMESTAMP NOT NULL, built_at TIMESTAMP NOT NULL,
            git_revision VARCHAR NOT NULL, duckdb_version VARCHAR NOT NULL,
            table_schema VARCHAR NOT NULL, table_name VARCHAR NOT NULL, row_count BIGINT NOT NULL)""")
    common = (
        f"{provenance.version:d}, TIMESTAMP {quote_literal(provenance.published_at.isoformat(sep=' '))}, "
        f"TIMESTAMP {quote_literal(provenance.built_at.isoformat(sep=' '))}, {quote_literal(provenance.git_revision)}, "
        f"{quote_literal(duckdb.__version__)}"
    )
    rows = [
        f"({common}, {quote_literal(relation.schema)}, {quote_literal(relation.name)}, {count:d})"
        for relation, count in sorted(counts.items(), key=lambda item: item[0].label)
    ]
    con.execute(f"INSERT INTO {table} VALUES {', '.join(rows)}")
    con.execute(
        f"COMMENT ON TABLE {table} IS "
        + quote_literal("Publication of this file: version, build time, git revision and row count per table.")
    )
