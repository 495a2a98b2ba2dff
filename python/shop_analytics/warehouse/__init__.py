"""The dbt build file as the rest of the pipeline sees it: opened read-only, its relations, its build marker.

`shop-analytics check` and `shop-analytics publish` both start here; dbt is the only writer.
"""

from shop_analytics.warehouse.build_file import (
    META_SCHEMA,
    default_build_file,
    default_schemas,
    find_relations,
    missing_schemas,
    open_build_file,
)
from shop_analytics.warehouse.build_marker import BuildVerdict, Invocation, judge_build, read_invocations
from shop_analytics.warehouse.errors import BuildFileLockedError, BuildIncompleteError, WarehouseError
from shop_analytics.warehouse.relations import Relation

__all__ = [
    "META_SCHEMA",
    "BuildFileLockedError",
    "BuildIncompleteError",
    "BuildVerdict",
    "Invocation",
    "Relation",
    "WarehouseError",
    "default_build_file",
    "default_schemas",
    "find_relations",
    "judge_build",
    "missing_schemas",
    "open_build_file",
    "read_invocations",
]
