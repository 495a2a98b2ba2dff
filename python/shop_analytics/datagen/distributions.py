"""Vectorized samplers: Zipf popularity, heavy-tailed activity, seasonal timestamps."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import numpy as np

MICROS_PER_SECOND = 1_000_000
MICROS_PER_HOUR = 3_600 * MICROS_PER_SECOND
MICROS_PER_DAY = 24 * MICROS_PER_HOUR
EPOCH = dt.date(1970, 1, 1)
# Late-arriving events come up to this many days before their batch's period.
MAX_LATENESS_DAYS = 40
# Out-of-range instants: just before the Unix epoch (a sign bug) and 2100-01-01.
OUT_OF_RANGE_US = np.array([-MICROS_PER_DAY, 4_102_444_800 * MICROS_PER_SECOND], dtype=np.int64)

# Share of traffic per hour of day (UTC): quiet nights, a lunch bump, an evening peak.
_DIURNAL = np.array(
    [
        1.0,
        0.7,
        0.5,
        0.4,
        0.4,
        0.5,
        0.9,
        1.5,
        2.2,
        2.6,
        2.8,
        3.0,
        3.3,
        3.1,
        2.9,
        2.8,
        2.9,
        3.2,
        3.8,
        4.3,
        4.5,
        4.0,
        3.0,
        1.8,
    ]
)
# Monday..Sunday: weekends are busier for a consumer shop.
_WEEKLY = np.array([0.92, 0.90, 0.93, 0.97, 1.05, 1.15, 1.08])
# January..December: holiday peak, summer dip.
_YEARLY = np.array([0.95, 0.85, 0.92, 0.95, 0.97, 0.9, 0.88, 0.9, 0.95, 1.0, 1.25, 1.45])


def cdf_from_weights(weights: np.ndarray) -> np.ndarray:
    """Normalised cumulative distribution of non-negative weights, last value exactly 1."""
    cdf = np.cumsum(weights, dtype=np.float64)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


def sample_index(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    """Draw `size` indices distributed as the weights behind `cdf` (inverse-CDF)."""
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def sample_index_sorted(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    """Like `sample_index`, but returned in ascending order, for callers that shuffle or don't care.

    Sorted uniforms come from normalised cumulative exponential gaps (O(n), no
    sort), and a binary search over sorted keys stays in cache, which makes this
    several times faster than random-order inverse-CDF sampling on large CDFs.
    """
    return np.searchsorted(cdf, sorted_uniforms(rng, size), side="right").astype(np.int64)


def sorted_uniforms(rng: np.random.Generator, size: int) -> np.ndarray:
    """`size` ascending Uniform[0, 1) order statistics, in O(n) from exponential gaps."""
    u = np.cumsum(rng.exponential(1.0, size + 1))
    uniforms: np.ndarray = u[:-1] / u[-1]
    return uniforms


def zipf_weights(n: int, exponent: float) -> np.ndarray:
    """Weights 1/rank**s for ranks 1..n (a finite Zipf law)."""
    return 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent


def date_to_micros(day: dt.date) -> int:
    """Microseconds since the Unix epoch at midnight UTC of `day`."""
    return (day - EPOCH).days * MICROS_PER_DAY


@dataclass(frozen=True)
class GroupedSampler:
    """Samples a member of a given group with Zipf weights inside each group, vectorized.

    Members are stored grouped; each group's CDF is shifted by its group index so
    that one `searchsorted` over the concatenation serves every group at once.
    """

    members: np.ndarray  # member ids, grouped
    shifted_cdf: np.ndarray  # group g occupies (g, g+1]
    group_start: np.ndarray  # first position of each group in `members`

    @classmethod
    def build(cls, member_ids: np.ndarray, groups: np.ndarray, weights: np.ndarray, n_groups: int) -> GroupedSampler:
        """Group `member_ids` by `groups`, each sampled by `weights` within its group."""
        order = np.lexsort((-weights, groups))
        sorted_groups = groups[order]
        sorted_weights = weights[order]
        counts = np.bincount(sorted_groups, minlength=n_groups)
        if np.any(counts == 0):
            raise ValueError("every group needs at least one member")
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        cum = np.cumsum(sorted_weights)
        group_base = np.repeat(cum[starts] - sorted_weights[starts], counts)
        group_total = np.repeat(np.add.reduceat(sorted_weights, starts), counts)
        within = (cum - group_base) / group_total
        within[np.concatenate((starts[1:] - 1, [len(within) - 1]))] = 1.0
        return cls(member_ids[order], within + sorted_groups, starts)

    def sample(self, rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
        """One member per entry of `groups`, drawn from that group."""
        n = len(groups)
        # Visit rows grouped (and shuffled within each group) so that the targets
        # ascend: a sorted search stays in cache. Sorting small ints is a radix sort.
        shuffled = rng.permutation(n)
        order = shuffled[np.argsort(groups[shuffled], kind="stable")]
        sorted_groups = groups[order]
        counts = np.bincount(sorted_groups)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        rank = np.arange(n) - starts
        # Stratified uniforms within each group: ascending, and each row still uniform.
        u = (rank + rng.random(n)) / np.repeat(counts, counts)
        targets = sorted_groups + u
        pos = np.searchsorted(self.shifted_cdf, targets, side="left")
        # Guard against float ties at a group's lower edge.
        pos = np.clip(pos, self.group_start[sorted_groups], len(self.members) - 1)
        out = np.empty(n, dtype=self.members.dtype)
        out[order] = self.members[pos]
        return out


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First day of each calendar month overlapping [start, end), plus `end` as a sentinel."""
    days = [start]
    current = start
    while True:
        year, month = (current.year + 1, 1) if current.month == 12 else (current.year, current.month + 1)
        current = dt.date(year, month, 1)
        if current >= end:
            break
        days.append(current)
    days.append(end)
    return days


