"""Order lines (contract v2): multi-line orders, cancellations, returns, credit notes and their defects.

One chunk of `n` rows is built as: sale lines of whole orders, then reversal lines
(cancellation and return documents that reference orders of the same chunk, some of
them days later; a share are unreferenced credit notes), then dirty rows, then exact
duplicate lines inserted right after their originals, so the chunk has exactly `n`
rows. Every dirty row has exactly one defect, and no defect touches an order that a
reversal references: the manifest's counts are exactly what a correct gate quarantines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shop_analytics.datagen.config import ORDER_LINE_DIRTY_KINDS, GeneratorConfig
from shop_analytics.datagen.distributions import (
    MAX_LATENESS_DAYS,
    MICROS_PER_DAY,
    MICROS_PER_HOUR,
    MICROS_PER_SECOND,
    OUT_OF_RANGE_US,
    TimeSampler,
    date_to_micros,
)
from shop_analytics.datagen.entities import UNKNOWN_ID_OFFSET, Population
from shop_analytics.datagen.events import repeat_on_same_day
from shop_analytics.datagen.fx import RatePaths
from shop_analytics.datagen.keys import NEVER_ISSUED_ORDER, ORDER_BASE, customer_ids, order_numbers, product_codes
from shop_analytics.datagen.shapes import ORDER_LINES
from shop_analytics.datagen.world import COUNTRIES, CURRENCIES, UNKNOWN_CURRENCIES, currency_index

MAX_BASKET = 250
_MINOR = np.array([c.minor_units for c in CURRENCIES])
_COUNTRY_CURRENCY = np.array([currency_index(c.currency) for c in COUNTRIES])
_USD = currency_index("USD")
_CURRENCY_TEXT = pa.array([c.code for c in CURRENCIES] + list(UNKNOWN_CURRENCIES))
_LINE_TYPES = pa.array(["sale", "cancellation", "return", "Sale", "refund", "CANCEL"])
SALE, CANCELLATION, RETURN = 0, 1, 2
_BAD_LINE_TYPES = np.array([3, 4, 5])
_DOC_PREFIX = pa.array(["", "C", "R", "CN"])
CREDIT_NOTE = 3
# invalid_key paddings (before, after): none, a trailing blank, a leading blank, a trailing tab.
_PADDINGS = (("", ""), ("", " "), (" ", ""), ("", "\t"))
_PADDINGS_BEFORE = pa.array([p[0] for p in _PADDINGS])
_PADDINGS_AFTER = pa.array([p[1] for p in _PADDINGS])


def basket_sizes(rng: np.random.Generator, count: int) -> np.ndarray:
    """Lines per order: heavy-tailed (median 2, mean about 3.2, a long tail to MAX_BASKET)."""
    sizes: np.ndarray = np.minimum(1 + np.floor(rng.lognormal(0.4, 1.1, count)), MAX_BASKET).astype(np.int64)
    return sizes


@dataclass
class _Lines:
    """Columns of a chunk of order lines, one NumPy array each (indices, minor units, masks)."""

    doc: np.ndarray  # document number (order number for sales)
    doc_kind: np.ndarray  # SALE, CANCELLATION, RETURN or CREDIT_NOTE: the document id prefix
    line_number: np.ndarray
    ts: np.ndarray  # epoch microseconds
    user: np.ndarray  # user index, 0 = guest
    item: np.ndarray  # item index
    quantity: np.ndarray
    price_minor: np.ndarray  # unit price in minor units of the currency (float: whole unless invalid_precision)
    amount_minor: np.ndarray
    currency: np.ndarray  # index into _CURRENCY_TEXT
    line_type: np.ndarray  # index into _LINE_TYPES
    original_doc: np.ndarray  # -1 = none
    original_line: np.ndarray  # 0 = none
    key_padding: np.ndarray  # index into _PADDINGS: 0 = none (an invalid_key pads the order id)

    def take(self, rows: np.ndarray) -> _Lines:
        """The lines at `rows`, in that order."""
        return _Lines(**{name: values[rows] for name, values in vars(self).items()})

    @staticmethod
    def concat(parts: list[_Lines]) -> _Lines:
        """The lines of `parts`, one after another."""
        return _Lines(**{name: np.concatenate([vars(p)[name] for p in parts]) for name in vars(parts[0])})


def order_lines(
    config: GeneratorConfig,
    pop: Population,
    rates: RatePaths,
    rng: np.random.Generator,
    times: TimeSampler,
    first_number: int,
    n: int,
    history: bool,
) -> tuple[pa.Table, dict[str, int]]:
    """`n` order lines for one chunk whose order numbers start at `first_number`, and the chunk's counts."""
    per_kind = config.dirty_rate / len(ORDER_LINE_DIRTY_KINDS)
    n_dup = int(rng.binomial(n, per_kind)) if n > 2 else 0
    n_rev = round(n * config.reversal_share) if n > 2 else 0
    n_dup = min(n_dup, max(0, n - n_rev - 1))  # at least one sale line
    sales, orders = _sales(config, pop, rates, rng, times, first_number, n - n_rev - n_dup, history)
    reversals, doc_order, counts = _reversals(rng, sales, orders, n_rev, date_to_micros(config.end))
    lines = _Lines.concat([sales, reversals])
    # Orders that a reversal references, or that arrive late, get no defect.
    untouchable = np.zeros(len(orders.size), dtype=bool)
    untouchable[doc_order] = True
    late_rows, counts["late_arriving"] = _late(config, rng, times, lines, orders, untouchable)
    dirty = np.zeros(len(lines.doc), dtype=bool)
    counts |= _corrupt(rng, lines, orders, untouchable, dirty, len(sales.doc), per_kind * n, pop)
    rows, counts["duplicate_event_id"] = _with_duplicates(rng, ~dirty & ~late_rows, n_dup)
    lines = lines.take(rows)
    counts["guest_lines"] = int((lines.user == 0).sum())
    return _to_arrow(lines), counts


