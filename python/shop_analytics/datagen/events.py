"""Clean event chunks for page views, ratings and legacy purchases, as NumPy columns of indices."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shop_analytics.datagen.config import GeneratorConfig
from shop_analytics.datagen.distributions import MICROS_PER_DAY, MICROS_PER_SECOND, TimeSampler
from shop_analytics.datagen.entities import Population

Columns = dict[str, np.ndarray]

# Value used in int columns for "null" before conversion to Arrow (ids are >= 1).
NULL_ID = 0


def page_views(
    config: GeneratorConfig, pop: Population, rng: np.random.Generator, times: TimeSampler, ids: np.ndarray
) -> tuple[Columns, dict[str, int]]:
    """Page views; a share are anonymous (no user)."""
    n = len(ids)
    users = pop.sample_users(rng, n)
    anonymous = rng.random(n) < config.anonymous_view_share
    users[anonymous] = NULL_ID
    items = pop.sample_items(rng, users, config.taste_share)
    cols = {"page_view_id": ids, "viewed_at": times.sample_sorted(rng, n), "user_id": users, "item_id": items}
    return cols, {"anonymous_views": int(anonymous.sum())}


def repeat_on_same_day(rng: np.random.Generator, users: np.ndarray, ts: np.ndarray, share: float) -> int:
    """Make a `share` of events repeats in place (another event's user, a random time of its UTC day); how many."""
    n = len(users)
    repeat = np.flatnonzero(rng.random(n) < share)
    if n > 1 and len(repeat):
        source = rng.integers(0, n, len(repeat))
        source = np.where(source == repeat, (source + 1) % n, source)
        users[repeat] = users[source]
        day_start = ts[source] - ts[source] % MICROS_PER_DAY
        ts[repeat] = day_start + rng.integers(0, MICROS_PER_DAY, len(repeat), dtype=np.int64)
        return len(repeat)
    return 0


def purchases(
    config: GeneratorConfig, pop: Population, rng: np.random.Generator, times: TimeSampler, ids: np.ndarray
) -> tuple[Columns, dict[str, int]]:
    """Purchases; a share are repeat purchases by the same customer on the same UTC day."""
    n = len(ids)
    users = pop.sample_users(rng, n)
    ts = times.sample_sorted(rng, n)
    n_repeats = repeat_on_same_day(rng, users, ts, config.same_day_repeat_share)
    items = pop.sample_items(rng, users, config.taste_share)
    quantity = np.minimum(rng.geometric(0.7, n), 5).astype(np.int32)
    discount = 1.0 - rng.choice([0.0, 0.1, 0.2], n, p=[0.8, 0.15, 0.05])
    amount = np.round(pop.item_price_cents[items - 1] * quantity * discount) / 100.0
    cols = {
        "purchase_id": ids,
        "purchased_at": ts,
        "user_id": users,
        "item_id": items,
        "quantity": quantity,
        "amount": amount,
    }
    return cols, {"same_day_repeat_rows": n_repeats}


def ratings(
    config: GeneratorConfig, pop: Population, rng: np.random.Generator, times: TimeSampler, ids: np.ndarray
) -> tuple[Columns, dict[str, int]]:
    """Ratings 1..5 driven by item quality and user taste; a share revise an earlier rating."""
    n = len(ids)
    users = pop.sample_users(rng, n)
    items = pop.sample_items(rng, users, config.taste_share)
    # Whole seconds, as in ratings exports (the epoch-second CSV source keeps every value).
    ts = times.sample_sorted(rng, n) // MICROS_PER_SECOND * MICROS_PER_SECOND
    likes = pop.user_taste[users - 1] == pop.item_category[items - 1]
    score = 3.0 + pop.item_quality[items - 1] + np.where(likes, 1.2, -0.5) + rng.normal(0, 0.7, n)
    rating = np.clip(np.rint(score), 1, 5).astype(np.int16)
    revised = np.flatnonzero(rng.random(n) < config.rating_revision_share)
    if n > 1 and len(revised):
        source = rng.integers(0, n, len(revised))
        source = np.where(source == revised, (source + 1) % n, source)
        users[revised] = users[source]
        items[revised] = items[source]
        # A revision comes strictly after the original, inside the same batch.
        room = (times.end_us - ts[source]) // MICROS_PER_SECOND - 1
        later = 1 + (rng.random(len(revised)) * np.maximum(room - 1, 0)).astype(np.int64)
        ts[revised] = ts[source] + later * MICROS_PER_SECOND
        rating[revised] = np.clip(rating[source] + rng.choice([-2, -1, 1, 2], len(revised)), 1, 5)
    cols = {"rating_id": ids, "rated_at": ts, "user_id": users, "item_id": items, "rating": rating}
    return cols, {"revision_rows": len(revised) if n > 1 else 0}


GENERATORS: dict[str, Callable[..., tuple[Columns, dict[str, int]]]] = {
    "page_views": page_views,
    "purchases": purchases,
    "ratings": ratings,
}
