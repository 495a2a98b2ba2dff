"""Users and items, plus the hidden traits (activity, taste, quality) that drive events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shop_analytics.datagen.config import CATEGORIES, GeneratorConfig
from shop_analytics.datagen.distributions import (
    MICROS_PER_DAY,
    GroupedSampler,
    cdf_from_weights,
    date_to_micros,
    sample_index,
    sample_index_sorted,
    zipf_weights,
)
from shop_analytics.datagen.keys import customer_ids, product_codes
from shop_analytics.datagen.shapes import ITEMS, USERS
from shop_analytics.datagen.world import COUNTRIES, UNKNOWN_COUNTRIES

# Ids that no generated user or item ever has start this far above the real range.
UNKNOWN_ID_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class Population:
    """Who exists and how they behave; built once, read by every event chunk."""

    n_users: int
    n_items: int
    user_activity_cdf: np.ndarray  # heavy-tailed: a few users do most things
    user_taste: np.ndarray  # favourite category per user (index 0 is user 1)
    user_country: np.ndarray  # index into world.COUNTRIES per user
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
        shares = np.array([c.share for c in COUNTRIES])
        country = sample_index(rng, cdf_from_weights(shares), n_users).astype(np.int16)
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
            user_country=country,
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


def item_url(item_codes: pa.Array) -> pa.Array:
    """Page path of an item's detail page, e.g. /items/85123A."""
    return pc.binary_join_element_wise("/items/", item_codes, "")


# How a customer's country is written: the ISO alpha-2 code, or (in the dirty share) an
# alias or other spelling, the alpha-3 code, a value naming no country, or nothing.
COUNTRY_SPELLINGS = ("alpha2", "country_alias", "country_alpha3", "country_unknown", "country_missing")
_DIRTY_SPELLING_SHARES = np.array([0.0, 0.55, 0.15, 0.15, 0.15])


def users_table(config: GeneratorConfig, population: Population, lo: int, hi: int) -> tuple[pa.Table, dict[str, int]]:
    """Rows for user indices lo..hi-1 (1-based, hi exclusive), and how many countries are spelled which way."""
    rng = np.random.default_rng([config.seed, 0xA1, lo])
    n = hi - lo
    country = population.user_country[lo - 1 : hi - 1]
    spelling = np.where(
        rng.random(n) < config.country_dirty_share,
        sample_index(rng, cdf_from_weights(_DIRTY_SPELLING_SHARES), n),
        0,
    )
    # Each customer gets one of its country's spellings (one alias, or one unknown value, at random).
    pick = rng.integers(0, 1 << 30, n)
    texts = pc.take(_SPELLINGS.texts, pa.array(_SPELLINGS.position(country, spelling, pick)))
    start_us = date_to_micros(config.first_day) - 365 * MICROS_PER_DAY
    span = date_to_micros(config.end) - start_us
    signup = start_us + rng.integers(0, span, n, dtype=np.int64)
    # Signup time unknown for a few customers migrated from an older system.
    no_signup = rng.random(n) < 0.01
    table = pa.Table.from_arrays(
        [
            customer_ids(np.arange(lo, hi, dtype=np.int64)),
            pa.array(texts, type=pa.string()),
            pa.array(signup, type=pa.timestamp("us"), mask=no_signup),
        ],
        schema=USERS.schema,
    )
    counts = {kind: int((spelling == k).sum()) for k, kind in enumerate(COUNTRY_SPELLINGS) if k}
    return table, counts | {"signup_missing": int(no_signup.sum())}