@dataclass
class _Orders:
    """Per-order facts of the chunk's sale orders."""

    start: np.ndarray  # first line position
    size: np.ndarray
    user: np.ndarray


def _sales(
    config: GeneratorConfig,
    pop: Population,
    rates: RatePaths,
    rng: np.random.Generator,
    times: TimeSampler,
    first_number: int,
    n: int,
    history: bool,
) -> tuple[_Lines, _Orders]:
    """Exactly `n` sale lines of whole orders (the last basket is cut to fit)."""
    sizes = basket_sizes(rng, max(8, int(n / 3) + 8))
    while sizes.sum() < n:
        sizes = np.concatenate([sizes, basket_sizes(rng, len(sizes))])
    total = np.cumsum(sizes)
    n_orders = int(np.searchsorted(total, n)) + 1
    sizes = sizes[:n_orders]
    sizes[-1] -= int(total[n_orders - 1] - n)
    starts = np.cumsum(sizes) - sizes
    order_of_line = np.repeat(np.arange(n_orders), sizes)
    line_number = np.arange(n) - starts[order_of_line] + 1

    order_ts = times.sample_sorted(rng, n_orders)
    users = pop.sample_users(rng, n_orders)
    users[rng.random(n_orders) < config.guest_share] = 0
    # Same-day repeat orders: the same customer orders again on the same UTC day.
    repeat_on_same_day(rng, users, order_ts, config.same_day_repeat_share)
    # Lines of one order are scanned seconds apart, so an order can span midnight.
    gaps = rng.integers(0, 20 * MICROS_PER_SECOND, n, dtype=np.int64)
    gaps[starts] = 0
    offsets = np.cumsum(gaps)
    ts = order_ts[order_of_line] + offsets - offsets[starts][order_of_line]

    line_users = users[order_of_line]
    items = pop.sample_items(rng, line_users, config.taste_share)
    quantity = np.minimum(rng.geometric(0.5, n), 48)
    quantity = np.where(rng.random(n) < 0.03, quantity * 12, quantity).astype(np.int64)
    if history:
        currency = np.full(n_orders, _USD)  # the shop sold in USD only before `start`
    else:
        known = users > 0
        country = np.where(known, pop.user_country[np.maximum(users, 1) - 1], 0)
        guests = ~known
        country[guests] = pop.user_country[rng.integers(0, pop.n_users, int(guests.sum()))]
        currency = _COUNTRY_CURRENCY[country]
    line_currency = currency[order_of_line]
    usd = rates.usd_per_unit[line_currency, rates.day_index(order_ts[order_of_line])]
    scale = 10.0 ** _MINOR[line_currency]
    price_minor = np.maximum(1.0, np.round(pop.item_price_cents[items - 1] / 100.0 / usd * scale))
    discount = 1.0 - rng.choice([0.0, 0.1, 0.25], n, p=[0.85, 0.1, 0.05])
    amount_minor = np.round(price_minor * quantity * discount)
    lines = _Lines(
        doc=first_number + order_of_line,
        doc_kind=np.zeros(n, dtype=np.int64),
        line_number=line_number,
        ts=ts,
        user=line_users,
        item=items,
        quantity=quantity,
        price_minor=price_minor,
        amount_minor=amount_minor,
        currency=line_currency,
        line_type=np.full(n, SALE),
        original_doc=np.full(n, -1),
        original_line=np.zeros(n, dtype=np.int64),
        key_padding=np.zeros(n, dtype=np.int64),
    )
    return lines, _Orders(starts, sizes, users)


