"""Engagement marts computed in plain Python from the lake, straight from their definitions."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from oracles.lake import Lake, local_date


@dataclass(frozen=True)
class Audience:
    """The audience filters of the popularity marts."""

    country: str
    since: dt.date
    zone: dt.tzinfo


def _audience_views(lake: Lake, audience: Audience) -> list[dict]:
    views = []
    for row in lake.page_views:
        user = lake.users.get(row["user_id"]) if row["user_id"] is not None else None
        if user is None or user["country_code"] != audience.country.upper():
            continue
        if local_date(row["viewed_at"], audience.zone) >= audience.since:
            views.append(row)
    return views


def user_item_views(lake: Lake, audience: Audience) -> list[tuple]:
    """Rows of fct_user_item_views in the source document's order (count, user, page)."""
    grouped: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    for row in _audience_views(lake, audience):
        grouped[(row["user_id"], row["item_id"])].append(row["viewed_at"])
    out = [
        (user, item, lake.items[item]["page_url_path"], len(times), min(times), max(times))
        for (user, item), times in grouped.items()
        if item in lake.items
    ]
    return sorted(out, key=lambda r: (r[3], r[0], r[2]))


def _competition_ranks(scores: dict) -> dict:
    """1 + the number of keys with a strictly larger score (SQL rank() over score desc)."""
    ordered = sorted(scores.values(), reverse=True)
    first_position = {}
    for position, score in enumerate(ordered, start=1):
        first_position.setdefault(score, position)
    return {key: first_position[score] for key, score in scores.items()}


def item_popularity(lake: Lake, audience: Audience) -> list[tuple]:
    """Rows of rpt_item_popularity, most popular first (rank, then page)."""
    viewers: dict[str, set[str]] = defaultdict(set)
    views: Counter[str] = Counter()
    for row in _audience_views(lake, audience):
        if row["item_id"] in lake.items:
            viewers[row["item_id"]].add(row["user_id"])
            views[row["item_id"]] += 1
    ranks = _competition_ranks({item: len(users) for item, users in viewers.items()})
    out = [
        (
            item,
            lake.items[item]["page_url_path"],
            lake.items[item]["category"],
            len(users),
            views[item],
            ranks[item],
            audience.country.upper(),
            audience.since,
        )
        for item, users in viewers.items()
    ]
    return sorted(out, key=lambda r: (r[5], r[1]))


def item_trends(lake: Lake, since: dt.date, window_days: int, zone: dt.tzinfo) -> list[tuple]:
    """Rows of rpt_item_trends: every (item, day >= since) whose trailing window holds a view."""
    daily: dict[str, Counter[dt.date]] = defaultdict(Counter)
    for row in lake.page_views:
        daily[row["item_id"]][local_date(row["viewed_at"], zone)] += 1
    first_needed = since - dt.timedelta(days=window_days)
    last_day = max((day for counts in daily.values() for day in counts if day >= first_needed), default=None)
    if last_day is None:
        return []
    one_day = dt.timedelta(days=1)

    def window(counts: Counter[dt.date], day: dt.date) -> int:
        return sum(counts[day - k * one_day] for k in range(window_days))

    # Per day, every item with a non-empty window, ranked; from the day before `since`.
    by_day: dict[dt.date, dict[str, tuple[int, int]]] = {}
    day = since - one_day
    while day <= last_day:
        cells = {item: (counts[day], window(counts, day)) for item, counts in daily.items()}
        by_day[day] = {item: cell for item, cell in cells.items() if cell[1] > 0}
        day += one_day
    out = []
    for day, cells in by_day.items():
        if day < since:
            continue
        daily_ranks = _competition_ranks({item: c[0] for item, c in cells.items() if c[0] > 0})
        window_ranks = _competition_ranks({item: c[1] for item, c in cells.items()})
        previous_cells = by_day.get(day - one_day, {})
        previous_ranks = _competition_ranks({item: c[1] for item, c in previous_cells.items()})
        for item, (count, window_count) in cells.items():
            previous = previous_ranks.get(item)
            out.append(
                (
                    item,
                    day,
                    count,
                    window_count,
                    daily_ranks.get(item),
                    window_ranks[item],
                    previous,
                    None if previous is None else previous - window_ranks[item],
                )
            )
    return out
