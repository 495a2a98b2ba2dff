"""The serving layer: publish a complete, checked build to a read-only DuckDB file and Parquet, atomically."""

from shop_analytics.publish.errors import (
    BuildFileLockedError,
    BuildIncompleteError,
    ChecksFailedError,
    PublishError,
    PublishLockedError,
    RollbackError,
)
from shop_analytics.publish.layout import ServingLayout
from shop_analytics.publish.publisher import (
    DEFAULT_KEEP,
    CheckedBuild,
    Publication,
    check_build,
    publish,
    read_publication,
    rollback,
    status,
)
from shop_analytics.publish.reader import (
    SAFE_READER_CONFIG,
    ReaderLimits,
    connect_serving,
    default_duckdb_bin,
    shell_command,
    sqlalchemy_connect_args,
    sqlalchemy_url,
)
from shop_analytics.warehouse import default_build_file

__all__ = [
    "DEFAULT_KEEP",
    "SAFE_READER_CONFIG",
    "BuildFileLockedError",
    "BuildIncompleteError",
    "CheckedBuild",
    "ChecksFailedError",
    "Publication",
    "PublishError",
    "PublishLockedError",
    "ReaderLimits",
    "RollbackError",
    "ServingLayout",
    "check_build",
    "connect_serving",
    "default_build_file",
    "default_duckdb_bin",
    "publish",
    "read_publication",
    "rollback",
    "shell_command",
    "sqlalchemy_connect_args",
    "sqlalchemy_url",
    "status",
]