def _reversals(
    rng: np.random.Generator, sales: _Lines, orders: _Orders, n_rev: int, end_us: int
) -> tuple[_Lines, np.ndarray, dict[str, int]]:
    """Exactly `n_rev` reversal lines: cancellation and return documents (before `end_us`), some credit notes."""
    if n_rev == 0:
        return sales.take(np.arange(0)), np.arange(0), {}
    n_orders = len(orders.size)
    candidates = rng.permutation(n_orders)
    size = orders.size[candidates]
    cancel = rng.random(n_orders) < 0.45
    full = cancel & (rng.random(n_orders) < 0.7)
    partial_cancel_lines = 1 + np.floor(rng.random(n_orders) * size).astype(np.int64)
    return_lines = 1 + rng.binomial(size - 1, 0.3)
    k = np.where(cancel, np.where(full, size, partial_cancel_lines), return_lines)
    total = np.cumsum(k)
    n_docs = min(int(np.searchsorted(total, n_rev)) + 1, n_orders)
    k = k[:n_docs]
    k[-1] -= max(0, int(total[n_docs - 1]) - n_rev)
    doc_order, cancel = candidates[:n_docs], cancel[:n_docs]
    # Which lines: k consecutive lines of the order from a random first one (wrapping around).
    doc_of_line = np.repeat(np.arange(n_docs), k)
    within = np.arange(len(doc_of_line)) - np.repeat(np.cumsum(k) - k, k)
    first = np.floor(rng.random(n_docs) * orders.size[doc_order]).astype(np.int64)
    line_in_order = (first[doc_of_line] + within) % orders.size[doc_order][doc_of_line]
    src = orders.start[doc_order][doc_of_line] + line_in_order
    rev = sales.take(src)
    m = len(src)
    is_cancel = cancel[doc_of_line]
    # A cancellation reverses whole lines (or part of a one-line order); a return part of the quantity.
    partial_qty = (~is_cancel | (orders.size[doc_order][doc_of_line] == 1)) & (rng.random(m) < 0.5)
    qty = np.where(partial_qty, 1 + np.floor(rng.random(m) * rev.quantity).astype(np.int64), rev.quantity)
    qty = np.minimum(qty, rev.quantity)
    rev.amount_minor = np.round(rev.amount_minor * qty / rev.quantity)
    rev.quantity = qty
    # Cancellations come within hours (a fifth days later); returns 2 to 45 days later.
    same_day = rng.random(n_docs) < 0.8
    delay = np.where(
        cancel,
        np.where(
            same_day,
            rng.integers(5 * 60 * MICROS_PER_SECOND, 6 * MICROS_PER_HOUR, n_docs),
            rng.integers(1 * MICROS_PER_DAY, 4 * MICROS_PER_DAY, n_docs),
        ),
        rng.integers(2 * MICROS_PER_DAY, 45 * MICROS_PER_DAY, n_docs),
    )
    doc_ts = sales.ts[orders.start[doc_order] + orders.size[doc_order] - 1] + delay
    rev.ts = np.minimum(doc_ts[doc_of_line] + within * MICROS_PER_SECOND, end_us - 1)  # nothing after the data set
    credit_note = rng.random(n_docs) < 0.05
    doc_kind = np.where(credit_note, CREDIT_NOTE, np.where(cancel, CANCELLATION, RETURN))
    rev.original_doc = np.where(credit_note[doc_of_line], -1, rev.doc)
    known_line = ~credit_note[doc_of_line] & (rng.random(m) < 0.85)
    rev.original_line = np.where(known_line, rev.line_number, 0)
    rev.doc_kind = doc_kind[doc_of_line]
    rev.line_type = np.where(is_cancel, CANCELLATION, RETURN)
    rev.line_number = within + 1
    # Document numbers: the original order's number under the document prefix (unique per prefix).
    counts = {
        "orders": len(orders.size),
        "sale_lines": len(sales.doc),
        "cancellation_lines": int(is_cancel.sum()),
        "return_lines": int((~is_cancel).sum()),
        "credit_note_lines": int(credit_note[doc_of_line].sum()),
        "reversal_lines_without_line_number": int((~known_line & ~credit_note[doc_of_line]).sum()),
        "reversal_lines_on_later_day": int((rev.ts // MICROS_PER_DAY > sales.ts[src] // MICROS_PER_DAY).sum()),
        "fully_cancelled_orders": int((full[:n_docs] & ~credit_note & (k == orders.size[doc_order])).sum()),
    }
    return rev, doc_order, counts


def _late(
    config: GeneratorConfig,
    rng: np.random.Generator,
    times: TimeSampler,
    lines: _Lines,
    orders: _Orders,
    untouchable: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Move a `late_rate` share of unreversed orders, whole, before the batch's period (late-arriving data)."""
    late_rows = np.zeros(len(lines.doc), dtype=bool)
    earliest_late = times.start_us - MAX_LATENESS_DAYS * MICROS_PER_DAY
    if earliest_late < date_to_micros(config.source_start("order_lines")):
        return late_rows, 0  # the first batches have no earlier partition to be late into
    late_orders = np.flatnonzero(~untouchable & (rng.random(len(orders.size)) < config.late_rate))
    rows = _rows_of(orders, late_orders)
    order_of_row = np.repeat(np.arange(len(late_orders)), orders.size[late_orders])
    lateness = rng.integers(MICROS_PER_HOUR, MAX_LATENESS_DAYS * MICROS_PER_DAY, len(late_orders), dtype=np.int64)
    first_ts = lines.ts[orders.start[late_orders]]
    # Keep the order's line spacing, but never let a late line reach back into the period.
    shifted = times.start_us - lateness[order_of_row] + (lines.ts[rows] - first_ts[order_of_row])
    lines.ts[rows] = np.minimum(shifted, times.start_us - 1)
    late_rows[rows] = True
    untouchable[late_orders] = True
    return late_rows, len(rows)


def _rows_of(orders: _Orders, which: np.ndarray) -> np.ndarray:
    sizes = orders.size[which]
    within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    rows: np.ndarray = np.repeat(orders.start[which], sizes) + within
    return rows


def _corrupt(
    rng: np.random.Generator,
    lines: _Lines,
    orders: _Orders,
    excluded: np.ndarray,
    dirty: np.ndarray,
    n_sales: int,
    per_kind: float,
    pop: Population,
) -> dict[str, int]:
    """Give each chosen row exactly one defect; orders that a reversal references, and late ones, stay clean."""
    counts: dict[str, int] = {}
    free = np.flatnonzero(~excluded)
    rng.shuffle(free)
    # Whole-order kinds: every line of the order carries the defect, so lines never disagree.
    for kind in ("unknown_user", "unknown_currency"):
        pool = free[orders.user[free] > 0] if kind == "unknown_user" else free
        target = rng.poisson(per_kind)
        chosen = pool[: int(np.searchsorted(np.cumsum(orders.size[pool]), target, side="right"))]
        free = np.setdiff1d(free, chosen, assume_unique=True)
        rows = _rows_of(orders, chosen)
        dirty[rows] = True
        counts[kind] = len(rows)
        # One value per order, repeated over its lines.
        if kind == "unknown_user":
            value = UNKNOWN_ID_OFFSET + pop.n_users + rng.integers(1, 1000, len(chosen))
            lines.user[rows] = np.repeat(value, orders.size[chosen])
        else:
            value = len(CURRENCIES) + rng.integers(0, len(UNKNOWN_CURRENCIES), len(chosen))
            lines.currency[rows] = np.repeat(value, orders.size[chosen])
    rng.shuffle(free)
    line_pool = _rows_of(orders, free)
    rng.shuffle(line_pool)
    line_kinds = (
        "null_key",
        "invalid_key",
        "invalid_value",
        "invalid_precision",
        "unknown_item",
        "timestamp_out_of_range",
    )
    targets = rng.poisson(per_kind, len(line_kinds))
    at = 0
    for kind, target in zip(line_kinds, targets, strict=True):
        rows = np.sort(line_pool[at : at + int(target)])
        at += len(rows)
        dirty[rows] = True
        counts[kind] = len(rows)
        _corrupt_lines(kind, rng, lines, rows, pop)
    # Reversal documents whose original order was never issued.
    reversal_rows = np.arange(n_sales, len(lines.doc))
    referencing = reversal_rows[lines.original_doc[reversal_rows] >= 0]
    docs, doc_lines = np.unique(lines.doc[referencing], return_counts=True)
    shuffled = rng.permutation(len(docs))
    docs, doc_lines = docs[shuffled], doc_lines[shuffled]
    target = rng.poisson(per_kind)
    chosen_docs = docs[: int(np.searchsorted(np.cumsum(doc_lines), target, side="right"))]
    rows = referencing[np.isin(lines.doc[referencing], chosen_docs)]
    lines.original_doc[rows] = NEVER_ISSUED_ORDER - ORDER_BASE + lines.doc[rows]
    dirty[rows] = True
    counts["unknown_order"] = len(rows)
    return counts


def _corrupt_lines(kind: str, rng: np.random.Generator, lines: _Lines, rows: np.ndarray, pop: Population) -> None:
    """Apply one line-level defect to `rows`."""
    m = len(rows)
    if not m:
        return
    which = rng.integers(0, 4, m)
    if kind == "null_key":
        # -2 marks NULL in the id columns when they become Arrow arrays.
        lines.doc[rows[which == 0]] = -2
        lines.line_number[rows[which == 1]] = -2
        lines.item[rows[which >= 2]] = -2
    elif kind == "invalid_key":
        # The order id padded as careless exports do: a trailing or leading blank, or a tab.
        lines.key_padding[rows] = 1 + which % (len(_PADDINGS) - 1)
    elif kind == "invalid_value":
        lines.quantity[rows[which == 0]] = rng.choice([0, -1, -12], int((which == 0).sum()))
        lines.amount_minor[rows[which == 1]] *= -1
        lines.amount_minor[rows[which == 1]] -= 1  # never -0
        lines.line_type[rows[which == 2]] = rng.choice(_BAD_LINE_TYPES, int((which == 2).sum()))
        # A sale line that claims to reverse an order.
        lines.original_doc[rows[which == 3]] = lines.doc[rows[which == 3]]
        lines.original_line[rows[which == 3]] = 1
    elif kind == "invalid_precision":
        # A fraction of a minor unit on the price or the amount (e.g. 12.345 USD, 1234.5 JPY).
        lines.price_minor[rows[which < 2]] += 0.5
        lines.amount_minor[rows[which >= 2]] += 0.3
    elif kind == "unknown_item":
        lines.item[rows] = UNKNOWN_ID_OFFSET + pop.n_items + rng.integers(1, 1000, m)
    elif kind == "timestamp_out_of_range":
        base = OUT_OF_RANGE_US[rng.integers(0, 2, m)]
        lines.ts[rows] = base + rng.integers(0, MICROS_PER_DAY, m, dtype=np.int64)
    else:
        raise ValueError(f"unknown dirty kind {kind!r}")


def _with_duplicates(rng: np.random.Generator, eligible: np.ndarray, n_dup: int) -> tuple[np.ndarray, int]:
    """Row order with `n_dup` eligible rows written twice in a row (exact duplicate lines)."""
    pool = np.flatnonzero(eligible)
    n_dup = min(n_dup, len(pool))
    copies = np.ones(len(eligible), dtype=np.int64)
    copies[rng.choice(pool, n_dup, replace=False)] = 2
    return np.repeat(np.arange(len(eligible)), copies), n_dup


def _money(minor: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Minor units as a decimal amount of the currency (12345 minor units of USD -> 123.45)."""
    values: np.ndarray = minor / 10.0**digits
    return values


def _padded(keys: pa.Array, padding: np.ndarray) -> pa.Array:
    """`keys` with the padding of each row (most rows have none)."""
    padded = padding > 0
    if not padded.any():
        return keys
    rows = pa.array(np.flatnonzero(padded))
    before = pc.take(_PADDINGS_BEFORE, pa.array(padding[padded]))
    after = pc.take(_PADDINGS_AFTER, pa.array(padding[padded]))
    values = pc.binary_join_element_wise(before, pc.take(keys, rows), after, "")
    return pc.replace_with_mask(keys, pa.array(padded), values)


def _to_arrow(lines: _Lines) -> pa.Table:
    known = lines.currency < len(CURRENCIES)
    digits = np.where(known, _MINOR[np.minimum(lines.currency, len(CURRENCIES) - 1)], 2)
    prefix = pc.take(_DOC_PREFIX, pa.array(lines.doc_kind))
    original_missing = lines.original_doc < 0
    return pa.Table.from_arrays(
        [
            _padded(order_numbers(lines.doc, prefix, mask=lines.doc == -2), lines.key_padding),
            pa.array(lines.line_number.astype(np.int32), mask=lines.line_number == -2),
            pa.array(lines.ts, type=pa.timestamp("us")),
            customer_ids(lines.user, mask=lines.user == 0),
            product_codes(lines.item, mask=lines.item == -2),
            pa.array(lines.quantity.astype(np.int32)),
            pa.array(_money(lines.price_minor, digits)),
            pa.array(_money(lines.amount_minor, digits)),
            pc.take(_CURRENCY_TEXT, pa.array(lines.currency)),
            pc.take(_LINE_TYPES, pa.array(lines.line_type)),
            order_numbers(np.maximum(lines.original_doc, 0), mask=original_missing),
            pa.array(lines.original_line.astype(np.int32), mask=lines.original_line == 0),
        ],
        schema=ORDER_LINES.schema,
    )
