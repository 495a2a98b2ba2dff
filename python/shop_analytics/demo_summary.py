"""Print what the pipeline built and how to look at it (the end of `make demo`)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import duckdb

from shop_analytics.paths import DataLayout

SAMPLE_QUERY = ("SELECT country_code, count(*) AS users FROM staging.stg_shop__users "
                "GROUP BY ALL ORDER BY users DESC LIMIT 5;")


def summary(warehouse: Path, layout: DataLayout) -> str:
    """A readable summary of the warehouse's relations with row counts, plus next steps."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        relations = con.execute(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            "WHERE table_schema NOT IN ('information_schema', 'pg_catalog') ORDER BY 1, 2").fetchall()
        lines = [f"Built {warehouse}:"]
        for schema, name, kind in relations:
            rows = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
            lines.append(f"  {schema}.{name:<40} {kind.lower():<10} {rows:>12,} rows")
    finally:
        con.close()
    duckdb_bin = Path(sys.executable).with_name("duckdb")
    lines += [
        "",
        f"Lake: {layout.lake}   Quarantine (rejected rows with reasons): {layout.quarantine}",
        "",
        "Next: open the warehouse read-only in the DuckDB shell and try a query:",
        f"  {shlex.quote(str(duckdb_bin.relative_to(Path.cwd()) if duckdb_bin.is_relative_to(Path.cwd()) else duckdb_bin))}"
        f" -readonly {shlex.quote(os.path.relpath(warehouse))}",
        f"  D {SAMPLE_QUERY}",
        "Close the shell before the next `make demo` or `dbt build`: DuckDB allows one writer or many readers.",
    ]
    return "\n".join(lines)


def main() -> int:
    """Print the summary for the warehouse named by $SHOP_ANALYTICS_WAREHOUSE."""
    warehouse = Path(os.environ.get("SHOP_ANALYTICS_WAREHOUSE", "warehouse/shop_analytics.duckdb"))
    if not warehouse.exists():
        print(f"no warehouse at {warehouse}; run `make demo`", file=sys.stderr)
        return 1
    print(summary(warehouse, DataLayout.from_env()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
