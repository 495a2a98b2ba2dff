"""The commerce marts computed in plain Python from the Parquet lake (pyarrow, no SQL).

An independent reading of docs/marts.md: units are allocated one by one to sale lines (the models
lay quantity intervals end to end), rates are looked up by scanning every rate row, and every
aggregate is a Python loop. Reporting amounts are Decimals with 4 places.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq

_FACT_FILE = re.compile(r"batch_(.+)_[0-9]+\.parquet$")
_DIM_FILE = re.compile(r"batch_([^/]+)\.parquet$")
GRID = Decimal("0.0001")
MIGRATED_ORDER_PREFIX = "purchase:"  # a v1 purchase's order id in the warehouse (docs/raw_data_contract.md)
ZERO = Decimal("0.0000")


def money(value: float | None) -> Decimal | None:
    """A lake amount (DOUBLE in whole minor units) as the DECIMAL(18, 4) staging gives."""
    return None if value is None else Decimal(repr(value)).quantize(GRID, rounding=ROUND_HALF_UP)


def _rows(folder: Path, pattern: re.Pattern[str], glob: str) -> list[dict]:
    out = []
    for path in sorted(folder.glob(glob)):
        batch = pattern.search(path.name)
        for row in pq.read_table(path).to_pylist():
            row["batch_id"] = batch.group(1) if batch else None
            out.append(row)
    return out


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass
class Line:
    """One order line as staging sees it, plus what the oracle derives for it."""

    order_id: str
    line_number: int
    ordered_at: dt.datetime
    user_id: str | None
    item_id: str
    quantity: int
    unit_price: Decimal
    line_amount: Decimal
    currency: str
    line_type: str
    original_order_id: str | None
    original_line_number: int | None
    source_table: str
    batch_id: str
    activity_date: dt.date | None = None
    fx_rate: float | None = None
    fx_method: str = ""
    fx_rate_date: dt.date | None = None
    amount_reporting: Decimal | None = None
    is_credit_note: bool = False
    # sale lines: reversal pieces (line_type, quantity, amount, amount_reporting or None, reversed_at)
    pieces: list[tuple[str, int, Decimal, Decimal | None, dt.datetime]] = field(default_factory=list)


@dataclass(frozen=True)
class CommerceLake:
    """Order lines (v2 and migrated v1), rates, users and items of a lake."""

    lines: list[Line]
    rates: list[dict]
    users: dict[str, dict]
    items: dict[str, dict]


def _latest(rows: list[dict], key: str) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for row in rows:
        row[key] = _text(row[key])
        kept = latest.get(row[key])
        if kept is None or row["batch_id"] > kept["batch_id"]:
            latest[row[key]] = row
    return latest


def _first_copies(rows: list[dict], key: str) -> list[dict]:
    """One row per (event date, key): the earliest batch's (var deduplicate_lake_events)."""
    best: dict[tuple, dict] = {}
    for row in rows:
        slot = (row["_date"], row[key])
        if slot not in best or row["batch_id"] < best[slot]["batch_id"]:
            best[slot] = row
    return list(best.values())


def read_commerce_lake(lake: Path, legacy_currency: str = "USD", *, deduplicate: bool = False) -> CommerceLake:
    """Load order lines (v2 + v1 purchases as one-line sale orders `purchase:<id>`), rates and dimension snapshots."""
    lines = [
        Line(
            r["order_id"],
            r["line_number"],
            r["ordered_at"],
            _text(r["user_id"]),
            _text(r["item_id"]),
            r["quantity"],
            money(r["unit_price"]),
            money(r["line_amount"]),
            r["currency"],
            r["line_type"],
            r["original_order_id"],
            r["original_line_number"],
            "order_lines",
            r["batch_id"],
        )
        for r in _rows(lake / "order_lines", _FACT_FILE, "event_date=*/*.parquet")
    ]
    purchases = _rows(lake / "purchases", _FACT_FILE, "event_date=*/*.parquet")
    if deduplicate:
        for row in purchases:
            row["_date"] = row["purchased_at"].date()
        purchases = _first_copies(purchases, "purchase_id")
    for r in purchases:
        amount = money(r["amount"])
        lines.append(
            Line(
                f"{MIGRATED_ORDER_PREFIX}{r['purchase_id']}",
                1,
                r["purchased_at"],
                _text(r["user_id"]),
                _text(r["item_id"]),
                r["quantity"],
                (amount / r["quantity"]).quantize(GRID, rounding=ROUND_HALF_UP),
                amount,
                legacy_currency,
                "sale",
                None,
                None,
                "purchases",
                r["batch_id"],
            )
        )
    rates = _rows(lake / "exchange_rates", _FACT_FILE, "event_date=*/*.parquet")
    users = _latest(_rows(lake / "users", _DIM_FILE, "*.parquet"), "user_id")
    items = _latest(_rows(lake / "items", _DIM_FILE, "*.parquet"), "item_id")
    return CommerceLake(lines, rates, users, items)


