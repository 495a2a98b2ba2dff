"""`publish` and `rollback`: build a new serving version from the dbt build file and swap it in."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shop_analytics.checks import Check, CheckResult, Status, default_checks, format_report, run_checks
from shop_analytics.publish import spill, versions
from shop_analytics.publish.builder import PUBLICATION_TABLE, Provenance, attached, materialize, write_publication
from shop_analytics.publish.errors import ChecksFailedError, PublishError, RollbackError
from shop_analytics.publish.exports import export_tables
from shop_analytics.publish.layout import ServingLayout
from shop_analytics.publish.provenance import git_revision, modified_at, utc_now
from shop_analytics.publish.reader import connect_serving
from shop_analytics.sql import one_row
from shop_analytics.warehouse import (
    BuildIncompleteError,
    BuildVerdict,
    Relation,
    default_schemas,
    find_relations,
    judge_build,
    missing_schemas,
    open_build_file,
    read_invocations,
)

DEFAULT_KEEP = 5


@dataclass(frozen=True)
class Publication:
    """The outcome of one publish."""

    version: int
    serving_file: Path
    export_dir: Path | None
    row_counts: dict[str, int]
    seconds: float
    pruned: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    build: str = ""  # which dbt build was published, and its outcome
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # housekeeping done on the way (stale spill folders)


@dataclass(frozen=True)
class CheckedBuild:
    """What `check_build` found: the build marker's verdict and the check results."""

    verdict: BuildVerdict
    results: list[CheckResult]


def check_build(
    build_file: Path, *, schemas: Sequence[str] | None = None, checks: Sequence[Check] | None = None
) -> CheckedBuild:
    """Run the checks on the relations publish would publish, exactly as publish runs them (`shop-analytics check`)."""
    con = open_build_file(build_file)
    try:
        verdict = judge_build(read_invocations(con))
        relations = find_relations(con, tuple(schemas or default_schemas()))
        return CheckedBuild(verdict, run_checks(con, relations, default_checks() if checks is None else checks))
    finally:
        con.close()


def publish(
    build_file: Path,
    layout: ServingLayout,
    *,
    schemas: Sequence[str] | None = None,
    keep: int = DEFAULT_KEEP,
    exports: bool = True,
    checks: Sequence[Check] | None = None,
    project_dir: Path | None = None,
    progress: bool | None = None,
) -> Publication:
    """Check the build, materialize its published schemas into a new version and swap it in.

    Publishes only a complete build: the build marker must show a finished, passing `dbt build`
    of the whole project (BuildIncompleteError otherwise) and every check must pass
    (ChecksFailedError). Readers never see a partial state: the new file is complete,
    checkpointed and closed before one `os.replace` makes it the serving file; on any failure
    (a full disk included) the served version stays as it was and the new one is removed.
    Raises BuildFileLockedError while dbt holds the build file.
    """
    if keep < 1:
        raise ValueError(f"--keep must be at least 1, got {keep}")
    if not build_file.exists():
        raise BuildIncompleteError(f"no dbt build file at {build_file}; run `dbt build` first")
    started = time.perf_counter()
    schemas = tuple(schemas or default_schemas())
    checks = default_checks() if checks is None else list(checks)
    layout.versions_dir.mkdir(parents=True, exist_ok=True)
    with versions.publish_lock(layout):
        versions.clear_staging_leftovers(layout)
        notes = _clear_stale_spills(layout)
        version = versions.next_version(layout)
        staged_file, staged_exports = versions.stage_paths(layout, version)
        try:
            built = _build(
                build_file,
                staged_file,
                staged_exports if exports else None,
                schemas,
                checks,
                Provenance(version, utc_now(), modified_at(build_file), git_revision(project_dir or Path.cwd())),
                progress,
            )
            _verify(staged_file, built.counts)
            versions.keep(layout, version, staged_file, staged_exports if exports else None)
            exported = versions.install(layout, version)
        except BaseException:
            versions.clear_staging_leftovers(layout)
            versions.discard(layout, version)
            raise
        warnings = built.warnings
        if exports and not exported:
            raise PublishError(f"exports of version {version} vanished before they were published")
        if not exports and layout.exports_current.is_symlink():
            warnings.append("--no-exports: exports/current still points at an older version")
        pruned = versions.prune(layout, keep)
    return Publication(
        version,
        layout.serving_file,
        layout.export_dir(version) if exports else None,
        {r.label: n for r, n in built.counts.items()},
        time.perf_counter() - started,
        pruned,
        warnings,
        built.verdict.reason,
        built.results,
        notes,
    )