def period_weights(bounds: list[dt.date], start: dt.date, end: dt.date) -> np.ndarray:
    """Relative traffic per period: linear growth over the range times yearly seasonality."""
    total_days = (end - start).days
    weights = []
    for lo, hi in itertools.pairwise(bounds):
        mid = (lo - start).days + (hi - lo).days / 2
        growth = 1.0 + 1.5 * mid / total_days
        weights.append(growth * _YEARLY[lo.month - 1] * (hi - lo).days)
    return np.asarray(weights, dtype=np.float64)


def split_total(total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` into integer parts proportional to `weights` (largest remainder)."""
    raw = weights / weights.sum() * total
    parts: np.ndarray = np.floor(raw).astype(np.int64)
    short = total - int(parts.sum())
    if short:
        parts[np.argsort(-(raw - parts), kind="stable")[:short]] += 1
    return parts


@dataclass(frozen=True)
class TimeSampler:
    """Timestamps inside one period with weekly and diurnal seasonality.

    The density is constant within each hour of the period, so the inverse CDF is
    piecewise linear: sorted uniforms map to sorted timestamps with no sort step.
    """

    start_us: int
    hours: int
    hour_cdf: np.ndarray  # cumulative share of traffic at the end of each hour

    @classmethod
    def for_period(cls, lo: dt.date, hi: dt.date) -> TimeSampler:
        """Sampler for [lo, hi)."""
        n_days = (hi - lo).days
        weekdays = (np.arange(n_days) + lo.weekday()) % 7
        weights = np.outer(_WEEKLY[weekdays], _DIURNAL).ravel()
        return cls(date_to_micros(lo), n_days * 24, cdf_from_weights(weights))

    @property
    def end_us(self) -> int:
        """Exclusive end of the period in epoch microseconds."""
        return self.start_us + self.hours * MICROS_PER_HOUR

    def sample_sorted(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` epoch-microsecond timestamps within the period, in ascending order."""
        u = sorted_uniforms(rng, size)
        hour = np.searchsorted(self.hour_cdf, u, side="right")
        hour = np.minimum(hour, self.hours - 1)
        lo = np.where(hour > 0, self.hour_cdf[hour - 1], 0.0)
        within = (u - lo) / (self.hour_cdf[hour] - lo)
        offset = np.minimum((within * MICROS_PER_HOUR).astype(np.int64), MICROS_PER_HOUR - 1)
        timestamps: np.ndarray = self.start_us + hour * MICROS_PER_HOUR + offset
        return timestamps