def _local_date(ts: dt.datetime, zone: ZoneInfo) -> dt.date:
    return ts.replace(tzinfo=dt.UTC).astimezone(zone).date()


def _best_leg(
    rates: list[dict], source: str, target: str, day: dt.date, staleness: int
) -> tuple[float, dt.date] | None:
    """source -> target on `day`: the latest rate_date within the window; a direct row beats an inverse one."""
    candidates = []
    for r in rates:
        if not day - dt.timedelta(days=staleness) <= r["rate_date"] <= day:
            continue
        if r["currency"] == source and r["base_currency"] == target:
            candidates.append((r["rate_date"], 0, r["rate"]))
        elif r["currency"] == target and r["base_currency"] == source:
            candidates.append((r["rate_date"], 1, 1.0 / r["rate"]))
    if not candidates:
        return None
    date, _, rate = max(candidates, key=lambda c: (c[0], -c[1]))
    return rate, date


def fx(
    rates: list[dict], currency: str, day: dt.date, reporting: str, staleness: int
) -> tuple[float | None, str, dt.date | None]:
    """(rate, method, rate_date) converting `currency` to `reporting` on `day`."""
    if currency == reporting:
        return 1.0, "same_currency", None
    leg = _best_leg(rates, currency, reporting, day, staleness)
    if leg:
        direct = any(
            r["currency"] == currency and r["base_currency"] == reporting and r["rate_date"] == leg[1] for r in rates
        )
        return leg[0], "direct" if direct else "inverse", leg[1]
    bases = {r["currency"] for r in rates} | {r["base_currency"] for r in rates}
    options = []
    for base in sorted(bases - {currency, reporting}):
        first, second = (
            _best_leg(rates, currency, base, day, staleness),
            _best_leg(rates, reporting, base, day, staleness),
        )
        if first and second:
            options.append((min(first[1], second[1]), base, first[0] / second[0]))
    if not options:
        return None, "missing", None
    date, _, rate = max(options, key=lambda o: (o[0], [-ord(ch) for ch in o[1]]))
    return rate, "triangulated", date


def _convert(amount: Decimal, rate: float | None) -> Decimal | None:
    if rate is None:
        return None
    if rate == 1.0:
        return amount
    # docs/marts.md, Currencies: the rate's shortest decimal text, every digit of it, an exact product.
    return (amount * Decimal(repr(rate))).quantize(GRID, rounding=ROUND_HALF_UP)


