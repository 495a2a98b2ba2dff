"""Row-level admission rules as one single-pass DuckDB query: each row gets a reason or NULL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shop_analytics.sources import Source

# Value checks per source: a SQL predicate that is TRUE for an invalid value.
_INVALID_VALUE = {
    "purchases": "NOT isfinite(b.amount) OR b.amount <= 0 OR b.quantity IS NULL OR b.quantity <= 0",
    "ratings": "b.rating IS NULL OR b.rating NOT BETWEEN 1 AND 5",
    "users": "b.country_code IS NULL OR b.country_code NOT IN (SELECT country_code FROM _countries)",
    "items": "b.price IS NULL OR NOT isfinite(b.price) OR b.price <= 0",
}

REASONS: tuple[str, ...] = (
    "null_key",
    "timestamp_out_of_range",
    "invalid_value",
    "unknown_user",
    "unknown_item",
    "duplicate_event_id",
)


@dataclass(frozen=True)
class TimeWindow:
    """Plausible event times: [earliest, latest)."""

    earliest: dt.datetime
    latest: dt.datetime

    @classmethod
    def default(cls) -> "TimeWindow":
        """From 2000-01-01 up to one day after now (clocks drift; the future does not arrive)."""
        tomorrow = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=1)
        return cls(dt.datetime(2000, 1, 1), tomorrow)


def classify_sql(source: Source, relation: str, window: TimeWindow) -> str:
    """SELECT every row of `relation` with `_reject_reason` (NULL when admitted).

    Expects temp tables ``_known_users(key)``, ``_known_items(key)``,
    ``_seen_keys(key)`` (this source's keys already in the lake) and
    ``_countries(country_code)``. The first failing rule wins, in REASONS order.
    """
    key = f"b.{source.key}"
    nulls = [f"{key} IS NULL"]
    if source.item_ref:
        nulls.append(f"b.{source.item_ref} IS NULL")
    if source.user_ref and not source.user_ref_nullable:
        nulls.append(f"b.{source.user_ref} IS NULL")
    if source.event_time:
        nulls.append(f"b.{source.event_time} IS NULL")
    rules = [("null_key", " OR ".join(nulls))]
    if source.event_time:
        ts = f"b.{source.event_time}"
        rules.append(("timestamp_out_of_range",
                      f"{ts} < TIMESTAMP '{window.earliest:%Y-%m-%d %H:%M:%S}' "
                      f"OR {ts} >= TIMESTAMP '{window.latest:%Y-%m-%d %H:%M:%S}'"))
    if source.name in _INVALID_VALUE:
        rules.append(("invalid_value", _INVALID_VALUE[source.name]))
    joins = []
    if source.user_ref:
        rules.append(("unknown_user", f"b.{source.user_ref} IS NOT NULL AND ku.key IS NULL"))
        joins.append(f"LEFT JOIN _known_users ku ON ku.key = b.{source.user_ref}")
    if source.item_ref:
        rules.append(("unknown_item", "ki.key IS NULL"))
        joins.append(f"LEFT JOIN _known_items ki ON ki.key = b.{source.item_ref}")
    # Duplicates within the batch keep their first occurrence; facts are also
    # checked against keys already admitted by earlier batches.
    duplicate = f"row_number() OVER (PARTITION BY {key} ORDER BY b._row_number) > 1"
    if source.is_fact:
        duplicate += " OR sk.key IS NOT NULL"
        joins.append(f"LEFT JOIN _seen_keys sk ON sk.key = {key}")
    rules.append(("duplicate_event_id", duplicate))
    cases = "\n".join(f"    WHEN {predicate} THEN '{reason}'" for reason, predicate in rules)
    return (
        f"SELECT b.*, CASE\n{cases}\n  END AS _reject_reason\n"
        f"FROM {relation} AS b\n" + "\n".join(joins)
    )
