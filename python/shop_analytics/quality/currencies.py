"""ISO 4217 currencies and their minor units, from the currencies seed (seeds/currencies.csv)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

DEFAULT_SEED = Path("seeds/currencies.csv")
_CODE = re.compile(r"[A-Z]{3}")


def load_currencies(path: Path = DEFAULT_SEED) -> dict[str, int | None]:
    """Currency code -> minor units (None where ISO 4217 gives none, e.g. gold) from a currencies CSV."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"currencies seed {path} not found; pass the path to seeds/currencies.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"currency", "minor_units"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path} lacks column(s) {sorted(missing)} (columns: {reader.fieldnames})")
        out: dict[str, int | None] = {}
        for line, row in enumerate(reader, start=2):
            code, units = (row["currency"] or "").strip(), (row["minor_units"] or "").strip()
            if not _CODE.fullmatch(code) or not (units == "" or units.isdigit()):
                raise ValueError(f"{path} line {line}: expected a 3-letter code and a minor-unit digit, got {row}")
            out[code] = int(units) if units else None
    if not out:
        raise ValueError(f"{path} lists no currencies")
    return out
