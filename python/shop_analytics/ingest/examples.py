"""One example value per quarantine reason of a batch, so a message can show what was wrong."""

from __future__ import annotations

import duckdb

from shop_analytics.ingest.reading import raw_column
from shop_analytics.quality.namespace import GATE_KEY, ROW_NUMBER
from shop_analytics.sql import quote_ident

MAX_SHOWN = 80  # characters of an example value


def reason_examples(
    con: duckdb.DuckDBPyConnection,
    view: str,
    reasons: str,
    lo: int,
    raw_columns: tuple[str, ...],
    by_reason: dict[str, int],
) -> dict[str, str]:
    """reason -> 'row N, <column> = <value>' for the batch's first row with that reason (values as delivered)."""
    columns = {row[0] for row in con.execute(f"DESCRIBE {quote_ident(view)}").fetchall()}
    out: dict[str, str] = {}
    for reason in sorted(by_reason):
        column = reason.split(":", 1)[1] if ":" in reason else ""
        shown = raw_column(column) if raw_column(column) in raw_columns else column
        if shown not in columns:
            shown = GATE_KEY if "+" in column and GATE_KEY in columns else ""
        value_sql = f"CAST(b.{quote_ident(shown)} AS VARCHAR)" if shown else "NULL"
        row = con.execute(
            f"SELECT r.{ROW_NUMBER} - ?, {value_sql} FROM {quote_ident(reasons)} r JOIN {quote_ident(view)} b "
            f"ON b.{ROW_NUMBER} = r.{ROW_NUMBER} WHERE r.reason = ? ORDER BY r.{ROW_NUMBER} LIMIT 1",
            [lo, reason],
        ).fetchone()
        if row is None:
            continue
        value = "NULL" if row[1] is None else repr(_clip(str(row[1])).replace(chr(31), "|"))
        out[reason] = f"row {row[0]}, {column or '?'} = {value}"
    return out


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
