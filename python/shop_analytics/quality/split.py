"""Row split SQL: admitted rows and quarantined rows (with all their reasons) from a reasons table.

Every batch row lands in exactly one of the two, so admitted + quarantined == batch rows.
Both are plain SELECTs for ingest to COPY to the lake / quarantine.
"""

from __future__ import annotations

from shop_analytics.quality.namespace import REASONS, ROW_NUMBER
from shop_analytics.sql import quote_ident


def admitted_sql(relation: str, reasons_table: str) -> str:
    """Rows of `relation` with no reason, with the batch's own columns (the row number dropped)."""
    return (
        f"SELECT b.* EXCLUDE ({ROW_NUMBER}) FROM {quote_ident(relation)} b "
        f"ANTI JOIN {quote_ident(reasons_table)} r ON b.{ROW_NUMBER} = r.{ROW_NUMBER}"
    )


def quarantined_sql(relation: str, reasons_table: str) -> str:
    """Rows of `relation` with at least one reason: the row, its row number and a sorted reasons list (REASONS)."""
    return (
        f"SELECT b.*, r.{REASONS} FROM {quote_ident(relation)} b JOIN "
        f"(SELECT {ROW_NUMBER}, list(reason ORDER BY reason) AS {REASONS} FROM {quote_ident(reasons_table)} "
        f"GROUP BY {ROW_NUMBER}) r ON b.{ROW_NUMBER} = r.{ROW_NUMBER}"
    )