def _split(amount: Decimal | None, quantity: int, parts: list[int]) -> list[Decimal | None]:
    """Split `amount` over piece quantities on the 0.0001 grid: floor(amount * position / quantity) differences."""
    if amount is None:
        return [None] * len(parts)
    units = int(amount / GRID)
    out, position = [], 0
    for part in parts:
        out.append(Decimal((units * (position + part)) // quantity - (units * position) // quantity) * GRID)
        position += part
    return out


@dataclass(frozen=True)
class Netted:
    """Every line dated, converted and netted; pieces that reverse an order but none of its lines."""

    lines: list[Line]
    order_level: dict[str, list[tuple[str, int, Decimal, Decimal | None, dt.datetime]]]
    reporting: str


def net(lake: CommerceLake, zone: ZoneInfo, reporting: str = "USD", staleness: int = 7) -> Netted:
    """Date, convert and net every line of `lake` (docs/marts.md)."""
    sales = [line for line in lake.lines if line.line_type == "sale"]
    order_time: dict[str, dt.datetime] = {}
    for line in sales:
        order_time[line.order_id] = min(order_time.get(line.order_id, line.ordered_at), line.ordered_at)
    for line in lake.lines:
        when = order_time[line.order_id] if line.line_type == "sale" else line.ordered_at
        line.activity_date = _local_date(when, zone)
        line.fx_rate, line.fx_method, line.fx_rate_date = fx(
            lake.rates, line.currency, line.activity_date, reporting, staleness
        )
        line.amount_reporting = _convert(line.line_amount, line.fx_rate)
    by_key = {(s.order_id, s.line_number): s for s in sales}
    reversals = [line for line in lake.lines if line.line_type != "sale"]
    for line in reversals:
        line.is_credit_note = line.original_order_id is None or line.original_order_id not in order_time
    # 1. a reference to an existing sale line takes the reversal's whole quantity
    left = {key: s.quantity for key, s in by_key.items()}
    item_matched = []
    for rev in (r for r in reversals if not r.is_credit_note):
        target = by_key.get((rev.original_order_id, rev.original_line_number))
        if target is None:
            item_matched.append(rev)
            continue
        target.pieces.append((rev.line_type, rev.quantity, rev.line_amount, rev.amount_reporting, rev.ordered_at))
        left[(target.order_id, target.line_number)] -= rev.quantity
    # 2. the others unit by unit over the order's lines of that item, in (ordered_at, order_id, line_number) order
    order_level: dict[str, list[tuple]] = defaultdict(list)
    for rev in sorted(item_matched, key=lambda r: (r.ordered_at, r.order_id, r.line_number)):
        candidates = sorted(
            (s for s in sales if s.order_id == rev.original_order_id and s.item_id == rev.item_id),
            key=lambda s: s.line_number,
        )
        taken: dict[int, int] = defaultdict(int)
        for _ in range(rev.quantity):
            home = next((s for s in candidates if left[(s.order_id, s.line_number)] > 0), None)
            if home is not None:
                left[(home.order_id, home.line_number)] -= 1
                taken[home.line_number] += 1
            else:  # excess: on the item's last line, or on no line (-1)
                taken[candidates[-1].line_number if candidates else -1] += 1
        # pieces in line order, the order-level piece last (telescoping makes any finer split add up the same)
        parts = sorted(taken.items(), key=lambda kv: (kv[0] == -1, kv[0]))
        amounts = _split(rev.line_amount, rev.quantity, [q for _, q in parts])
        reported = _split(rev.amount_reporting, rev.quantity, [q for _, q in parts])
        for (number, quantity), amount, amount_reporting in zip(parts, amounts, reported, strict=True):
            piece = (rev.line_type, quantity, amount, amount_reporting, rev.ordered_at)
            if number == -1:
                order_level[rev.original_order_id].append(piece)
            else:
                by_key[(rev.original_order_id, number)].pieces.append(piece)
    return Netted(lake.lines, dict(order_level), reporting)


def _sum(values: list[Decimal | None]) -> Decimal:
    return sum((v for v in values if v is not None), ZERO)


def _line_netting(line: Line) -> dict:
    cancelled = sum(q for kind, q, *_ in line.pieces if kind == "cancellation")
    returned = sum(q for kind, q, *_ in line.pieces if kind == "return")
    reversed_amount = _sum([a for _, _, a, _, _ in line.pieces])
    reversed_reporting = _sum([r for *_, r, _ in line.pieces])
    missing = sum(1 for *_, r, _ in line.pieces if r is None)
    net_reporting = None
    if line.amount_reporting is not None and not missing:
        net_reporting = line.amount_reporting - reversed_reporting
    return {
        "cancelled": cancelled,
        "returned": returned,
        "reversed_amount": reversed_amount,
        "reversed_reporting": reversed_reporting,
        "missing_pieces": missing,
        "net_reporting": net_reporting,
        "over": cancelled + returned > line.quantity or reversed_amount > line.line_amount,
        "last_reversed_at": max((t for *_, t in line.pieces), default=None),
    }


def order_lines(netted: Netted) -> list[tuple]:
    """Rows of fct_order_lines, in the model's column order."""
    out = []
    for line in netted.lines:
        sale = line.line_type == "sale"
        sign = 1 if sale else -1
        n = _line_netting(line) if sale else None
        out.append(
            (
                line.order_id,
                line.line_number,
                line.line_type,
                line.user_id,
                line.item_id,
                line.ordered_at,
                line.activity_date,
                line.quantity,
                line.unit_price,
                line.line_amount,
                line.currency,
                line.original_order_id,
                line.original_line_number,
                line.is_credit_note,
                sign * line.quantity,
                sign * line.line_amount,
                n["cancelled"] if n else None,
                n["returned"] if n else None,
                line.quantity - n["cancelled"] - n["returned"] if n else None,
                n["reversed_amount"] if n else None,
                line.line_amount - n["reversed_amount"] if n else None,
                n["over"] if n else None,
                netted.reporting,
                line.fx_rate,
                line.fx_method,
                line.fx_rate_date,
                (line.activity_date - line.fx_rate_date).days if line.fx_rate_date else None,
                line.amount_reporting,
                None if line.amount_reporting is None else sign * line.amount_reporting,
                n["reversed_reporting"] if n else None,
                n["net_reporting"] if n else None,
                line.fx_method == "missing",
                line.source_table,
                line.batch_id,
            )
        )
    return out


ORDER_LINE_COLUMNS = (
    "order_id, line_number, line_type, customer_id, item_id, ordered_at, activity_date, quantity, unit_price, "
    "line_amount, currency, original_order_id, original_line_number, is_credit_note, signed_quantity, signed_amount, "
    "cancelled_quantity, returned_quantity, net_quantity, reversed_amount, net_amount, is_over_reversed, "
    "reporting_currency, fx_rate, fx_method, fx_rate_date, fx_rate_age_days, line_amount_reporting, "
    "signed_amount_reporting, reversed_amount_reporting, net_amount_reporting, is_missing_rate, source_table, batch_id"
)


@dataclass
class Order:
    """One order with sale lines, netted by order."""

    order_id: str
    customer_id: str | None
    ordered_at: dt.datetime
    order_date: dt.date
    status: str
    currency: str
    line_count: int
    quantity: int
    cancelled: int
    returned: int
    gross: Decimal
    reversed_amount: Decimal
    gross_reporting: Decimal
    reversed_reporting: Decimal
    missing_rate_lines: int
    over: bool
    last_reversed_at: dt.datetime | None


def orders(netted: Netted, zone: ZoneInfo) -> list[Order]:
    """The orders of fct_orders."""
    by_order: dict[str, list[Line]] = defaultdict(list)
    for line in netted.lines:
        if line.line_type == "sale":
            by_order[line.order_id].append(line)
    out = []
    for order_id, lines in by_order.items():
        first = min(lines, key=lambda s: (s.ordered_at, s.line_number))
        nets = [_line_netting(s) for s in lines]
        extra = netted.order_level.get(order_id, [])
        cancelled = sum(n["cancelled"] for n in nets) + sum(q for k, q, *_ in extra if k == "cancellation")
        returned = sum(n["returned"] for n in nets) + sum(q for k, q, *_ in extra if k == "return")
        fully_cancelled = all(n["cancelled"] >= s.quantity for n, s in zip(nets, lines, strict=True))
        fully_reversed = all(n["cancelled"] + n["returned"] >= s.quantity for n, s in zip(nets, lines, strict=True))
        if fully_cancelled:
            status = "cancelled"
        elif fully_reversed and returned > 0:
            status = "returned"
        elif cancelled + returned > 0:
            status = "partially_reversed"
        else:
            status = "completed"
        times = [t for n in nets for t in [n["last_reversed_at"]] if t] + [t for *_, t in extra]
        out.append(
            Order(
                order_id,
                first.user_id,
                first.ordered_at,
                _local_date(first.ordered_at, zone),
                status,
                first.currency,
                len(lines),
                sum(s.quantity for s in lines),
                cancelled,
                returned,
                sum((s.line_amount for s in lines), ZERO),
                sum((n["reversed_amount"] for n in nets), ZERO) + sum((a for _, _, a, _, _ in extra), ZERO),
                _sum([s.amount_reporting for s in lines]),
                _sum([n["reversed_reporting"] for n in nets]) + _sum([r for *_, r, _ in extra]),
                sum(1 for s in lines if s.amount_reporting is None)
                + sum(n["missing_pieces"] for n in nets)
                + sum(1 for *_, r, _ in extra if r is None),
                any(n["over"] for n in nets) or bool(extra),
                max(times, default=None),
            )
        )
    return out


def order_rows(netted: Netted, zone: ZoneInfo) -> list[tuple]:
    """Rows of fct_orders (without surrogate keys), in the model's column order."""
    return [
        (
            o.order_id,
            o.customer_id,
            o.ordered_at,
            o.order_date,
            o.status,
            o.currency,
            o.line_count,
            o.quantity,
            o.cancelled,
            o.returned,
            o.quantity - o.cancelled - o.returned,
            o.gross,
            o.reversed_amount,
            o.gross - o.reversed_amount,
            netted.reporting,
            o.gross_reporting,
            o.reversed_reporting,
            o.gross_reporting - o.reversed_reporting,
            o.missing_rate_lines,
            o.over,
            o.last_reversed_at,
        )
        for o in orders(netted, zone)
    ]


ORDER_COLUMNS = (
    "order_id, customer_id, ordered_at, order_date, order_status, currency, line_count, quantity, "
    "cancelled_quantity, returned_quantity, net_quantity, gross_amount, reversed_amount, net_amount, "
    "reporting_currency, gross_amount_reporting, reversed_amount_reporting, net_amount_reporting, "
    "missing_rate_lines, is_over_reversed, last_reversed_at"
)


def daily_revenue(netted: Netted) -> list[tuple]:
    """Rows of rpt_daily_revenue, in the model's column order."""
    days: dict[dt.date, list[Line]] = defaultdict(list)
    for line in netted.lines:
        days[line.activity_date].append(line)
    out = []
    for day, lines in days.items():
        sales = [s for s in lines if s.line_type == "sale"]
        reversals = [r for r in lines if r.line_type != "sale"]
        gross = _sum([s.amount_reporting for s in sales])
        cancelled = _sum(
            [r.amount_reporting for r in reversals if r.line_type == "cancellation" and not r.is_credit_note]
        )
        returned = _sum([r.amount_reporting for r in reversals if r.line_type == "return" and not r.is_credit_note])
        credit = _sum([r.amount_reporting for r in reversals if r.is_credit_note])
        out.append(
            (
                day,
                netted.reporting,
                len({s.order_id for s in sales}),
                len({s.order_id for s in sales if s.user_id is None}),
                len(sales),
                len(reversals),
                sum(s.quantity for s in sales),
                sum(r.quantity for r in reversals),
                gross,
                cancelled,
                returned,
                credit,
                gross - cancelled - returned - credit,
                sum(1 for line in lines if line.amount_reporting is None),
            )
        )
    return out


def _customer_days(netted: Netted, zone: ZoneInfo) -> dict[tuple[str, dt.date], list[Order]]:
    days: dict[tuple[str, dt.date], list[Order]] = defaultdict(list)
    for o in orders(netted, zone):
        if o.customer_id is not None and o.status != "cancelled":
            days[(o.customer_id, o.order_date)].append(o)
    return days


def same_day_repeat_purchases(netted: Netted, zone: ZoneInfo) -> list[tuple]:
    """Rows of fct_same_day_repeat_purchases (without customer_key), in the model's column order."""
    out = []
    for (customer, day), day_orders in _customer_days(netted, zone).items():
        if len(day_orders) > 1:
            out.append(
                (
                    customer,
                    day,
                    len(day_orders),
                    sum(o.line_count for o in day_orders),
                    sum(o.quantity for o in day_orders),
                    sum(o.quantity - o.cancelled - o.returned for o in day_orders),
                    sum((o.gross_reporting for o in day_orders), ZERO),
                    sum((o.gross_reporting - o.reversed_reporting for o in day_orders), ZERO),
                    sum(o.missing_rate_lines for o in day_orders),
                    min(o.ordered_at for o in day_orders),
                    max(o.ordered_at for o in day_orders),
                )
            )
    return out


REPEAT_COLUMNS = (
    "customer_id, purchase_date, order_count, line_count, total_quantity, net_quantity, gross_amount, net_amount, "
    "missing_rate_lines, first_ordered_at, last_ordered_at"
)


def resolve_country(raw: str | None, countries: list[dict], aliases: list[dict]) -> tuple[str | None, str]:
    """(alpha2, status) of a delivered country text: codes, then aliases, then ISO names."""
    text = " ".join((raw or "").split()).upper()
    if not text:
        return None, "missing"
    for column in ("alpha2", "alpha3"):
        for c in countries:
            if c[column].upper() == text:
                return c["alpha2"].upper(), "valid"
    for a in aliases:
        if " ".join(a["alias"].split()).upper() == text:
            return a["alpha2"].upper(), "alias"
    for c in countries:
        if " ".join(c["name"].split()).upper() == text:
            return c["alpha2"].upper(), "alias"
    return None, "unknown"


def customers(lake: CommerceLake, countries: list[dict], aliases: list[dict]) -> list[tuple]:
    """Rows of dim_customers (customer_id, country_raw, country_code, country_status)."""
    out = []
    for user_id, user in lake.users.items():
        code, status = resolve_country(user.get("country_code"), countries, aliases)
        out.append((user_id, user.get("country_code"), code, status))
    return out


def customer_purchase_summary(
    lake: CommerceLake, netted: Netted, zone: ZoneInfo, countries: list[dict], aliases: list[dict]
) -> list[tuple]:
    """Rows of dim_customer_purchase_summary (without customer_key), in the model's column order."""
    per_customer: dict[str, list[Order]] = defaultdict(list)
    for o in orders(netted, zone):
        if o.customer_id is not None:
            per_customer[o.customer_id].append(o)
    credit_notes: dict[str, list[Line]] = defaultdict(list)
    for line in netted.lines:
        if line.is_credit_note and line.user_id is not None:
            credit_notes[line.user_id].append(line)
    days = _customer_days(netted, zone)
    out = []
    for customer in per_customer.keys() | credit_notes.keys():
        own, notes = per_customer.get(customer, []), credit_notes.get(customer, [])
        active_days = sorted(d for c, d in days if c == customer)
        user = lake.users.get(customer)
        code, status = resolve_country(user["country_code"], countries, aliases) if user else (None, "missing")
        gross = sum((o.gross_reporting for o in own), ZERO)
        reversed_amount = sum((o.reversed_reporting for o in own), ZERO)
        credit = _sum([n.amount_reporting for n in notes])
        out.append(
            (
                customer,
                code,
                status,
                sum(1 for o in own if o.status != "cancelled"),
                sum(1 for o in own if o.status == "cancelled"),
                sum(o.line_count for o in own),
                sum(o.quantity - o.cancelled - o.returned for o in own) - sum(n.quantity for n in notes),
                gross,
                reversed_amount,
                credit,
                gross - reversed_amount - credit,
                sum(o.missing_rate_lines for o in own) + sum(1 for n in notes if n.amount_reporting is None),
                min((o.ordered_at for o in own), default=None),
                max((o.ordered_at for o in own), default=None),
                active_days[0] if active_days else None,
                active_days[-1] if active_days else None,
                len(active_days),
                sum(1 for d in active_days if len(days[(customer, d)]) > 1),
            )
        )
    return out


SUMMARY_COLUMNS = (
    "customer_id, country_code, country_status, order_count, cancelled_order_count, line_count, net_quantity, "
    "gross_amount, reversed_amount, credit_note_amount, net_amount, missing_rate_lines, first_ordered_at, "
    "last_ordered_at, first_order_date, last_order_date, order_days, repeat_order_days"
)
