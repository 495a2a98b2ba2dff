"""Why the build file cannot be used yet: each error says what to run."""

from __future__ import annotations


class WarehouseError(RuntimeError):
    """The dbt build file cannot be read or used as it is."""


class BuildFileLockedError(WarehouseError):
    """The dbt build file is held open for writing (a `dbt build` is probably running)."""


class BuildIncompleteError(WarehouseError):
    """The build file's latest dbt invocations do not amount to a complete, passing `dbt build`."""
