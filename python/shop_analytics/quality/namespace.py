"""Column names the gate owns, and which names an input batch may use.

Every working column the gate adds (row ids, derived check flags, the original text
of cast values, the reasons list in quarantine) starts with GATE_PREFIX. An input
column may not start with it, may not take a name the lake or the staging models add
(RESERVED_NAMES), and may not repeat another column's name in different case
(DuckDB identifiers are case-insensitive). A column that is not in the contract must
also match NEW_COLUMN_NAME. Breaking any of these rejects the whole batch
(schema_policy.name_violations), so a producer can never reach the gate's columns.
"""

from __future__ import annotations

import re

GATE_PREFIX = "__gate_"
ROW_NUMBER = f"{GATE_PREFIX}row_number"  # the batch relation's deterministic row id (0-based)
REASONS = f"{GATE_PREFIX}reasons"  # quarantine: the sorted list of every rule a row breaks
GATE_KEY = f"{GATE_PREFIX}key"  # a composite key's exact text (duplicates in the batch and the lake)
GATE_KEY_HASH = f"{GATE_PREFIX}key_hash"  # its stable 64-bit hash (the Bloom filter of admitted keys)
GATE_BATCH = f"{GATE_PREFIX}batch"  # which batch of a validated group a row belongs to

# Added by the lake layout or readers (hive partition, read_parquet's filename /
# file_row_number / file_index) or derived by the staging models next to the raw
# columns they pass through (tests/integration/test_ingest_adversarial.py checks the models).
RESERVED_NAMES = frozenset(
    {
        "event_date",
        "filename",
        "file_row_number",
        "file_index",
        "batch_id",
        "is_late_arriving",
        "is_authenticated",
        "signed_up_at",
        # surrogate keys and derived attributes of raw contract v2 staging (docs/marts.md, Keys)
        "user_key",
        "item_key",
        "country_raw",
        "item_name",
        "order_key",
        "is_reversal",
        "source_table",
    }
)
NEW_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def gate_column(role: str, column: str) -> str:
    """The gate's working column for `role` (e.g. 'occurrence', 'raw') of input `column`."""
    return f"{GATE_PREFIX}{role}__{column}"


def is_reserved(name: str) -> bool:
    """True if an input column may not be called `name` (case-insensitive)."""
    folded = name.casefold()
    return folded.startswith(GATE_PREFIX) or folded in RESERVED_NAMES
