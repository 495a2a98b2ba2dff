"""What ingest did with each batch, and the exit code that adds up to (docs/quality_gate.md, "Exit codes")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from shop_analytics.exit_codes import ExitCode

# Batch statuses.
INGESTED = "ingested"  # gated: rows admitted to the lake, the rest quarantined with reasons
SKIPPED = "skipped"  # the same content was ingested before
REJECTED = "rejected"  # rejected whole (unreadable, schema contract, not a regular file): files to quarantine
REFUSED = "refused"  # not a batch ingest can take (bad id, unknown or symlinked folder, stray file): left in landing
CONFLICT = "conflict"  # an ingested batch id came back with other content: left in landing, nothing changed
PENDING = "pending"  # no completion marker yet: retried next run, not an error
FAILED = (REJECTED, REFUSED, CONFLICT)


@dataclass
class BatchReport:
    """What happened to one batch (or one landing entry that is not a batch)."""

    source: str
    batch_id: str
    status: str
    rows_in: int = 0
    rows_admitted: int = 0
    rows_quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    contract_version: int | None = None
    contract_status: str | None = None
    message: str = ""
    maybe_seen: int = 0  # event ids the Bloom filter flagged
    seen_confirmed: int = 0  # ... of which really in the lake
    rule: str | None = None  # why a batch was rejected, refused, in conflict or pending
    over_threshold: bool = False  # quarantined share above the run's threshold (or every row of a non-empty batch)
    max_quarantine_share: float = 0.05  # the threshold this batch was judged by (ingest.yml or --max-quarantine-share)
    examples: dict[str, str] = field(default_factory=dict)  # reason -> first failing row and its value


def is_over_threshold(rows_in: int, rows_quarantined: int, max_share: float) -> bool:
    """A non-empty batch whose quarantined share exceeds `max_share`, or that lost every row."""
    return rows_in > 0 and (rows_quarantined == rows_in or rows_quarantined / rows_in > max_share)


def threshold_message(report: BatchReport) -> str:
    """One line naming the source, batch, quarantined share and rows per reason, each with an example value."""
    share = report.rows_quarantined / report.rows_in if report.rows_in else 0.0
    reasons = "; ".join(
        f"{reason} {count:,}" + (f" (e.g. {report.examples[reason]})" if reason in report.examples else "")
        for reason, count in sorted(report.quarantined_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    what = (
        "every row"
        if report.rows_quarantined == report.rows_in
        else f"over the {report.max_quarantine_share:.1%} threshold"
    )
    return (
        f"{report.source} batch {report.batch_id}: {report.rows_quarantined:,} of {report.rows_in:,} rows "
        f"({share:.1%}) quarantined, {what}; by reason (reason = rule:column): {reasons}"
    )


def exit_code(reports: Iterable[BatchReport]) -> ExitCode:
    """The most severe outcome: a batch over its quarantine threshold, then any batch rejected, refused or in conflict.

    (An operational failure stops the run with OperationalError and ExitCode.OPERATIONAL, above both.)
    """
    reports = list(reports)
    if any(r.over_threshold for r in reports):
        return ExitCode.QUARANTINE_THRESHOLD
    if any(r.status in FAILED for r in reports):
        return ExitCode.DATA_REJECTED
    return ExitCode.OK


def report_dict(report: BatchReport) -> dict[str, Any]:
    """A batch report as a plain dict."""
    return asdict(report)
