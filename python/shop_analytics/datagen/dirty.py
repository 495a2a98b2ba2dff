"""Dirty-data injection: each chosen row gets exactly one defect, counted for the manifest."""

from __future__ import annotations

import numpy as np

from shop_analytics.datagen.config import DIRTY_KINDS, GeneratorConfig
from shop_analytics.datagen.distributions import (
    MAX_LATENESS_DAYS,
    MICROS_PER_DAY,
    OUT_OF_RANGE_US,
    TimeSampler,
    date_to_micros,
)
from shop_analytics.datagen.entities import UNKNOWN_ID_OFFSET, Population
from shop_analytics.datagen.events import NULL_ID, Columns
from shop_analytics.quality.raw_contract import Source

# Value columns that can be made invalid, per source, and how.
_VALUE_COLUMNS = {"purchases": "amount", "ratings": "rating"}


def applicable_kinds(source: Source) -> tuple[str, ...]:
    """Dirty kinds that make sense for `source`."""
    return tuple(k for k in DIRTY_KINDS if k != "invalid_value" or source.name in _VALUE_COLUMNS)


def inject(
    config: GeneratorConfig,
    pop: Population,
    source: Source,
    cols: Columns,
    rng: np.random.Generator,
    times: TimeSampler,
    null_masks: dict[str, np.ndarray],
) -> dict[str, int]:
    """Corrupt a `dirty_rate` share of rows in place and move a `late_rate` share earlier.

    `null_masks` receives boolean masks of columns to be written as NULL.
    Returns the number of rows per kind, plus `late_arriving`.
    """
    n = len(cols[source.key])
    kinds = applicable_kinds(source)
    u = rng.random(n)
    # Rows in [0, late_rate) arrive late; the next dirty_rate of the unit interval
    # is split evenly over the applicable kinds.
    bounds = config.late_rate + config.dirty_rate * np.arange(1, len(kinds) + 1) / len(kinds)
    slot = np.searchsorted(bounds, u, side="right")  # 0..len(kinds); == len(kinds) means clean
    late_band = u < config.late_rate
    late = late_band.copy()
    counts: dict[str, int] = {}

    earliest_late = times.start_us - MAX_LATENESS_DAYS * MICROS_PER_DAY
    if earliest_late < date_to_micros(config.source_start(source.name)):
        late[:] = False  # the first batches have no earlier partition to be late into
    ts = cols[source.fact_column("event_time")]
    lateness = rng.integers(1, MAX_LATENESS_DAYS * MICROS_PER_DAY, n, dtype=np.int64)
    ts[late] = times.start_us - lateness[late]
    counts["late_arriving"] = int(late.sum())

    # Rows of the late band stay clean where they cannot be late (they are no extra null_key rows).
    clean = (slot == len(kinds)) | (late_band & ~late)
    for k, kind in enumerate(kinds):
        rows = np.flatnonzero((slot == k) & ~late_band)
        if kind == "duplicate_event_id":
            continue  # applied last, copying rows that are still clean
        counts[kind] = len(rows)
        _corrupt(kind, source, cols, rows, rng, pop, null_masks)

    dup_rows = np.flatnonzero((slot == kinds.index("duplicate_event_id")) & ~late_band)
    clean_rows = np.flatnonzero(clean)
    if len(clean_rows) == 0:
        dup_rows = dup_rows[:0]
    counts["duplicate_event_id"] = len(dup_rows)
    if len(dup_rows):
        src = clean_rows[rng.integers(0, len(clean_rows), len(dup_rows))]
        for values in cols.values():
            values[dup_rows] = values[src]
        for mask in null_masks.values():
            mask[dup_rows] = mask[src]
    return counts


def _corrupt(
    kind: str,
    source: Source,
    cols: Columns,
    rows: np.ndarray,
    rng: np.random.Generator,
    pop: Population,
    null_masks: dict[str, np.ndarray],
) -> None:
    """Apply one defect kind to `rows`."""
    if not len(rows):
        return
    if kind == "null_key":
        # Pick which key goes missing: the event id, the item or (for non-anonymous sources) the user.
        candidates = [source.key, source.fact_column("item_ref")]
        if not source.user_ref_nullable:
            candidates.append(source.fact_column("user_ref"))
        which = rng.integers(0, len(candidates), len(rows))
        for c, column in enumerate(candidates):
            null_masks[column][rows[which == c]] = True
    elif kind == "invalid_value":
        column = _VALUE_COLUMNS[source.name]
        if column == "amount":
            cols[column][rows] = -np.round(rng.random(len(rows)) * 50, 2) * (rng.random(len(rows)) < 0.5)
        else:
            cols[column][rows] = rng.choice(np.array([0, 6, 10, -1], dtype=np.int16), len(rows))
    elif kind == "unknown_user":
        user = source.fact_column("user_ref")
        cols[user][rows] = UNKNOWN_ID_OFFSET + pop.n_users + rng.integers(1, 1000, len(rows))
        null_masks[user][rows] = False  # an anonymous row now names a user nobody knows
    elif kind == "unknown_item":
        cols[source.fact_column("item_ref")][rows] = UNKNOWN_ID_OFFSET + pop.n_items + rng.integers(1, 1000, len(rows))
    elif kind == "timestamp_out_of_range":
        base = OUT_OF_RANGE_US[rng.integers(0, 2, len(rows))]
        cols[source.fact_column("event_time")][rows] = base + rng.integers(0, MICROS_PER_DAY, len(rows), dtype=np.int64)
    else:
        raise ValueError(f"unknown dirty kind {kind!r}")


def null_masks_for(source: Source, cols: Columns) -> dict[str, np.ndarray]:
    """Start-of-chunk null masks: ids equal to NULL_ID are missing (anonymous users)."""
    n = len(cols[source.key])
    user, item = source.fact_column("user_ref"), source.fact_column("item_ref")
    masks = {name: np.zeros(n, dtype=bool) for name in (source.key, item, user)}
    masks[user] = cols[user] == NULL_ID
    return masks