@dataclass(frozen=True)
class _Spellings:
    """Every way the generator writes a country, flat, so one `take` spells a whole chunk."""

    texts: pa.Array  # alpha-2 codes, alpha-3 codes, aliases (grouped by country), unknown values, NULL
    alias_start: np.ndarray
    alias_count: np.ndarray

    @classmethod
    def build(cls) -> _Spellings:
        """Lay out the spellings of world.COUNTRIES."""
        aliases = [(c.name, *c.aliases) for c in COUNTRIES]
        counts = np.array([len(a) for a in aliases])
        flat: list[str | None] = [c.alpha2 for c in COUNTRIES]
        flat += [c.alpha3 for c in COUNTRIES]
        flat += [text for group in aliases for text in group]
        flat += [*UNKNOWN_COUNTRIES, None]
        return cls(pa.array(flat, type=pa.string()), 2 * len(COUNTRIES) + np.cumsum(counts) - counts, counts)

    def position(self, country: np.ndarray, spelling: np.ndarray, pick: np.ndarray) -> np.ndarray:
        """Index into `texts` of each row's spelling (kind numbers as in COUNTRY_SPELLINGS)."""
        n_countries = len(COUNTRIES)
        unknown_start = int(self.alias_start[-1] + self.alias_count[-1])
        choices = [
            country,
            self.alias_start[country] + pick % self.alias_count[country],
            n_countries + country,
            unknown_start + pick % len(UNKNOWN_COUNTRIES),
            np.full(len(country), len(self.texts) - 1),
        ]
        position: np.ndarray = np.choose(spelling, choices)
        return position


_SPELLINGS = _Spellings.build()


_ADJECTIVES = pa.array(["WHITE", "RED", "VINTAGE", "SET OF 3", "JUMBO", "REGENCY", "GLASS", "WOODEN", "PINK", "BLUE"])
_NOUNS = pa.array(["HEART T-LIGHT HOLDER", "LANTERN", "CAKE STAND", "BAG", "MUG", "CLOCK", "NOTEBOOK", "CUSHION"])


def items_table(config: GeneratorConfig, population: Population, lo: int, hi: int) -> tuple[pa.Table, dict[str, int]]:
    """Rows for item indices lo..hi-1 (1-based, hi exclusive), with counts of flagged attributes."""
    rng = np.random.default_rng([config.seed, 0xA2, lo])
    n = hi - lo
    index = np.arange(lo, hi, dtype=np.int64)
    codes = product_codes(index)
    category = population.item_category[lo - 1 : hi - 1].astype(np.int32)
    category_names = pa.DictionaryArray.from_arrays(pa.array(category), list(CATEGORIES)).cast(pa.string())
    # A few products sit in a category the warehouse does not know, or have no list price:
    # dimension defects, flagged downstream and never quarantined.
    odd = rng.random(n)
    unknown_category = odd < 0.005
    no_price = (odd >= 0.005) & (odd < 0.01)
    category_names = pc.if_else(pa.array(unknown_category), "misc", category_names)
    names = pc.binary_join_element_wise(
        pc.take(_ADJECTIVES, pa.array(rng.integers(0, len(_ADJECTIVES), n))),
        pc.take(_NOUNS, pa.array(rng.integers(0, len(_NOUNS), n))),
        " ",
    )
    # The list price is in USD; NULL currency means the batch default (declared in _batch.yml).
    currency = pa.array(np.full(n, "USD"), type=pa.string(), mask=rng.random(n) < 0.1)
    start_us = date_to_micros(config.first_day) - 2 * 365 * MICROS_PER_DAY
    created = start_us + rng.integers(0, date_to_micros(config.first_day) - start_us, n, dtype=np.int64)
    columns = {
        "item_id": codes,
        "name": names,
        "category": category_names,
        "page_url_path": item_url(codes),
        "price": pa.array(population.item_price_cents[lo - 1 : hi - 1] / 100.0, mask=no_price),
        "price_currency": currency,
        "created_at": pa.array(created, type=pa.timestamp("us")),
    }
    # In the contract's column order (its later nullable columns come last).
    table = pa.Table.from_arrays([columns[f.name] for f in ITEMS.schema], schema=ITEMS.schema)
    return table, {"unknown_category": int(unknown_category.sum()), "price_missing": int(no_price.sum())}
