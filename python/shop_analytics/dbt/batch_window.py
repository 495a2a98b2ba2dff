"""The batch window of an incremental dbt Python model, as its pre-hook fixed it (docs/incremental.md).

A SQL model reads its window through the macro ``new_batches``; a Python model cannot call
macros, so it reads the same state here. Its hooks must run outside the model's transaction
(``transaction: false``): the model's code runs on another cursor, which sees only what the
pre-hook committed.
"""

from __future__ import annotations

from typing import Any

from shop_analytics.sql import quote_literal


def window_bounds(con: Any, model: str) -> tuple[int, int]:
    """(consumed_through, horizon] of `model`'s window in _shop_meta.incremental_state; an error without one."""
    rows = con.execute(
        "select consumed_through, horizon from _shop_meta.incremental_state where model = ?", [model]
    ).fetchall()
    if len(rows) != 1:
        raise RuntimeError(
            f"{model}: expected one batch window in _shop_meta.incremental_state, found {len(rows)}; "
            "its pre-hook batch_window_open() must run outside the model's transaction (transaction: false)"
        )
    low, high = rows[0]
    return int(low), int(high)


def window_rows_sql(relation: str, audit: str, source: str, low: int, high: int) -> str:
    """A FROM-clause subquery: the rows of `relation` (a staging view with batch_id) of the batches in (low, high].

    `relation` and `audit` are dbt relations (relation_sql) and `source` a name from dbt's graph;
    the source is quoted and the bounds rendered as integers, never bound as parameters, because
    callers re-plan the subquery with parameters of their own.
    """
    return (
        f"(select * from {relation} where batch_id in ("
        f"select audit.batch_id from {audit} as audit where audit.batch_status = 'ingested'"
        f" and audit.source_name = {quote_literal(source)}"
        f" and audit.commit_seq > {int(low):d} and audit.commit_seq <= {int(high):d}))"
    )
