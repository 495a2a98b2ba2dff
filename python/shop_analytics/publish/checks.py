"""Post-build checks run against the build file before anything is published.

A check is any object with a ``name`` and a call ``check(con, relations)`` that returns the
failures it found as readable strings (an empty list means it passed). `con` is the read-only
connection to the dbt build file and `relations` are the tables and views about to be
published. `SqlCheck` turns a query that returns failing rows into a check. Pass extra checks
to `publish(..., checks=[*default_checks(), *mine])` or on the command line with
``shop-analytics publish --check package.module:ATTRIBUTE`` (a check or a list of checks).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import duckdb

from shop_analytics.publish.sql import Relation, ident

MAX_SHOWN_FAILURES = 20
_FLOATING_TYPES = "('DOUBLE', 'FLOAT', 'REAL')"


@runtime_checkable
class Check(Protocol):
    """A post-build check: returns failure descriptions, empty when the build passes."""

    name: str

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> list[str]: ...


@dataclass(frozen=True)
class CheckResult:
    """What one check found."""

    name: str
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when the check found nothing."""
        return not self.failures


@dataclass(frozen=True)
class SqlCheck:
    """A query over the build file that returns one row per problem (no rows = pass)."""

    name: str
    sql: str

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> list[str]:
        """Run the query and describe each failing row as `column=value, ...`."""
        cursor = con.execute(self.sql)
        columns = [d[0] for d in cursor.description]
        return [", ".join(f"{c}={v!r}" for c, v in zip(columns, row)) for row in cursor.fetchall()]


@dataclass(frozen=True)
class NonEmptyTables:
    """Every published relation has at least one row: an empty mart is a broken build."""

    name: str = "non_empty_tables"

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> list[str]:
        """List the relations without rows."""
        return [f"{r.label} has no rows" for r in relations
                if con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {r.sql})").fetchone()[0]]


@dataclass(frozen=True)
class FiniteFloatingColumns:
    """No NaN or infinity in DOUBLE/FLOAT columns: BI tools and averages choke on them."""

    name: str = "finite_floating_columns"

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> list[str]:
        """Count non-finite values per floating column, one scan per relation."""
        failures = []
        for relation in relations:
            columns = [row[0] for row in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                f"AND {relation.matches()} AND data_type IN {_FLOATING_TYPES} ORDER BY column_index").fetchall()]
            if not columns:
                continue
            counts = con.execute("SELECT " + ", ".join(
                f"count(*) FILTER (WHERE NOT isfinite({ident(c)}))" for c in columns)
                + f" FROM {relation.sql}").fetchone()
            failures += [f"{relation.label}.{c}: {n:,} NaN or infinite values"
                         for c, n in zip(columns, counts) if n]
        return failures


def default_checks() -> list[Check]:
    """The generic checks every publish runs."""
    return [NonEmptyTables(), FiniteFloatingColumns()]


def run_checks(con: duckdb.DuckDBPyConnection, relations: Sequence[Relation],
               checks: Iterable[Check]) -> list[CheckResult]:
    """Run every check; a check that raises counts as failed with its error, so all get reported."""
    results = []
    for check in checks:
        try:
            failures = tuple(check(con, relations))
        except Exception as exc:  # noqa: BLE001 - a crashing check must fail the publish, not hide others
            failures = (f"check raised {type(exc).__name__}: {exc}",)
        results.append(CheckResult(check.name, failures))
    return results


def format_report(results: Sequence[CheckResult]) -> str:
    """A readable report of failed checks (first few failures of each)."""
    failed = [r for r in results if not r.passed]
    lines = [f"{len(failed)} of {len(results)} post-build checks failed; nothing was published."]
    for result in failed:
        lines.append(f"  {result.name}: {len(result.failures)} failure(s)")
        lines += [f"    - {f}" for f in result.failures[:MAX_SHOWN_FAILURES]]
        if len(result.failures) > MAX_SHOWN_FAILURES:
            lines.append(f"    ... and {len(result.failures) - MAX_SHOWN_FAILURES} more")
    return "\n".join(lines)


def load_checks(spec: str) -> list[Check]:
    """Checks named by `package.module:attribute` (a check, a list of checks, or a factory of them)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--check wants package.module:attribute, got {spec!r}")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load check {spec!r}: {exc}") from exc
    if not isinstance(target, Check) and callable(target) and not hasattr(target, "name"):
        target = target()  # a factory such as default_checks
    found = [target] if isinstance(target, Check) else list(target)
    bad = [c for c in found if not isinstance(c, Check)]
    if bad:
        raise ValueError(f"{spec!r} gave objects that are not checks (need .name and a call): {bad!r}")
    return found
