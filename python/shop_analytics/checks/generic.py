"""Checks that hold for any relation: a SQL check for plug-ins, non-empty relations, finite floats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from shop_analytics.checks.core import MAX_EXAMPLES, CheckResult
from shop_analytics.sql import one_row, quote_ident

if TYPE_CHECKING:
    from shop_analytics.warehouse.relations import Relation

_FLOATING_TYPES = "('DOUBLE', 'FLOAT', 'REAL')"
STAGING_SCHEMA = "staging"


@dataclass(frozen=True)
class SqlCheck:
    """A query over the build file that returns one row per problem (no rows = pass)."""

    name: str
    sql: str

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> CheckResult:
        """Count the failing rows and show the first few as `column=value, ...`."""
        count = one_row(con, f"SELECT count(*) FROM ({self.sql})")[0]
        if not count:
            return CheckResult.passed(self.name, "the query returned no rows")
        cursor = con.execute(f"SELECT * FROM ({self.sql}) LIMIT {MAX_EXAMPLES}")
        columns = [d[0] for d in cursor.description]
        examples = [", ".join(f"{c}={v!r}" for c, v in zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return CheckResult.failure(self.name, f"{count:,} failing row(s)", count, examples)


@dataclass(frozen=True)
class NonEmptyTables:
    """Checked relations have rows; an empty one is a warning, not a failure.

    An empty mart can be legitimate (no same-day repeat purchases in the data, no ratings after
    the evaluation cutoff, a source that is empty), and the build marker already guarantees that
    the build finished with every dbt test passing. When the staging layer itself has no rows,
    the warning says so: no data yet, or a lake folder dbt did not read.
    """

    name: str = "non_empty_tables"

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> CheckResult:
        """List the relations without rows."""
        empty = [r.label for r in relations if _is_empty(con, r.sql)]
        if not empty:
            return CheckResult.passed(self.name, f"all {len(relations)} relations have rows")
        if _staging_is_empty(con):
            # Legitimate for a project with no data yet, but also what a lake folder dbt could not
            # read looks like: said, not passed in silence.
            return CheckResult.warning(
                self.name,
                f"{len(empty)} empty relation(s), and every staging view is empty too: no input rows "
                "(if data was ingested, dbt read another lake folder: see SHOP_ANALYTICS_LAKE_DIR)",
                len(empty),
                empty,
            )
        return CheckResult.warning(
            self.name, f"{len(empty)} of {len(relations)} relations have no rows", len(empty), empty
        )


def _is_empty(con: duckdb.DuckDBPyConnection, sql_name: str) -> bool:
    return bool(one_row(con, f"SELECT NOT EXISTS (SELECT 1 FROM {sql_name})")[0])


def _staging_is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    views = [
        row[0]
        for row in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal "
            f"AND schema_name = '{STAGING_SCHEMA}'"
        ).fetchall()
    ]
    return bool(views) and all(_is_empty(con, f"{quote_ident(STAGING_SCHEMA)}.{quote_ident(v)}") for v in views)


@dataclass(frozen=True)
class FiniteFloatingColumns:
    """No NaN or infinity in DOUBLE/FLOAT columns: BI tools and averages choke on them."""

    name: str = "finite_floating_columns"

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> CheckResult:
        """Count non-finite values per floating column, one scan per relation."""
        failures = []
        columns_seen = 0
        for relation in relations:
            columns = [
                row[0]
                for row in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                    f"AND {relation.matches()} AND data_type IN {_FLOATING_TYPES} ORDER BY column_index"
                ).fetchall()
            ]
            if not columns:
                continue
            columns_seen += len(columns)
            counts = one_row(
                con,
                "SELECT "
                + ", ".join(f"count(*) FILTER (WHERE NOT isfinite({quote_ident(c)}))" for c in columns)
                + f" FROM {relation.sql}",
            )
            failures += [(f"{relation.label}.{c}", n) for c, n in zip(columns, counts, strict=True) if n]
        if not columns_seen:
            return CheckResult.not_applicable(self.name, "no DOUBLE/FLOAT columns")
        if not failures:
            return CheckResult.passed(self.name, f"{columns_seen} floating columns, all values finite")
        total = sum(n for _, n in failures)
        return CheckResult.failure(
            self.name,
            f"{total:,} NaN or infinite values in {len(failures)} column(s)",
            total,
            [f"{column}: {n:,} NaN or infinite values" for column, n in failures],
        )
