"""Exchange rates: one true daily rate path per currency, and the gappy published `exchange_rates` rows.

Prices of orders are converted with the true rate of their day; the published source
only has business days (no weekends), misses a few holidays for every currency, and
has one outage of OUTAGE_DAYS per year for one currency (longer than the warehouse's
default 7-day staleness window). Quotes come in three forms, so a consumer needs
direct, inverse and triangulated rates: `direct` (currency vs USD), `inverse` (USD vs
currency) and `via_eur` (currency vs EUR only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from shop_analytics.datagen.config import GeneratorConfig
from shop_analytics.datagen.distributions import EPOCH
from shop_analytics.datagen.shapes import EXCHANGE_RATES
from shop_analytics.datagen.world import CURRENCIES, REPORTING_BASE, currency_index

# Rates start this many days before the first order day, so the first days have a recent rate.
LEAD_DAYS = 10
HOLIDAY_SHARE = 0.02
OUTAGE_DAYS = 12
_EUR = currency_index("EUR")


@dataclass(frozen=True)
class RatePaths:
    """USD value of one unit of each currency on each day from `first_day`, as a random walk."""

    first_day: dt.date
    usd_per_unit: np.ndarray  # [currency, day]

    @classmethod
    def build(cls, config: GeneratorConfig) -> RatePaths:
        """The paths for the config's date range (plus lead and tail room), from its seed."""
        rng = np.random.default_rng([config.seed, 0xF1])
        first = config.first_day - dt.timedelta(days=LEAD_DAYS)
        n_days = (config.end - first).days + 1
        level = np.array([c.usd_per_unit for c in CURRENCIES])[:, None]
        vol = np.array([c.volatility for c in CURRENCIES])[:, None]
        steps = rng.normal(0.0, 1.0, (len(CURRENCIES), n_days)) * vol
        steps[:, 0] = 0.0
        return cls(first, level * np.exp(np.cumsum(steps, axis=1)))

    def day_index(self, epoch_micros: np.ndarray) -> np.ndarray:
        """Index into the paths of the UTC day of each timestamp (clipped to the path)."""
        day = epoch_micros // 86_400_000_000 - (self.first_day - EPOCH).days
        result: np.ndarray = np.clip(day, 0, self.usd_per_unit.shape[1] - 1)
        return result


def _significant(values: np.ndarray, digits: int = 6) -> np.ndarray:
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(values)))
    rounded: np.ndarray = np.round(values * scale) / scale
    return rounded


def published_days(config: GeneratorConfig, paths: RatePaths) -> np.ndarray:
    """Boolean [currency, day]: whether a rate is published (business days minus holidays and outages)."""
    rng = np.random.default_rng([config.seed, 0xF2])
    n_cur, n_days = paths.usd_per_unit.shape
    days = np.arange(n_days)
    weekday = (days + paths.first_day.weekday()) % 7
    published = np.broadcast_to(weekday < 5, (n_cur, n_days)).copy()
    published &= rng.random((n_cur, n_days)) >= HOLIDAY_SHARE
    # One outage per calendar year, in a different currency each year.
    years = sorted({(paths.first_day + dt.timedelta(days=int(d))).year for d in (0, n_days - 1)})
    for year in range(years[0], years[-1] + 1):
        currency = 1 + (year * 7 + config.seed) % (n_cur - 1)  # never USD, which has no rate
        begin = (dt.date(year, 1, 1) - paths.first_day).days + int(rng.integers(0, 330))
        published[currency, max(begin, 0) : max(begin + OUTAGE_DAYS, 0)] = False
    published[currency_index(REPORTING_BASE)] = False
    return published


def rates_table(paths: RatePaths, published: np.ndarray, lo: dt.date, hi: dt.date) -> pa.Table:
    """Published rate rows with rate_date in [lo, hi), one per currency and day in the quote form of each currency."""
    a, b = (max(lo, paths.first_day) - paths.first_day).days, (hi - paths.first_day).days
    cur, day = np.nonzero(published[:, a:b])
    day += a
    order = np.lexsort((cur, day))  # by date, then currency
    cur, day = cur[order], day[order]
    usd = paths.usd_per_unit[cur, day]
    quote = np.array([c.quote for c in CURRENCIES])[cur]
    codes = np.array([c.code for c in CURRENCIES])[cur]
    currency = np.where(quote == "inverse", REPORTING_BASE, codes)
    base = np.where(quote == "inverse", codes, np.where(quote == "via_eur", "EUR", REPORTING_BASE))
    rate = np.where(
        quote == "inverse", 1.0 / usd, np.where(quote == "via_eur", usd / paths.usd_per_unit[_EUR, day], usd)
    )
    dates = (paths.first_day - EPOCH).days + day
    return pa.Table.from_arrays(
        [
            pa.array(dates.astype(np.int32), type=pa.date32()),
            pa.array(currency, type=pa.string()),
            pa.array(base, type=pa.string()),
            pa.array(_significant(rate)),
        ],
        schema=EXCHANGE_RATES.schema,
    )
