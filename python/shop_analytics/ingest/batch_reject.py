"""Batches that never reach the row gate: rejected whole (files kept in quarantine with a reason) or empty."""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

from shop_analytics.ingest.batch_commit import commit_batch
from shop_analytics.ingest.batches import (
    LandingBatch,
    NotRegularFileError,
    open_regular,
)
from shop_analytics.ingest.report import (
    INGESTED,
    REJECTED,
    BatchReport,
)
from shop_analytics.ingest.run_state import GateRun
from shop_analytics.quality.contracts import ContractCheck


def empty_batch(gate: GateRun, batch: LandingBatch, audit: dict[str, Any], started: float) -> BatchReport:
    """A complete batch without data files (only the marker): audited as ingested with 0 rows."""
    message = f"{batch.source.name} batch {batch.batch_id}: no data files, only the completion marker"
    seconds = round(time.perf_counter() - started, 3)
    commit_batch(
        gate,
        batch,
        [],
        {
            **audit,
            "rows_in": 0,
            "rows_admitted": 0,
            "rows_quarantined": 0,
            "quarantined_by_reason": "{}",
            "contract_version": None,
            "seconds": seconds,
            "status": INGESTED,
            "contract_status": None,
            "message": message,
        },
    )
    return BatchReport(batch.source.name, batch.batch_id, INGESTED, seconds=seconds, message=message)


def reject_batch(
    gate: GateRun,
    batch: LandingBatch,
    audit: dict[str, Any],
    started: float,
    rule: str,
    check: ContractCheck | None,
    message: str,
    violations: list[dict[str, Any]],
    rows: int = 0,
) -> BatchReport:
    """Quarantine the whole batch: its regular data files plus reason.json, then audit it as rejected."""
    source = batch.source
    scratch = gate.publisher.scratch(source.name, batch.batch_id)
    out = scratch / "quarantine" / source.name / batch.batch_id
    (out / "files").mkdir(parents=True)
    copied = []
    for path in batch.files:
        try:
            with open_regular(path) as src, (out / "files" / path.name).open("wb") as dst:
                shutil.copyfileobj(src, dst)
            copied.append(path.name)
        except NotRegularFileError:
            pass  # never followed; named in the message
    column = violations[0]["column"] if violations else None
    reason = {
        "source": source.name,
        "batch_id": batch.batch_id,
        "rule": rule,
        "column": column,
        "message": message,
        "violations": violations,
        "files": copied,
        "not_regular": list(batch.irregular),
        "content_hash": audit["content_hash"],
        "rows": rows,
    }
    (out / "reason.json").write_text(json.dumps(reason, indent=2, sort_keys=True, default=str) + "\n")
    files = gate.publisher.publish(gate.con, source.name, batch.batch_id, scratch)
    seconds = round(time.perf_counter() - started, 3)
    commit_batch(
        gate,
        batch,
        files,
        {
            **audit,
            "rows_in": rows,
            "rows_admitted": 0,
            "rows_quarantined": rows,
            "quarantined_by_reason": json.dumps({f"batch_rejected:{rule}": rows}),
            "contract_version": None,
            "seconds": seconds,
            "status": REJECTED,
            "contract_status": check.status if check else None,
            "message": message,
        },
    )
    return BatchReport(
        source.name,
        batch.batch_id,
        REJECTED,
        rows,
        0,
        rows,
        {f"batch_rejected:{rule}": rows},
        seconds,
        None,
        check.status if check else None,
        message,
        rule=rule,
    )
