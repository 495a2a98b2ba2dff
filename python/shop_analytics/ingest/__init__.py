"""Landing -> lake or quarantine: batch discovery, row rules and the audited ingest runner."""

from shop_analytics.ingest.runner import BatchConflictError, BatchReport, IngestSettings, audit_rows, ingest

__all__ = ["BatchConflictError", "BatchReport", "IngestSettings", "audit_rows", "ingest"]
