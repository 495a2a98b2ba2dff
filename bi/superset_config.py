"""Superset settings for shop_analytics (loaded through SUPERSET_CONFIG_PATH by bi/ctl.py).

Everything Superset writes lives in one git-ignored state folder, $SHOP_ANALYTICS_BI_HOME (default
`.superset/` in the project): the SQLite metadata database, the generated secret key and the admin
password. Nothing here is a secret: the secret key is read from that folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import duckdb_reader

_home = os.environ.get("SHOP_ANALYTICS_BI_HOME")
if not _home:
    raise RuntimeError("SHOP_ANALYTICS_BI_HOME is not set: start Superset through `make bi` (bi/ctl.py)")
BI_HOME = Path(_home)

# Written once by `bi/ctl.py init` (0600); a missing key stops Superset rather than using a default one.
SECRET_KEY = (BI_HOME / "secret_key").read_text(encoding="utf-8").strip()
DATA_DIR = str(BI_HOME)
SQLALCHEMY_DATABASE_URI = f"sqlite:///{BI_HOME / 'superset.db'}?check_same_thread=false"
UPLOAD_FOLDER = str(BI_HOME / "uploads")

# No result cache: after `shop-analytics publish` a refreshed dashboard must show the new version.
# DuckDB answers these marts in milliseconds; the database is also provisioned with cache_timeout -1
# (Superset's "never cache"), so a cache configured here later still skips these charts.
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}

# Readers of the serving file spill into a private, capped folder per process (bi/duckdb_reader.py).
duckdb_reader.install()


def DB_CONNECTION_MUTATOR(
    url: Any, params: dict[str, Any], username: Any, security_manager: Any, source: Any
) -> tuple[Any, dict[str, Any]]:
    """Superset's hook before each engine is made: bound the spill of safe DuckDB readers."""
    return url, duckdb_reader.bound_params(url, params)


# Local, single-user set-up on 127.0.0.1: no uploads into the read-only serving file, no examples.
FEATURE_FLAGS = {"ALERT_REPORTS": False, "THUMBNAILS": False}
PREVENT_UNSAFE_DB_CONNECTIONS = True
SQLLAB_TIMEOUT = 60
SUPERSET_WEBSERVER_TIMEOUT = 120
ROW_LIMIT = 50_000
