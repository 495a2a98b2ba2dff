"""Failures of the machine rather than the data: they stop ingest with exit code OPERATIONAL (4)."""

from __future__ import annotations

import errno

import duckdb

# DuckDB reports a full disk, a missing permission or a held file lock as an IOException,
# and memory_limit as an OutOfMemoryException; corrupt input is an InvalidInputException.
OPERATIONAL_ERRORS: tuple[type[BaseException], ...] = (OSError, duckdb.IOException, duckdb.OutOfMemoryException)


class OperationalError(RuntimeError):
    """Ingest could not do its job (disk full, permission denied, I/O error, catalog locked); nothing was committed
    for the batch it names, and a re-run after fixing the cause converges."""


def describe(exc: BaseException) -> str:
    """One line for an operational error: the OS's wording and the file, or DuckDB's first line."""
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            what = "disk full (No space left on device)"
        return f"{what}: {exc.filename}" if exc.filename else what
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
