"""Accepted country codes from the countries seed (seeds/countries.csv)."""

from __future__ import annotations

import csv
from pathlib import Path

DEFAULT_SEED = Path("seeds/countries.csv")


def load_country_codes(path: Path = DEFAULT_SEED) -> tuple[str, ...]:
    """The country_code column of a countries CSV (country_code,country_name,region), sorted."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"countries seed {path} not found; pass the path to seeds/countries.csv")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "country_code" not in reader.fieldnames:
            raise ValueError(f"{path} has no country_code column (columns: {reader.fieldnames})")
        codes = {row["country_code"].strip() for row in reader if row["country_code"].strip()}
    if not codes:
        raise ValueError(f"{path} lists no country codes")
    return tuple(sorted(codes))
