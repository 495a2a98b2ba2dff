"""Read the Parquet lake with pyarrow and apply staging's rules in plain Python (no SQL)."""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow.parquet as pq

from oracles.commerce import resolve_country

_FACT_FILE = re.compile(r"batch_(.+)_[0-9]+\.parquet$")
_DIM_FILE = re.compile(r"batch_([^/]+)\.parquet$")
CENT = Decimal("0.01")
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@dataclass(frozen=True)
class Lake:
    """Deduplicated events and latest-snapshot dimensions, as lists of dicts."""

    page_views: list[dict]
    purchases: list[dict]
    users: dict[str, dict]
    items: dict[str, dict]


def _rows_with_batch(folder: Path, pattern: re.Pattern[str], glob: str) -> list[dict]:
    rows = []
    for path in sorted(folder.glob(glob)):
        batch_id = pattern.search(path.name).group(1)
        for row in pq.read_table(path).to_pylist():
            row["batch_id"] = batch_id
            # Keys are text in the warehouse; integer keys of older lakes read as their decimal text.
            for key in ("user_id", "item_id"):
                if row.get(key) is not None:
                    row[key] = str(row[key])
            rows.append(row)
    return rows


def _first_per_id(rows: list[dict], key: str) -> list[dict]:
    # A replayed event keeps the copy from the earliest batch.
    best: dict[int, dict] = {}
    for row in rows:
        kept = best.get(row[key])
        if kept is None or row["batch_id"] < kept["batch_id"]:
            best[row[key]] = row
    return list(best.values())


def _latest_per_id(rows: list[dict], key: str) -> dict[int, dict]:
    latest: dict[int, dict] = {}
    for row in rows:
        kept = latest.get(row[key])
        if kept is None or row["batch_id"] > kept["batch_id"]:
            latest[row[key]] = row
    return latest


def to_cents(amount: float) -> Decimal:
    """A lake amount (double) as DECIMAL(12,2), rounding its shortest decimal form half up."""
    return Decimal(repr(amount)).quantize(CENT, rounding=ROUND_HALF_UP)


def read_lake(lake: Path) -> Lake:
    """Load the lake under `lake`; dedupe events by id, keep the latest snapshot of each entity."""
    page_views = _first_per_id(
        _rows_with_batch(lake / "page_views", _FACT_FILE, "event_date=*/*.parquet"), "page_view_id"
    )
    purchases = _first_per_id(_rows_with_batch(lake / "purchases", _FACT_FILE, "event_date=*/*.parquet"), "purchase_id")
    for row in purchases:
        row["amount"] = to_cents(row["amount"])
    users = _latest_per_id(_rows_with_batch(lake / "users", _DIM_FILE, "*.parquet"), "user_id")
    countries, aliases = seed_rows("countries"), seed_rows("country_aliases")
    resolved: dict[str | None, str | None] = {}
    for row in users.values():
        # As int_users__country_resolved: codes, aliases and ISO names; anything else is NULL.
        raw = row["country_code"]
        if raw not in resolved:
            resolved[raw] = resolve_country(raw, countries, aliases)[0]
        row["country_code"] = resolved[raw]
    items = _latest_per_id(_rows_with_batch(lake / "items", _DIM_FILE, "*.parquet"), "item_id")
    return Lake(page_views, purchases, users, items)


def seed_rows(name: str) -> list[dict]:
    """The rows of seeds/<name>.csv, as text."""
    with (SEEDS / f"{name}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def local_date(timestamp: dt.datetime, zone: dt.tzinfo) -> dt.date:
    """Calendar date in `zone` of a naive UTC timestamp."""
    return timestamp.replace(tzinfo=dt.UTC).astimezone(zone).date()
