"""Hand-made contract v2 landing data for the gate tests: string keys, order lines, settings files.

The baseline holds customers '007', '7' and 'C-1' (leading zeros are significant) and
products '85123A', '00042' and '42', landed as CSV so the keys stay text. Tests land one
crafted batch next to it, run `shop-analytics ingest` in-process with their own
ingest.yml, and read the lake, the quarantine and the audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from support.handmade_landing import csv_bytes, land, run_cli

USERS = ("007", "7", "C-1")
ITEMS = ("85123A", "00042", "42")
ORDER_LINE_COLUMNS = (
    "order_id",
    "line_number",
    "ordered_at",
    "user_id",
    "item_id",
    "quantity",
    "unit_price",
    "line_amount",
    "currency",
    "line_type",
    "original_order_id",
    "original_line_number",
)


def write_config(root: Path, defaults: dict | None = None, sources: dict | None = None) -> Path:
    """An ingest.yml beside the data root; returns its path."""
    path = root.parent / f"{root.name}_ingest.yml"
    path.write_text(yaml.safe_dump({"defaults": defaults or {}, "sources": sources or {}}))
    return path


def ingest(root: Path, config: Path | None = None, *extra: str) -> tuple[int, str, str]:
    """`shop-analytics ingest` on `root` with `config` (default: an empty one, the documented defaults)."""
    config = config or write_config(root)
    return run_cli(root, "--config", str(config), *extra)


def build_v2_baseline(root: Path) -> None:
    """Customers and products with string keys, ingested."""
    land(
        root,
        "users",
        "2018-01-01",
        {
            "part-0.csv": csv_bytes(
                {"user_id": list(USERS), "country_code": ["GB", "EIRE", None], "signup_at": ["2017-01-01"] * 3}
            )
        },
    )
    land(
        root,
        "items",
        "2018-01-01",
        {
            "part-0.csv": csv_bytes(
                {
                    "item_id": list(ITEMS),
                    "category": ["books", None, "toys"],
                    "page_url_path": ["/a", "/b", "/c"],
                    "price": ["2.55", "100", None],
                    "created_at": ["2017-01-01"] * 3,
                    "name": ["WHITE HANGING HEART", None, None],
                    "price_currency": ["GBP", "JPY", None],
                }
            )
        },
    )
    code, out, err = ingest(root)
    assert code == 0, (out, err)


def items_columns(ids: Sequence[str]) -> dict[str, list[str | None]]:
    """Every contract v2 items column for products `ids` (attributes mostly missing, which v2 allows)."""
    n = len(ids)
    return {
        "item_id": list(ids),
        "category": ["books"] * n,
        "page_url_path": [None] * n,
        "price": [None] * n,
        "created_at": [None] * n,
        "name": [None] * n,
        "price_currency": [None] * n,
    }


def line(
    order_id: str,
    line_number: int | str,
    *,
    at: str = "2018-06-01T10:00:00",
    user: str | None = "007",
    item: str = "85123A",
    quantity: int | str = 1,
    unit_price: str = "2.55",
    amount: str | None = None,
    currency: str = "GBP",
    line_type: str = "sale",
    original_order_id: str | None = None,
    original_line_number: int | str | None = None,
) -> dict[str, str | None]:
    """One order line as CSV cells (None = empty); the amount defaults to the unit price."""
    return {
        "order_id": order_id,
        "line_number": str(line_number),
        "ordered_at": at,
        "user_id": user,
        "item_id": item,
        "quantity": str(quantity),
        "unit_price": unit_price,
        "line_amount": unit_price if amount is None else amount,
        "currency": currency,
        "line_type": line_type,
        "original_order_id": original_order_id,
        "original_line_number": None if original_line_number is None else str(original_line_number),
    }


def order_lines_csv(lines: Sequence[dict[str, str | None]]) -> bytes:
    """CSV bytes of order lines in the contract's column order."""
    return csv_bytes({c: [row[c] for row in lines] for c in ORDER_LINE_COLUMNS})


def land_lines(root: Path, batch_id: str, lines: Sequence[dict[str, str | None]], settings: dict | None = None) -> Path:
    """Land an order_lines batch (CSV), with a _batch.yml if `settings` is given."""
    files: dict = {"part-0.csv": order_lines_csv(lines)}
    if settings is not None:
        files["_batch.yml"] = yaml.safe_dump(settings).encode()
    return land(root, "order_lines", batch_id, files)
