"""The project's CLI and dbt as a benchmark runs them: its own data folder, warehouse and work folder."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def project_env(data: Path, warehouse: Path, work: Path, memory_limit: str) -> dict[str, str]:
    """Environment of a CLI or dbt run on `data`'s lake into `warehouse` (add it to os.environ)."""
    return {
        "SHOP_ANALYTICS_DATA_DIR": str(data),
        "SHOP_ANALYTICS_LAKE_DIR": str(data / "lake"),
        "SHOP_ANALYTICS_WAREHOUSE": str(warehouse),
        "SHOP_ANALYTICS_TEMP_DIR": str(work / "duckdb_tmp"),
        "SHOP_ANALYTICS_MEMORY_LIMIT": memory_limit,
        "SHOP_ANALYTICS_TARGET": "dev",
        "SHOP_ANALYTICS_DUCKDB_THREADS": "2",
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "GX_ANALYTICS_ENABLED": "false",
    }


def dbt_command(work: Path, *args: str) -> list[str]:
    """`dbt <args>` with its target and log folders in `work` (one target: partial parsing as for a user)."""
    return [str(BIN / "dbt"), *args, "--target-path", str(work / "target"), "--log-path", str(work / "logs")]


def cli_command(data: Path, *args: str) -> list[str]:
    """`shop-analytics --data-dir <data> <args>` in this interpreter."""
    return [sys.executable, "-m", "shop_analytics.cli", "--data-dir", str(data), *args]
