"""The serving layer: publish the marts to a read-only DuckDB file and Parquet, atomically and versioned."""

from shop_analytics.publish.checks import (Check, CheckResult, FiniteFloatingColumns, NonEmptyTables, SqlCheck,
                                           default_checks, load_checks)
from shop_analytics.publish.errors import BuildFileLockedError, ChecksFailedError, PublishError
from shop_analytics.publish.layout import ServingLayout, default_build_file
from shop_analytics.publish.publisher import DEFAULT_KEEP, Publication, publish, read_publication, rollback, status
from shop_analytics.publish.reader import (SAFE_READER_CONFIG, connect_serving, shell_command,
                                           sqlalchemy_connect_args, sqlalchemy_url)

__all__ = [
    "DEFAULT_KEEP", "SAFE_READER_CONFIG", "BuildFileLockedError", "Check", "CheckResult", "ChecksFailedError",
    "FiniteFloatingColumns", "NonEmptyTables", "Publication", "PublishError", "ServingLayout", "SqlCheck",
    "connect_serving", "default_build_file", "default_checks", "load_checks", "publish", "read_publication",
    "rollback", "shell_command", "sqlalchemy_connect_args", "sqlalchemy_url", "status",
]
