"""Helpers shared by the tests of `shop-analytics import`: mapping files, running the importer, reading batches."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from shop_analytics.importing import ImportResult, import_file
from support.pipeline import ROOT

EXAMPLES = ROOT / "examples"
RETAIL_CSV = EXAMPLES / "data" / "retail_invoice_lines.csv"
RETAIL_MAPPING = EXAMPLES / "mappings" / "retail_invoice_lines.yml"


def write_mapping(folder: Path, doc: dict[str, Any], name: str = "mapping.yml") -> Path:
    """Write `doc` as a YAML mapping file in `folder`."""
    path = folder / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def ratings_doc(**extra: Any) -> dict[str, Any]:
    """A minimal ratings mapping for a file with columns user,item,stars,ts."""
    doc: dict[str, Any] = {
        "source": "ratings",
        "columns": {"user_id": "user", "item_id": "item", "rating": "stars", "rated_at": "ts"},
        "derive": {"rating_id": "row_number"},
    }
    doc.update(extra)
    return doc


def run_import(tmp: Path, input_file: Path, doc: dict[str, Any], batch_id: str = "b1") -> ImportResult:
    """Import `input_file` with mapping `doc` into tmp/landing (source from the mapping)."""
    mapping = write_mapping(tmp, doc)
    return import_file(input_file, mapping, doc["source"], tmp / "landing", batch_id)


def batch_rows(folder: Path) -> list[dict[str, Any]]:
    """The rows of a written batch, as the JSON objects in its data file."""
    return [json.loads(line) for line in (folder / "part-0.json").read_text(encoding="utf-8").splitlines()]


def batch_settings(folder: Path) -> dict[str, Any]:
    """The batch's _batch.yml."""
    return dict(yaml.safe_load((folder / "_batch.yml").read_text(encoding="utf-8")))


def retail_rows() -> list[dict[str, str]]:
    """The retail example export, parsed by Python's csv module."""
    with RETAIL_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def retail_lines_oracle() -> list[dict[str, Any]]:
    """The retail export converted by hand (csv, Decimal, datetime): the order_lines batch the mapping must give."""
    seen: dict[str, int] = {}
    expected = []
    for line in retail_rows():
        order = line["InvoiceNo"]
        seen[order] = seen.get(order, 0) + 1
        quantity = int(line["Quantity"])
        reversal = order.startswith("C") or quantity < 0
        amount = abs(quantity) * Decimal(line["UnitPrice"])
        at = dt.datetime.strptime(line["InvoiceDate"], "%m/%d/%Y %H:%M")
        expected.append(
            {
                "order_id": order,
                "line_number": str(seen[order]),
                "ordered_at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                "user_id": line["CustomerID"] or None,
                "item_id": line["StockCode"],
                "quantity": str(abs(quantity)),
                "unit_price": line["UnitPrice"],
                "line_amount": format(amount.normalize(), "f"),
                "currency": "GBP",
                "line_type": "cancellation" if reversal else "sale",
                "original_order_id": None,
                "original_line_number": None,
            }
        )
    return expected