@dataclass(frozen=True)
class _Built:
    counts: dict[Relation, int]
    warnings: list[str]
    verdict: BuildVerdict
    results: list[CheckResult]


def _build(
    build_file: Path,
    staged_file: Path,
    staged_exports: Path | None,
    schemas: Sequence[str],
    checks: Sequence[Check],
    provenance: Provenance,
    progress: bool | None,
) -> _Built:
    con = open_build_file(build_file)
    try:
        verdict = judge_build(read_invocations(con))
        if not verdict.complete:
            raise BuildIncompleteError(f"{build_file}: {verdict.reason}")
        warnings = [
            f"schema {s!r} is not in the build file; nothing published from it" for s in missing_schemas(con, schemas)
        ] + verdict.notes
        relations = find_relations(con, schemas)
        results = run_checks(con, relations, checks)
        if any(r.failed for r in results):
            raise ChecksFailedError(
                f"{sum(r.failed for r in results)} of {len(results)} post-build checks failed; "
                f"nothing was published.\n{format_report(results)}"
            )
        warnings += [f"check {r.name}: {r.detail}" for r in results if r.status is Status.WARN]
        with attached(con, staged_file) as alias:
            counts = materialize(con, alias, relations, progress)
            write_publication(con, alias, provenance, counts)
            if staged_exports is not None:
                export_tables(con, alias, counts, staged_exports, provenance, progress)
    finally:
        con.close()
    return _Built(counts, warnings, verdict, results)


def _clear_stale_spills(layout: ServingLayout) -> list[str]:
    """Remove spill folders that readers opened without the recommended settings left in serving/."""
    found = spill.clear_stale_spills([layout.serving_dir, layout.versions_dir])
    notes = [
        f"removed stale reader spill folder {p} (DuckDB temp files of a reader that exited)" for p in found.removed
    ]
    if found.removed:
        notes.append(
            f"freed {found.freed_bytes / 2**20:,.1f} MiB; open readers with `shop-analytics shell` or "
            "connect_serving() so they spill outside serving/ (docs/serving.md)"
        )
    notes += [
        f"reader spill folder {p} is in use" + (f" by process {pid}" if pid > 0 else "") + "; left in place"
        for p, pid in found.in_use
    ]
    return notes


def _verify(staged_file: Path, counts: dict[Relation, int]) -> None:
    """Open the new file exactly as readers will and check it holds only plain tables with the counts."""
    with connect_serving(staged_file) as con:
        views = con.execute(
            "SELECT schema_name || '.' || view_name FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT internal"
        ).fetchall()
        if views:
            raise PublishError(f"the new serving file has views {views}; it must hold plain tables only")
        for relation, expected in counts.items():
            found = one_row(con, f"SELECT count(*) FROM {relation.sql}")[0]
            if found != expected:
                raise PublishError(f"{relation.label}: {found} rows in the new file, expected {expected}")
        recorded = dict(
            con.execute(f"SELECT table_schema || '.' || table_name, row_count FROM main.{PUBLICATION_TABLE}").fetchall()
        )
    if recorded != {r.label: n for r, n in counts.items()}:
        raise PublishError(f"{PUBLICATION_TABLE} disagrees with the tables it describes: {recorded}")


def rollback(layout: ServingLayout, to_version: int | None = None) -> int:
    """Serve `to_version`, or the newest kept version older than the current one; returns it."""
    with versions.publish_lock(layout):
        current = versions.current_version(layout)
        kept = versions.kept_versions(layout)
        if to_version is None:
            older = [v for v in kept if current is None or v < current]
            if not older:
                raise RollbackError(f"no kept version older than the current one ({current}); kept: {kept}")
            to_version = older[-1]
        if to_version == current:
            raise RollbackError(f"version {to_version} is already being served")
        versions.install(layout, to_version)
    return to_version


def status(layout: ServingLayout) -> list[tuple[int, bool, bool]]:
    """Every kept version with whether it is served and whether it has a Parquet export."""
    current = versions.current_version(layout)
    exported = set(versions.export_versions(layout))
    return [(v, v == current, v in exported) for v in versions.kept_versions(layout)]


def read_publication(path: Path) -> list[tuple[Any, ...]]:
    """The `_publication` rows of a serving file (version, published_at, ..., row_count)."""
    with connect_serving(path) as con:
        return con.execute(f"SELECT * FROM main.{PUBLICATION_TABLE} ORDER BY table_schema, table_name").fetchall()


__all__ = [
    "DEFAULT_KEEP",
    "CheckedBuild",
    "Publication",
    "check_build",
    "publish",
    "read_publication",
    "rollback",
    "status",
]
