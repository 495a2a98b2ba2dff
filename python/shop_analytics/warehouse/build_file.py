"""The dbt build file: opened read-only with the project's settings, and the relations of chosen schemas."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from shop_analytics.settings import Settings
from shop_analytics.sql import quote_literal
from shop_analytics.warehouse.errors import BuildFileLockedError, WarehouseError
from shop_analytics.warehouse.relations import Relation

# Where macros/build_marker.sql records dbt invocations; never checked as data, never published.
META_SCHEMA = "_shop_meta"
# dbt-duckdb leaves these behind when a run is interrupted; they are never part of a release.
_DBT_LEFTOVER_SUFFIXES = ("__dbt_tmp", "__dbt_backup")


def default_build_file() -> Path:
    """The dbt build file: $SHOP_ANALYTICS_WAREHOUSE or warehouse/shop_analytics.duckdb."""
    return Settings.from_env().warehouse


def default_schemas() -> tuple[str, ...]:
    """$SHOP_ANALYTICS_PUBLISH_SCHEMAS (comma-separated) or marts, reference."""
    return Settings.from_env().publish_schemas


def open_build_file(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the dbt build file read-only, with the project's memory, thread and spill settings."""
    if not path.exists():
        raise FileNotFoundError(f"no dbt build file at {path}; run `dbt build` first")
    settings = Settings.from_env()
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": settings.memory_limit,
        "threads": settings.duckdb_threads,
    }
    if settings.temp_dir:
        config["temp_directory"] = settings.temp_dir
    try:
        con = duckdb.connect(str(path), read_only=True, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise BuildFileLockedError(
                f"{path} is locked by another process (is `dbt build` running?); the build file is read "
                f"only when no one writes it. Retry once the build has finished. DuckDB: {exc}"
            ) from exc
        raise
    con.execute("SET enable_progress_bar = false")  # publish shows one tqdm bar per table instead
    return con


def find_relations(con: duckdb.DuckDBPyConnection, schemas: Sequence[str]) -> list[Relation]:
    """Tables and views of `schemas` in the build file, ordered by schema and name (never the meta schema)."""
    schemas = [s for s in schemas if s != META_SCHEMA]
    if not schemas:
        raise ValueError(f"no schemas to publish or check (schema {META_SCHEMA} is never published)")
    # Inlined, not a list parameter: binding a Python list makes duckdb import pandas (2-3 s).
    wanted = ", ".join(quote_literal(s) for s in schemas)
    rows = con.execute(
        f"""
        SELECT schema_name, table_name, 'table' FROM duckdb_tables()
        WHERE database_name = current_database() AND NOT temporary AND schema_name IN ({wanted})
        UNION ALL
        SELECT schema_name, view_name, 'view' FROM duckdb_views()
        WHERE database_name = current_database() AND NOT internal AND NOT temporary AND schema_name IN ({wanted})
        ORDER BY 1, 2
        """
    ).fetchall()
    relations = [
        Relation(schema, name, kind) for schema, name, kind in rows if not name.endswith(_DBT_LEFTOVER_SUFFIXES)
    ]
    if not relations:
        raise WarehouseError(
            f"the build file has no tables or views in schemas {', '.join(schemas)}; "
            "did `dbt build` run against this file?"
        )
    return relations


def missing_schemas(con: duckdb.DuckDBPyConnection, schemas: Sequence[str]) -> list[str]:
    """Requested schemas that do not exist in the build file (e.g. marts before any mart is built)."""
    present = {
        row[0]
        for row in con.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
        ).fetchall()
    }
    return [s for s in schemas if s not in present]
