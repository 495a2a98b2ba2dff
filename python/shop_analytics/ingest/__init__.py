"""Landing -> quality gate -> lake or quarantine: discovery, reading, key filter, atomic publish, audit."""

from shop_analytics.ingest.runner import BatchConflictError, BatchReport, IngestSettings, audit_rows, ingest

__all__ = ["BatchConflictError", "BatchReport", "IngestSettings", "audit_rows", "ingest"]
