"""Competitor: the row-at-a-time pure-Python generator style of the source documents.

One Python dict per row, `random` per field, csv.DictWriter per row. Used by
bench_generator.py on a sample to show what vectorized generation buys.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import random
import sys


def main(rows: int, out: str) -> None:
    """Write `rows` page views with Zipf items and heavy-tailed users to a CSV at `out`."""
    rng = random.Random(42)
    n_users, n_items = 50_000, 20_000
    item_weights = list(itertools.accumulate(1 / (k**1.1) for k in range(1, n_items + 1)))
    user_weights = list(itertools.accumulate(rng.lognormvariate(0, 1.3) for _ in range(n_users)))
    start = dt.datetime(2016, 1, 1)
    span = 3 * 365 * 86400
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["page_view_id", "viewed_at", "user_id", "item_id"])
        writer.writeheader()
        for i in range(rows):
            anonymous = rng.random() < 0.25
            writer.writerow(
                {
                    "page_view_id": i + 1,
                    "viewed_at": (start + dt.timedelta(seconds=rng.random() * span)).isoformat(sep=" "),
                    "user_id": "" if anonymous else rng.choices(range(1, n_users + 1), cum_weights=user_weights)[0],
                    "item_id": rng.choices(range(1, n_items + 1), cum_weights=item_weights)[0],
                }
            )


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
