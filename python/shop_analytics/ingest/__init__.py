"""Landing -> quality gate -> lake or quarantine: discovery, reading, key filter, atomic publish, audit."""

from shop_analytics.ingest.errors import OperationalError
from shop_analytics.ingest.report import BatchReport, exit_code
from shop_analytics.ingest.runner import IngestSettings, audit_rows, ingest

__all__ = ["BatchReport", "IngestSettings", "OperationalError", "audit_rows", "exit_code", "ingest"]
