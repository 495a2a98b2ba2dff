"""Read the build marker (macros/build_marker.sql) and judge whether the build file holds a complete build.

dbt records every invocation that runs project hooks in `_shop_meta.dbt_invocations` inside the
build file: a 'running' row when it starts, 'finished' with counts of results by status when
it ends. A build file is publishable when, reading those rows newest first,

- every invocation after the last `dbt build` is a `dbt test` that finished without failures
  (tests change nothing, so a passing later test keeps the build valid; a failing one means
  the data is bad) or a `dbt source freshness` (reads only; ignored);
- that `dbt build` finished, ran every enabled model, seed, snapshot and data test of the
  project (no --select/--exclude subset, no --empty or --sample), and none of its results
  is an error, failure or skip. Test warnings are accepted and reported: a test at
  severity `warn` is configured not to block.

Anything else refuses: an invocation still 'running' (killed, or still going), a later
`dbt run`/`seed`/`snapshot`/`retry`/partial `build` (it changed the warehouse without the
full test suite), or no marker at all (the file was not built by this project's dbt).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from shop_analytics.sql import one_row, quote_ident
from shop_analytics.warehouse.build_file import META_SCHEMA

MARKER_TABLE = "dbt_invocations"
RERUN = "Run `dbt build` (the whole project, no --select) and let it finish, then publish again."
_READ_ONLY_COMMANDS = ("freshness", "source")  # `dbt source freshness` only reads
_COLUMNS = (
    "seq",
    "invocation_id",
    "command",
    "selection",
    "started_at",
    "finished_at",
    "status",
    "nodes_in_project",
    "nodes_run",
    "succeeded",
    "warned",
    "failed",
    "skipped",
    "problems",
)


@dataclass(frozen=True)
class Invocation:
    """One dbt invocation as recorded by the build marker."""

    seq: int
    invocation_id: str
    command: str
    selection: dict[str, Any]
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str  # 'running' until on-run-end recorded the outcome, then 'finished'
    nodes_in_project: int | None
    nodes_run: int | None
    succeeded: int | None
    warned: int | None
    failed: int | None
    skipped: int | None
    problems: str | None

    @property
    def label(self) -> str:
        """`dbt build (invocation 1b2c..., started 2024-05-01 10:00:00 UTC)` for messages."""
        args = " ".join(
            f"--{key.replace('_', '-')} {' '.join(value) if isinstance(value, list) else value}"
            for key, value in self.selection.items()
            if value and key in ("select", "exclude", "selector", "resource_types", "exclude_resource_types", "sample")
        )
        flags = " --empty" if self.selection.get("empty") else ""
        return (
            f"`dbt {self.command}{' ' + args if args else ''}{flags}` (invocation {self.invocation_id[:8]}, "
            f"started {self.started_at:%Y-%m-%d %H:%M:%S} UTC)"
        )

    @property
    def finished_cleanly(self) -> bool:
        """Finished, with no error, failure or skipped node."""
        return self.status == "finished" and not self.failed and not self.skipped

    def outcome(self) -> str:
        """`258 passed, 1 failed (model.x.y (error)), 3 skipped` for messages."""
        parts = [f"{self.succeeded or 0} passed"]
        if self.warned:
            parts.append(f"{self.warned} warned")
        if self.failed:
            parts.append(f"{self.failed} failed ({self.problems})" if self.problems else f"{self.failed} failed")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        return ", ".join(parts)


@dataclass(frozen=True)
class BuildVerdict:
    """Whether the build file may be published, and why (or why not)."""

    complete: bool
    reason: str
    build: Invocation | None = None
    notes: list[str] = field(default_factory=list)


def read_invocations(con: duckdb.DuckDBPyConnection) -> list[Invocation] | None:
    """All recorded invocations, newest first; None when the build file has no marker table."""
    exists = one_row(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        f"AND schema_name = '{META_SCHEMA}' AND table_name = '{MARKER_TABLE}'",
    )[0]
    if not exists:
        return None
    rows = con.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM {quote_ident(META_SCHEMA)}.{quote_ident(MARKER_TABLE)} ORDER BY seq DESC"
    ).fetchall()
    return [Invocation(row[0], row[1], row[2], _selection(row[3]), *row[4:]) for row in rows]


def _selection(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def judge_build(invocations: Sequence[Invocation] | None) -> BuildVerdict:
    """Apply the rules of the module docstring to the invocations, newest first."""
    if invocations is None or not invocations:
        return BuildVerdict(
            False,
            f"the build file has no build marker ({META_SCHEMA}.{MARKER_TABLE}): it was "
            f"not built by this project's `dbt build`. {RERUN}",
        )
    notes: list[str] = []
    for invocation in invocations:
        if invocation.status != "finished":
            return BuildVerdict(
                False,
                f"{invocation.label} did not finish: it is still running or was killed, "
                f"so the warehouse may hold a mix of old and new models. {RERUN}",
            )
        if invocation.command in _READ_ONLY_COMMANDS:
            continue
        if invocation.command == "test":
            if not invocation.finished_cleanly:
                return BuildVerdict(
                    False,
                    f"{invocation.label} ran after the last build and found problems: "
                    f"{invocation.outcome()}. Fix the data or the models. {RERUN}",
                )
            if invocation.warned:
                notes.append(f"{invocation.label}: {invocation.warned} test warning(s)")
            continue
        if invocation.command != "build":
            return BuildVerdict(
                False,
                f"{invocation.label} changed the warehouse after the last build without "
                f"running the whole project and its tests. {RERUN}",
            )
        return _judge_last_build(invocation, notes)
    return BuildVerdict(
        False, f"no `dbt build` is recorded in the build file, only {invocations[-1].label} and later. {RERUN}"
    )


def _judge_last_build(build: Invocation, notes: list[str]) -> BuildVerdict:
    if build.selection.get("empty") or build.selection.get("sample"):
        return BuildVerdict(
            False, f"{build.label} built the models with --empty or --sample, not the data. {RERUN}", build
        )
    if not build.finished_cleanly:
        return BuildVerdict(False, f"{build.label} did not pass: {build.outcome()}. Fix the failures. {RERUN}", build)
    if build.nodes_run is None or build.nodes_in_project is None or build.nodes_run < build.nodes_in_project:
        return BuildVerdict(
            False,
            f"{build.label} ran {build.nodes_run} of the project's {build.nodes_in_project} "
            f"models, seeds, snapshots and tests: a partial build. {RERUN}",
            build,
        )
    if build.warned:
        notes.insert(0, f"{build.label}: {build.warned} test warning(s)")
    return BuildVerdict(True, f"{build.label} finished: {build.outcome()}", build, notes)
