"""Parquet exports of a publication: one file per table, written to a staging folder first."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import duckdb
from tqdm import tqdm

from shop_analytics.publish.builder import PUBLICATION_TABLE, Provenance
from shop_analytics.publish.files import fsync_tree
from shop_analytics.sql import quote_literal
from shop_analytics.warehouse.relations import Relation

MANIFEST_NAME = "manifest.json"


def export_tables(
    con: duckdb.DuckDBPyConnection,
    alias: str,
    counts: Mapping[Relation, int],
    dest: Path,
    provenance: Provenance,
    progress: bool | None = None,
) -> Path:
    """Write `<dest>/<schema>/<table>.parquet` for every table of `alias`, `_publication.parquet`, a manifest."""
    dest.mkdir(parents=True)
    files = []
    for relation, rows in tqdm(
        sorted(counts.items(), key=lambda item: item[0].label),
        desc="export parquet",
        unit="table",
        disable=None if progress is None else not progress,
    ):
        path = dest / relation.schema / f"{relation.name}.parquet"
        path.parent.mkdir(exist_ok=True)
        _copy(con, f"{alias}.{relation.sql}", path)
        files.append(
            {"schema": relation.schema, "table": relation.name, "rows": rows, "file": str(path.relative_to(dest))}
        )
    _copy(con, f"{alias}.main.{PUBLICATION_TABLE}", dest / f"{PUBLICATION_TABLE}.parquet")
    manifest = {
        "version": provenance.version,
        "published_at": provenance.published_at.isoformat() + "Z",
        "built_at": provenance.built_at.isoformat() + "Z",
        "git_revision": provenance.git_revision,
        "tables": files,
    }
    (dest / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    fsync_tree(dest)
    return dest


def _copy(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> None:
    con.execute(f"COPY (SELECT * FROM {table}) TO {quote_literal(str(path))} (FORMAT parquet, COMPRESSION zstd)")
