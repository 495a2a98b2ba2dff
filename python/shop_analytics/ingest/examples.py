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
    rows: int,
    raw_columns: tuple[str, ...],
    by_reason: dict[str, int],
) -> dict[str, str]:
    """reason -> 'row N, <column> = <value>' for the batch's first row with that reason (values as delivered).

    The batch is rows lo .. lo + rows - 1 of `view` and of the `reasons` table.
    """
    columns = {row[0] for row in con.execute(f"DESCRIBE {quote_ident(view)}").fetchall()}
    shown: dict[str, tuple[str, str]] = {}  # reason -> (its column, the column whose value is shown, '' for none)
    for reason in by_reason:
        column = reason.split(":", 1)[1] if ":" in reason else ""
        name = raw_column(column) if raw_column(column) in raw_columns else column
        if name not in columns:
            name = GATE_KEY if "+" in column and GATE_KEY in columns else ""
        shown[reason] = (column, name)
    if not shown:
        return {}
    # One join for all reasons: each reason's first row, then its shown column (a scan of the
    # batch per reason cost seconds on batches with many reasons).
    wanted = sorted({name for _, name in shown.values() if name})
    values = "".join(f", CAST(b.{quote_ident(name)} AS VARCHAR)" for name in wanted)
    found = con.execute(
        f"SELECT f.reason, f.{ROW_NUMBER} - ?{values} FROM (SELECT reason, min({ROW_NUMBER}) AS {ROW_NUMBER} "
        f"FROM {quote_ident(reasons)} WHERE {ROW_NUMBER} >= ? AND {ROW_NUMBER} < ? "
        f"AND reason IN (SELECT unnest(?::VARCHAR[])) GROUP BY reason) f "
        f"JOIN {quote_ident(view)} b ON b.{ROW_NUMBER} = f.{ROW_NUMBER}",
        [lo, lo, lo + rows, sorted(shown)],
    ).fetchall()
    out: dict[str, str] = {}
    for row in sorted(found):
        reason, position = row[0], row[1]
        column, name = shown[reason]
        value = row[2 + wanted.index(name)] if name else None
        text = "NULL" if value is None else repr(_clip(str(value)).replace(chr(31), "|"))
        out[reason] = f"row {position}, {column or '?'} = {text}"
    return out


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
