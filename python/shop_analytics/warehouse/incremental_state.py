"""What the incremental models consumed: their watermarks, the lake's ingested batches, dbt's timings.

The watermarks live in the build file's `_shop_meta.incremental_state` (docs/incremental.md):
per model, `consumed_through` (every ingested batch with `commit_seq` at or below it is in the
model) and `horizon` (the upper end of its last window). A build's window per model is
(watermark before the build, watermark after]; the batches in it are the audit rows of the
lake (`lake/_ingest_audit/`) with an ingested status and a `commit_seq` in that range.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

STATE_TABLE = "_shop_meta.incremental_state"
RETRAIN_TABLE = "_shop_meta.retrain_inputs"
AUDIT_FOLDER = "_ingest_audit"


@dataclass(frozen=True)
class AuditBatch:
    """One ingested batch of the lake, in commit order."""

    commit_seq: int
    source: str
    batch_id: str
    rows_admitted: int


def read_watermarks(warehouse: Path) -> dict[str, int]:
    """model -> consumed_through, from the build file (empty when no model recorded one yet)."""
    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = '_shop_meta' AND table_name = 'incremental_state'"
        ).fetchone()
        if not exists or not exists[0]:
            return {}
        rows = con.execute(f"SELECT model, consumed_through FROM {STATE_TABLE} ORDER BY model").fetchall()
    return {str(model): int(seq) for model, seq in rows}


def kept_models(warehouse: Path) -> set[str]:
    """The retrained models whose last build kept their stored table: their inputs had not changed."""
    if not warehouse.exists():
        return set()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = '_shop_meta' AND table_name = 'retrain_inputs'"
        ).fetchone()
        if not exists or not exists[0]:
            return set()
        rows = con.execute(f"SELECT model FROM {RETRAIN_TABLE} WHERE invocation_id <> built_invocation_id").fetchall()
    return {str(model) for (model,) in rows}


def ingested_batches(lake: Path) -> list[AuditBatch]:
    """Every ingested batch that the lake's audit lists, by commit_seq."""
    files = sorted((lake / AUDIT_FOLDER).glob("*.parquet"))
    if not files:
        return []
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT commit_seq, source, batch_id, rows_admitted FROM read_parquet(?, union_by_name = true) "
            "WHERE status = 'ingested' AND commit_seq IS NOT NULL ORDER BY commit_seq",
            [[str(f) for f in files]],
        ).fetchall()
    return [AuditBatch(int(seq), str(source), str(batch), int(rows or 0)) for seq, source, batch, rows in rows]


def in_window(batches: list[AuditBatch], after: int, through: int) -> list[AuditBatch]:
    """The batches with after < commit_seq <= through."""
    return [b for b in batches if after < b.commit_seq <= through]


def model_timings(run_results: Path) -> dict[str, float]:
    """model name -> seconds it took, from a dbt run_results.json (models only, not tests or seeds)."""
    if not run_results.exists():
        return {}
    results = json.loads(run_results.read_text())["results"]
    return {
        r["unique_id"].rsplit(".", 1)[1]: float(r["execution_time"])
        for r in results
        if r["unique_id"].startswith("model.")
    }


def materializations(manifest: Path) -> dict[str, str]:
    """model name -> its materialization (incremental, table, view, ...), from dbt's manifest.json."""
    if not manifest.exists():
        return {}
    nodes = json.loads(manifest.read_text())["nodes"]
    return {n["name"]: n["config"]["materialized"] for n in nodes.values() if n["resource_type"] == "model"}


def incremental_relations(manifest: Path) -> list[str]:
    """`schema.name` of every incremental model, from dbt's manifest.json (sorted)."""
    nodes = json.loads(manifest.read_text())["nodes"]
    return sorted(
        f"{n['schema']}.{n['alias'] or n['name']}"
        for n in nodes.values()
        if n["resource_type"] == "model" and n["config"]["materialized"] == "incremental"
    )
