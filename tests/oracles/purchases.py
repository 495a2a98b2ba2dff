"""Purchase marts computed in plain Python from the lake."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from oracles.lake import Lake, local_date


def _customer_days(lake: Lake, zone: dt.tzinfo) -> dict[tuple[int, dt.date], list[dict]]:
    days: dict[tuple[int, dt.date], list[dict]] = defaultdict(list)
    for row in lake.purchases:
        if row["user_id"] is not None:
            days[(row["user_id"], local_date(row["purchased_at"], zone))].append(row)
    return days


def same_day_repeat_purchases(lake: Lake, zone: dt.tzinfo) -> list[tuple]:
    """Rows of fct_same_day_repeat_purchases, in the model's column order."""
    out = []
    for (customer, day), rows in _customer_days(lake, zone).items():
        if len(rows) > 1:
            times = [r["purchased_at"] for r in rows]
            out.append(
                (
                    customer,
                    day,
                    len(rows),
                    sum(r["quantity"] for r in rows),
                    sum(r["amount"] for r in rows),
                    min(times),
                    max(times),
                )
            )
    return out


def customer_purchase_summary(lake: Lake, zone: dt.tzinfo) -> list[tuple]:
    """Rows of dim_customer_purchase_summary, in the model's column order."""
    per_customer: dict[int, list[tuple[dt.date, list[dict]]]] = defaultdict(list)
    for (customer, day), rows in _customer_days(lake, zone).items():
        per_customer[customer].append((day, rows))
    out = []
    for customer, days in per_customer.items():
        rows = [r for _, day_rows in days for r in day_rows]
        amounts = [r["amount"] for r in rows]
        times = [r["purchased_at"] for r in rows]
        total = sum(amounts)
        user = lake.users.get(customer)
        out.append(
            (
                customer,
                user["country_code"] if user else None,
                len(rows),
                sum(r["quantity"] for r in rows),
                total,
                min(amounts),
                max(amounts),
                float(total) / len(rows),
                min(times),
                max(times),
                min(d for d, _ in days),
                max(d for d, _ in days),
                len(days),
                sum(1 for _, day_rows in days if len(day_rows) > 1),
            )
        )
    return out
