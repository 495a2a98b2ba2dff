"""Errors of the publish step: each one says what went wrong and what to do."""

from __future__ import annotations


class PublishError(RuntimeError):
    """Publishing or rolling back could not be done; nothing visible to readers changed."""


class BuildFileLockedError(PublishError):
    """The dbt build file is held open for writing (a `dbt build` is probably running)."""


class ChecksFailedError(PublishError):
    """Post-build checks found problems; the report lists them."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report
