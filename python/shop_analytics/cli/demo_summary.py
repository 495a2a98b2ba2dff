"""Print what the pipeline published and how to look at it (the end of `make demo`)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

from shop_analytics.publish import ServingLayout, connect_serving, sqlalchemy_connect_args, sqlalchemy_url
from shop_analytics.settings import DataLayout

FALLBACK_QUERY = "SELECT table_schema, table_name, row_count FROM _publication ORDER BY ALL;"


def _shown(path: Path) -> str:
    """A path relative to the working folder when it lies below it, for copy-paste."""
    return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)


def summary(serving: ServingLayout, layout: DataLayout) -> str:
    """A readable summary of the published serving file and exports, plus how to open them."""
    with connect_serving(serving.serving_file) as con:
        rows = con.execute(
            "SELECT version, published_at, git_revision, table_schema, table_name, row_count "
            "FROM _publication ORDER BY table_schema, table_name"
        ).fetchall()
    version, published_at, revision = rows[0][:3] if rows else ("?", "?", "?")
    lines = [f"Published version {version} ({published_at} UTC, git {str(revision)[:12]}) to {serving.serving_file}:"]
    lines += [f"  {schema}.{name:<44} {count:>12,} rows" for *_, schema, name, count in rows]
    marts = [(schema, name) for *_, schema, name, _ in rows if schema == "marts"]
    sample = f"SELECT * FROM marts.{marts[0][1]} LIMIT 10;" if marts else FALLBACK_QUERY
    shell = [_shown(Path(sys.executable).with_name("shop-analytics")), "shell"]
    if serving.root != ServingLayout.from_env().root:
        shell += ["--serving-root", _shown(serving.root)]
    engine_config = json.dumps({"connect_args": sqlalchemy_connect_args()})
    lines += [
        "",
        (
            f"Parquet exports: {_shown(serving.exports_current)}/<schema>/<table>.parquet "
            f"(-> {os.readlink(serving.exports_current) if serving.exports_current.is_symlink() else 'none'})"
        ),
        f"Lake: {layout.lake}   Quarantine (rejected rows with reasons): {layout.quarantine}",
        "",
        "Open the serving file in the DuckDB shell: read-only, safe mode (no files, no .open/.sh/.read),",
        "memory and spill bounded, spill outside serving/ (docs/serving.md, 'Safe readers'):",
        "  " + shlex.join(shell),
        f"  D {sample}",
        "Connect a BI tool to the same file, read-only (README, 'Connect a BI tool'), e.g. Superset:",
        f"  SQLAlchemy URI {sqlalchemy_url(serving.serving_file)}",
        f"  engine parameters {engine_config}",
        "Readers never block the next `make demo`: dbt writes the build file, `shop-analytics publish` swaps",
        "in a new serving file atomically, and open connections keep reading the version they opened.",
    ]
    return "\n".join(lines)


def main() -> int:
    """Print the summary for the serving file next to $SHOP_ANALYTICS_WAREHOUSE."""
    serving = ServingLayout.from_env()
    if not serving.serving_file.exists():
        print(
            f"no serving file at {serving.serving_file}; run `make demo` (or `shop-analytics publish`)", file=sys.stderr
        )
        return 1
    print(summary(serving, DataLayout.from_env()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
