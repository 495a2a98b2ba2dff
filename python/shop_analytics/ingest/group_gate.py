"""The row gate over a group of batches of one source: one GX validation, then each batch finished in turn."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shop_analytics.ingest.batch_finish import finish_batch, key_array, missing_columns
from shop_analytics.ingest.batch_prepare import StagedBatch
from shop_analytics.ingest.reading import (
    drop_relations,
)
from shop_analytics.ingest.report import (
    BatchReport,
)
from shop_analytics.ingest.run_state import DB, GateRun
from shop_analytics.quality.keys import (
    admitted_order_ids_sql,
    key_hash_sql,
    key_text_sql,
    known_text_sql,
)
from shop_analytics.quality.money import MAX_SCALE
from shop_analytics.quality.namespace import GATE_BATCH, GATE_KEY, GATE_KEY_HASH, ROW_NUMBER
from shop_analytics.quality.raw_contract import ORDER_LINES, SALE, Source
from shop_analytics.quality.rules import UNKNOWN_ORDER, RuleParams, rules_for
from shop_analytics.quality.rules_sql import row_reasons_sql
from shop_analytics.sql import quote_ident


def joins_group(group: list[StagedBatch], item: StagedBatch, max_rows: int) -> bool:
    """Whether `item` is validated with `group`: same schema, conversions and settings, at most ~max_rows rows."""
    return _group_key(group[0]) == _group_key(item) and sum(x.rows for x in group) + item.rows <= max_rows


def _group_key(item: StagedBatch) -> tuple[Any, ...]:
    """Batches validated together share their schema, converted columns and settings."""
    return (item.loaded.columns, item.loaded.cast_columns, item.loaded.local_columns, item.options)


def _refresh_references(gate: GateRun) -> None:
    # Known ids = keys admitted for the dimensions so far. Plain (not TEMP) tables: GX's
    # own connection to this in-memory database must see them.
    for table, column, dim in (("gate_known_users", "user_id", "users"), ("gate_known_items", "item_id", "items")):
        gate.con.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT key AS {column} FROM ({known_text_sql(DB)})", [dim]
        )
    gate.references_stale = False


def gate_group(gate: GateRun, source: Source, group: list[StagedBatch]) -> list[BatchReport]:
    """One GX validation over consecutive batches of `source`, then per batch: write, audit, commit.

    GX costs a fixed overhead per run (suite, datasource, ~20 queries), so a source's
    pending batches are validated together; each batch is a range of row numbers.
    """
    from shop_analytics.quality.gx_duckdb import new_context  # GX loads once per run, only if needed
    from shop_analytics.quality.validate import validate_batch

    con = gate.con
    gate.where = f"{source.name} batches {group[0].batch.batch_id}..{group[-1].batch.batch_id}"
    relation = f"gate_{source.name}"
    offsets, parts, offset = [], [], 0
    for i, item in enumerate(group):
        offsets.append(offset)
        # An older-shaped batch gets the newer columns as typed NULLs, so every rule can name them.
        padding = "".join(", " + c for c in missing_columns(gate, source, item.loaded))
        parts.append(
            f"SELECT * REPLACE ({ROW_NUMBER} + {offset} AS {ROW_NUMBER}), {i} AS {GATE_BATCH}{padding} "
            f"FROM {quote_ident(item.loaded.name)}"
        )
        offset += item.rows
    union = " UNION ALL BY NAME ".join(parts)
    if source.composite_key:  # the key's exact text and its hash, for duplicates in the batch and the lake
        text = key_text_sql(source)
        union = f"SELECT *, {text} AS {GATE_KEY}, {key_hash_sql(text)} AS {GATE_KEY_HASH} FROM ({union})"
    # Materialized once: GX's check table, the key lookup and every batch's split read it.
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(relation)} AS {union}")
    for item in group:  # the gate table holds every row now: free the batches' own tables
        drop_relations(con, item.loaded.relations)
    if source.is_fact and gate.references_stale:
        _refresh_references(gate)
    lookup = None
    if source.is_fact:
        lookup = _lookup_seen(gate, source, relation)
    params = _rule_params(gate, source, group[0])
    if source.name == ORDER_LINES.name:
        _known_orders(gate, source, relation, params)
    reasons = f"{relation}__reasons"
    if offset == 0:  # only header-only / empty batches: nothing for GX to judge
        con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(reasons)} ({ROW_NUMBER} BIGINT, reason VARCHAR)")
        failed_rows = 0
    else:
        if gate.context is None:
            gate.context = new_context()
        failed_rows = validate_batch(
            con, relation, source, params, context=gate.context, reasons_table=reasons
        ).failed_rows
    reports = []
    for item, lo in zip(group, offsets, strict=True):
        view = f"{relation}__part"
        con.execute(
            f"CREATE OR REPLACE VIEW {quote_ident(view)} AS SELECT * FROM {quote_ident(relation)} "
            f"WHERE {ROW_NUMBER} >= {lo} AND {ROW_NUMBER} < {lo + item.rows}"
        )
        reports.append(finish_batch(gate, item, view, reasons, lo, lookup))
    con.execute(f"DROP VIEW IF EXISTS {quote_ident(relation + '__part')}")
    con.execute(f"DROP TABLE {quote_ident(relation)}")
    if source.is_fact:
        gate.seen_filter(source).save()
    if sum(r.rows_quarantined for r in reports) != failed_rows:
        raise RuntimeError(
            f"{source.name}: quarantined rows {sum(r.rows_quarantined for r in reports)} "
            f"differ from GX failed rows {failed_rows}"
        )
    return reports


def _lookup_seen(gate: GateRun, source: Source, relation: str) -> Any:
    """Keys of `relation` maybe / surely admitted before: tables gate_maybe_seen (hashes) and gate_seen_keys."""
    con = gate.con
    hashed = GATE_KEY_HASH if source.composite_key else source.key
    lookup = gate.seen_filter(source).lookup(key_array(con, f"SELECT * FROM {quote_ident(relation)}", hashed))
    con.execute("CREATE OR REPLACE TABLE gate_maybe_seen (key BIGINT)")
    if lookup.maybe.size:
        con.execute("INSERT INTO gate_maybe_seen SELECT unnest(?::BIGINT[])", [lookup.maybe.tolist()])
    if source.composite_key:
        # A hash match is only a candidate: the exact key texts decide (seen.py, quality/keys.py).
        con.execute(
            f"CREATE OR REPLACE TABLE gate_seen_keys AS SELECT DISTINCT key_text AS key FROM {DB}.seen_keys "
            f"WHERE source = ? AND key IN (SELECT unnest(?::BIGINT[])) AND key_text IS NOT NULL",
            [source.name, lookup.confirmed.tolist()],
        )
    else:
        con.execute("CREATE OR REPLACE TABLE gate_seen_keys (key BIGINT)")
        if lookup.confirmed.size:
            con.execute("INSERT INTO gate_seen_keys SELECT unnest(?::BIGINT[])", [lookup.confirmed.tolist()])
    return lookup


def _rule_params(gate: GateRun, source: Source, first: StagedBatch) -> RuleParams:
    options = first.options
    scale = gate.currencies.get(options.default_currency)
    return RuleParams(
        today=gate.now.date(),
        now=gate.now,
        earliest=dt.datetime.combine(options.earliest, dt.time()),
        max_future=options.max_future,
        known_users="gate_known_users" if source.is_fact and source.user_ref else None,
        known_items="gate_known_items" if source.is_fact and source.item_ref else None,
        seen_keys="gate_seen_keys" if source.is_fact else None,
        cast_columns=first.loaded.cast_columns,
        local_columns=first.loaded.local_columns,
        currencies="gate_currencies",
        known_orders="gate_known_orders" if source.name == ORDER_LINES.name else None,
        default_scale=MAX_SCALE if scale is None else scale,
        default_currency=options.default_currency,
        batch_column=GATE_BATCH,
    )


def _known_orders(gate: GateRun, source: Source, relation: str, params: RuleParams) -> None:
    """Table gate_known_orders (order_id, first_batch): orders in the lake (-1) or admitted by a batch of this group.

    An order of this group counts from the first batch with one of its sale lines that passes
    every other rule, so a cancellation may follow its order in the same batch or any later one.
    """
    others = tuple(r for r in rules_for(source, params) if r.kind != UNKNOWN_ORDER)
    relation_sql = quote_ident(relation)
    gate.con.execute(
        f"CREATE OR REPLACE TABLE gate_known_orders AS "
        f"SELECT order_id, -1 AS first_batch FROM ({admitted_order_ids_sql(DB)}) "
        f"UNION ALL SELECT b.order_id, min(b.{GATE_BATCH}) AS first_batch FROM {relation_sql} b "
        f"WHERE b.line_type = ? AND b.order_id IS NOT NULL AND b.{ROW_NUMBER} NOT IN "
        f"(SELECT {ROW_NUMBER} FROM ({row_reasons_sql(relation, others)})) GROUP BY b.order_id",
        [SALE],
    )
