"""Helpers shared by the tests of `shop-analytics import`: mapping files, running the importer, reading batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from conftest import ROOT
from shop_analytics.importing import ImportResult, import_file

EXAMPLES = ROOT / "examples"


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
