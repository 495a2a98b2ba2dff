"""How the gate identifies rows across batches: key text, its stable 64-bit hash, and the orders known so far.

Event ids (page views, ratings, legacy purchases) are BIGINT and are their own hash.
Natural keys (users, items) and composite keys (order lines: order_id + line_number;
exchange rates: rate_date + currency + base_currency) are text: the catalog stores the
exact text next to a stable hash of it (the first 15 hex digits of its md5, the same
in every engine and run), the Bloom filter holds the hash, and a key is a duplicate
only if its exact text is already admitted. The parts of a composite key are joined by
the ASCII unit separator, which no valid key contains (invalid_key).
"""

from __future__ import annotations

from shop_analytics.quality.raw_contract import MIGRATED_ORDER_PREFIX, ORDER_LINES, PURCHASES, Source
from shop_analytics.sql import quote_ident, quote_literal

SEPARATOR_SQL = "chr(31)"


def is_text_keyed(source: Source) -> bool:
    """True if `source`'s rows are identified by text (natural or composite keys), not a BIGINT event id."""
    return bool(source.composite_key) or source.key in source.string_keys


def key_text_sql(source: Source, alias: str = "") -> str:
    """SQL for the exact text of a row's key (NULL when a key part is NULL)."""
    prefix = f"{alias}." if alias else ""
    parts = [f"CAST({prefix}{quote_ident(c)} AS VARCHAR)" for c in source.key_columns]
    if len(parts) == 1:
        return parts[0]
    # || yields NULL when any part is NULL (concat_ws would skip it and blur two keys into one).
    return f" || {SEPARATOR_SQL} || ".join(parts)


def key_hash_sql(text_sql: str) -> str:
    """SQL for the stable 64-bit (60 significant bits) hash of the key text `text_sql`."""
    return f"CAST(('0x' || left(md5({text_sql}), 15)) AS BIGINT)"


def keys_select_sql(source: Source, admitted_sql: str) -> str:
    """SELECT of (key BIGINT, key_text VARCHAR) for every admitted row, as the catalog stores them."""
    if not is_text_keyed(source):
        return f"SELECT {quote_ident(source.key)} AS key, CAST(NULL AS VARCHAR) AS key_text FROM ({admitted_sql})"
    text = key_text_sql(source)
    return f"SELECT {key_hash_sql(text)} AS key, {text} AS key_text FROM ({admitted_sql})"


def admitted_order_ids_sql(db: str) -> str:
    """SELECT order_id of every order with a line in the lake, or "purchase:<id>" of a legacy purchase, from `db`."""
    return (
        f"SELECT DISTINCT split_part(key_text, {SEPARATOR_SQL}, 1) AS order_id FROM {db}.seen_keys "
        f"WHERE source = {quote_literal(ORDER_LINES.name)} AND key_text IS NOT NULL "
        f"UNION SELECT DISTINCT {quote_literal(MIGRATED_ORDER_PREFIX)} || CAST(key AS VARCHAR) AS order_id "
        f"FROM {db}.seen_keys WHERE source = {quote_literal(PURCHASES.name)}"
    )


def known_text_sql(db: str) -> str:
    """SELECT key of the admitted natural keys of the dimension given as parameter ? (older catalogs: integers)."""
    return f"SELECT DISTINCT coalesce(key_text, CAST(key AS VARCHAR)) AS key FROM {db}.seen_keys WHERE source = ?"
