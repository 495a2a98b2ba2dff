"""A seeded commerce history cut into ingest batches, for the incremental equality tests.

Orders of the gate's v2 baseline customers and products (support.gate_v2_data) over a
week in three currencies, delivered batch by batch the way real producers do it: most
lines in their day's batch, some late (an extra sale line of an old order, earlier than
its first one, so the order's date moves back), a batch replaying lines already admitted,
an empty batch, and correction batches of cancellations and returns (by line number, by
item, over-reversals, a credit note) of orders of any age. Exchange rates arrive in
batches too, one of them late (it changes the rate chosen for days already reported).
Page views arrive in daily batches with late events of earlier days, a replayed batch (event ids
already admitted, under a new batch id), an empty batch; and a users snapshot moves a user who
viewed items into the audience country after their views.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from support.gate_v2_data import ITEMS, USERS, line

DAYS = [dt.date(2018, 6, 1) + dt.timedelta(days=d) for d in range(7)]
CURRENCIES = ("GBP", "USD", "EUR")
PRICES = (Decimal("2.55"), Decimal("10.00"), Decimal("0.99"), Decimal("100.00"))


@dataclass
class Batch:
    """One landing batch: its source, id and CSV rows (order lines as `line()` dicts, or rate columns)."""

    source: str
    batch_id: str
    rows: list[dict[str, str | None]] = field(default_factory=list)


def _at(day: dt.date, rng: random.Random) -> str:
    return f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00"


def _sale(order_id: str, number: int, at: str, user: str | None, rng: random.Random, currency: str) -> dict:
    quantity, price = rng.randint(1, 3), rng.choice(PRICES)
    return line(
        order_id,
        number,
        at=at,
        user=user,
        item=rng.choice(ITEMS),
        quantity=quantity,
        unit_price=str(price),
        amount=str(price * quantity),
        currency=currency,
    )


def _reversal(
    order_id: str, number: int, original: dict, at: str, rng: random.Random, *, by_line: bool, over: bool
) -> dict:
    quantity = int(str(original["quantity"])) + (1 if over else 0)
    quantity = quantity if over else rng.randint(1, quantity)
    price = Decimal(str(original["unit_price"]))
    return line(
        order_id,
        number,
        at=at,
        user=original["user_id"],
        item=str(original["item_id"]),
        quantity=quantity,
        unit_price=str(price),
        amount=str(price * quantity),
        currency=str(original["currency"]),
        line_type=rng.choice(("cancellation", "return")),
        original_order_id=str(original["order_id"]),
        original_line_number=original["line_number"] if by_line else None,
    )


PAGE_VIEW_COLUMNS = ("page_view_id", "user_id", "item_id", "viewed_at")
USER_COLUMNS = ("user_id", "country_code", "signup_at")
# The users snapshot of the history: C-1 (no country in the baseline) moves to GB.
MOVED_USERS = Batch("users", "2018-06-06", [{"user_id": "C-1", "country_code": "GB", "signup_at": "2017-01-01"}])


def page_views(batch_id: str, index: int, rng: random.Random, first_id: int) -> Batch:
    """The page views of day `index`: anonymous and authenticated, some late (of earlier days)."""
    rows = []
    for k in range(rng.randint(3, 8)):
        late = index > 0 and rng.random() < 0.25
        day = DAYS[rng.randrange(index)] if late else DAYS[index]
        user = rng.choice([*USERS, None])
        rows.append(
            {
                "page_view_id": str(first_id + k),
                "user_id": user,
                "item_id": rng.choice(ITEMS),
                "viewed_at": _at(day, rng),
            }
        )
    return Batch("page_views", batch_id, rows)


def history(seed: int) -> list[list[Batch]]:
    """The steps of one seeded history: the batches landed before each ingest run, in order."""
    rng = random.Random(seed)
    views_rng = random.Random(seed * 7919)  # its own stream: the order history stays as it was
    steps: list[list[Batch]] = []
    delivered: list[dict] = []  # sale lines already in an earlier batch
    viewed: list[dict] = []  # page views already in an earlier batch

    def rates(batch_id: str, days: list[dt.date]) -> Batch:
        rows = [
            {"rate_date": d.isoformat(), "currency": c, "base_currency": "USD", "rate": f"{rng.uniform(0.8, 1.6):.4f}"}
            for d in days
            for c in ("GBP", "EUR")
        ]
        return Batch("exchange_rates", batch_id, rows)

    # Rates for the first days but the second; the rest arrive later, the second day's last.
    first_rates = rates("rates-1", [dt.date(2018, 5, 30), DAYS[0], DAYS[2], DAYS[3]])
    late_extra: list[dict] = []
    for index, day in enumerate(DAYS):
        batch = Batch("order_lines", f"day-{index:02d}")
        for n in range(rng.randint(2, 4)):
            order_id = f"O{seed}-{index}-{n}"
            user = rng.choice([*USERS, None]) if rng.random() < 0.2 else rng.choice(USERS)
            currency = rng.choice(CURRENCIES)
            at = _at(day, rng)
            for number in range(1, rng.randint(1, 3) + 1):
                batch.rows.append(_sale(order_id, number, at, user, rng, currency))
            if rng.random() < 0.3:  # one more line of this order, delivered days later
                late_extra.append(_sale(order_id, 9, at, user, rng, currency))
        if index >= 3 and late_extra:  # late lines of older orders, some earlier than their order
            for position, extra in enumerate(late_extra[: rng.randint(1, len(late_extra))]):
                extra = dict(extra)
                if (index == 3 and position == 0) or rng.random() < 0.5:  # at least one order moves back
                    extra["ordered_at"] = (
                        dt.datetime.fromisoformat(str(extra["ordered_at"])) - dt.timedelta(days=1)
                    ).isoformat()
                batch.rows.append(extra)
                late_extra.remove(next(e for e in late_extra if e["order_id"] == extra["order_id"]))
        views = page_views(f"views-{index:02d}", index, views_rng, 1000 * (index + 1))
        steps.append([first_rates, batch, views] if index == 0 else [batch, views])
        if index == 4:  # page views already admitted under a new batch id, and an empty page view batch
            steps[-1].append(Batch("page_views", "views-replay", [dict(r) for r in views_rng.sample(viewed, 3)]))
            steps[-1].append(Batch("page_views", "views-empty"))
        if index == 5:
            steps[-1].append(MOVED_USERS)
        viewed.extend(views.rows)
        if index == 4:
            steps[-1].append(rates("rates-2", DAYS[4:]))
        if index in (3, 5) and delivered:  # corrections of orders of any age (by line, by item, over)
            correction = Batch("order_lines", f"corrections-{index:02d}")
            for k, original in enumerate(rng.sample(delivered, min(4, len(delivered)))):
                correction.rows.append(
                    _reversal(
                        f"R{seed}-{index}-{k}",
                        1,
                        original,
                        _at(day, rng),
                        rng,
                        by_line=rng.random() < 0.5,
                        over=rng.random() < 0.2,
                    )
                )
            credit = dict(_sale(f"CN{seed}-{index}", 1, _at(day, rng), rng.choice(USERS), rng, "GBP"))
            correction.rows.append({**credit, "line_type": "return"})
            steps.append([correction])
        if index == 4:  # lines already admitted, under a new batch id; and a batch with no row
            steps.append([Batch("order_lines", "replay", [dict(r) for r in rng.sample(delivered, 3)])])
            steps[-1].append(Batch("order_lines", "empty"))
        if index == 6:  # a late rate for a day already reported: nearer than the one carried forward
            steps.append([rates("rates-late", [DAYS[1]])])
        delivered.extend(r for r in batch.rows if r["line_type"] == "sale")
    return steps


def corrections(batch_id: str, steps: list[list[Batch]], seed: int, count: int = 4) -> Batch:
    """A batch of `count` cancellations and returns of sale lines delivered in `steps`."""
    rng = random.Random(seed)
    sales = [r for step in steps for b in step if b.source == "order_lines" for r in b.rows if r["line_type"] == "sale"]
    rows = [
        _reversal(f"K{seed}-{k}", 1, original, _at(DAYS[-1], rng), rng, by_line=k % 2 == 0, over=False)
        for k, original in enumerate(rng.sample(sales, count))
    ]
    return Batch("order_lines", batch_id, rows)
