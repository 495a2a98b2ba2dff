"""Errors of the publish step: each one says what went wrong and what to do."""

from __future__ import annotations

from shop_analytics.warehouse.errors import BuildFileLockedError, BuildIncompleteError


class PublishError(RuntimeError):
    """Publishing or rolling back could not be done; nothing visible to readers changed."""


class PublishLockedError(PublishError):
    """Another publish or rollback holds the publish lock."""


class RollbackError(PublishError):
    """The requested rollback is not possible (no such kept version, or it is already served)."""


class ChecksFailedError(PublishError):
    """Post-build checks found problems; the report lists them."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


__all__ = [
    "BuildFileLockedError",
    "BuildIncompleteError",
    "ChecksFailedError",
    "PublishError",
    "PublishLockedError",
    "RollbackError",
]
