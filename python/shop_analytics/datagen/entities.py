"""Users and items, plus the hidden traits (activity, taste, quality) that drive events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shop_analytics.datagen.config import CATEGORIES, COUNTRY_SHARES, GeneratorConfig
from shop_analytics.datagen.distributions import (
    MICROS_PER_DAY,
    GroupedSampler,
    cdf_from_weights,
    date_to_micros,
    sample_index,
    sample_index_sorted,
    zipf_weights,
)
from shop_analytics.quality.raw_contract import ITEMS, USERS

# Ids that no generated user or item ever has start this far above the real range.
UNKNOWN_ID_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class Population:
    """Who exists and how they behave; built once, read by every event chunk."""

    n_users: int
    n_items: int
    user_activity_cdf: np.ndarray  # heavy-tailed: a few users do most things
    user_taste: np.ndarray  # favourite category per user (index 0 is user 1)
    item_popularity_cdf: np.ndarray  # Zipf over items, in item-id order
    item_category: np.ndarray
    item_price_cents: np.ndarray
    item_quality: np.ndarray
    taste_sampler: GroupedSampler

    @classmethod
    def build(cls, config: GeneratorConfig) -> Population:
        """Draw the population from the config's seed."""
        rng = np.random.default_rng([config.seed, 0xD1])
        n_users, n_items = config.rows("users"), config.rows("items")
        activity = rng.lognormal(0.0, config.user_activity_sigma, n_users)
        taste = rng.integers(0, len(CATEGORIES), n_users).astype(np.int16)
        # Popularity rank is a random permutation so that ids carry no signal.
        rank = rng.permutation(n_items)
        popularity = zipf_weights(n_items, config.zipf_exponent)[rank]
        category = (np.arange(n_items) % len(CATEGORIES)).astype(np.int16)
        rng.shuffle(category)
        price_cents = np.round(rng.lognormal(np.log(2500), 0.8, n_items)).astype(np.int64) + 99
        quality = rng.normal(0.0, 0.6, n_items)
        item_ids = np.arange(1, n_items + 1, dtype=np.int64)
        n_groups = len(CATEGORIES)
        if n_items < n_groups:
            # Too few items for per-category sampling: every item in one group.
            sampler = GroupedSampler.build(item_ids, np.zeros(n_items, np.int64), popularity, 1)
            taste = np.zeros(n_users, np.int16)
        else:
            sampler = GroupedSampler.build(item_ids, category.astype(np.int64), popularity, n_groups)
        return cls(
            n_users=n_users,
            n_items=n_items,
            user_activity_cdf=cdf_from_weights(activity),
            user_taste=taste,
            item_popularity_cdf=cdf_from_weights(popularity),
            item_category=category,
            item_price_cents=price_cents,
            item_quality=quality,
            taste_sampler=sampler,
        )

    def sample_users(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """User ids weighted by activity, in random order."""
        return rng.permutation(sample_index_sorted(rng, self.user_activity_cdf, size)) + 1

    def sample_items(self, rng: np.random.Generator, users: np.ndarray, taste_share: float) -> np.ndarray:
        """Item ids: from the user's favourite category with `taste_share`, else globally popular."""
        # Drawn sorted (fast), then shuffled so item order carries no link to user order.
        items = rng.permutation(sample_index_sorted(rng, self.item_popularity_cdf, len(users))) + 1
        known = users > 0
        tasteful = known & (rng.random(len(users)) < taste_share)
        if tasteful.any():
            groups = self.user_taste[users[tasteful] - 1].astype(np.int64)
            items[tasteful] = self.taste_sampler.sample(rng, groups)
        return items


def item_url(item_ids: pa.Array) -> pa.Array:
    """Page path of an item's detail page, e.g. /items/42."""
    return pc.binary_join_element_wise("/items/", pc.cast(item_ids, pa.string()), "")


def users_table(config: GeneratorConfig, population: Population, lo: int, hi: int) -> pa.Table:
    """Rows for user ids lo..hi-1 (1-based, hi exclusive)."""
    rng = np.random.default_rng([config.seed, 0xA1, lo])
    n = hi - lo
    countries = list(COUNTRY_SHARES)
    shares = np.array(list(COUNTRY_SHARES.values()))
    country_idx = sample_index(rng, cdf_from_weights(shares), n)
    start_us = date_to_micros(config.start) - 365 * MICROS_PER_DAY
    span = date_to_micros(config.end) - start_us
    signup = start_us + rng.integers(0, span, n, dtype=np.int64)
    return pa.Table.from_arrays(
        [
            pa.array(np.arange(lo, hi, dtype=np.int64)),
            pa.DictionaryArray.from_arrays(pa.array(country_idx.astype(np.int32)), countries).cast(pa.string()),
            pa.array(signup, type=pa.timestamp("us")),
        ],
        schema=USERS.legacy_schema,
    )


def items_table(config: GeneratorConfig, population: Population, lo: int, hi: int) -> pa.Table:
    """Rows for item ids lo..hi-1 (1-based, hi exclusive)."""
    rng = np.random.default_rng([config.seed, 0xA2, lo])
    ids = pa.array(np.arange(lo, hi, dtype=np.int64))
    category = population.item_category[lo - 1 : hi - 1].astype(np.int32)
    start_us = date_to_micros(config.start) - 2 * 365 * MICROS_PER_DAY
    created = start_us + rng.integers(0, date_to_micros(config.start) - start_us, hi - lo, dtype=np.int64)
    return pa.Table.from_arrays(
        [
            ids,
            pa.DictionaryArray.from_arrays(pa.array(category), list(CATEGORIES)).cast(pa.string()),
            item_url(ids),
            pa.array(population.item_price_cents[lo - 1 : hi - 1] / 100.0),
            pa.array(created, type=pa.timestamp("us")),
        ],
        schema=ITEMS.legacy_schema,
    )
