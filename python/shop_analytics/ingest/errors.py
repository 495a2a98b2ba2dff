"""Failures of the machine rather than the data: they stop ingest with exit code OPERATIONAL (4)."""

from __future__ import annotations

import errno

import duckdb

# DuckDB reports a full disk, a missing permission or a held file lock as an IOException, a
# catalog write that fails at COMMIT as a TransactionException ("Failed to commit: Could not
# write file ..."), and memory_limit as an OutOfMemoryException; corrupt input is an
# InvalidInputException, which is the data's fault.
_ALWAYS = (OSError, duckdb.IOException, duckdb.OutOfMemoryException, duckdb.FatalException)


class OperationalError(RuntimeError):
    """Ingest could not do its job (disk full, permission denied, I/O error, catalog locked). What was committed
    stays; what was not is rolled back by the next run, which then converges."""


def is_operational(exc: BaseException) -> bool:
    """True for errors of the machine (disk, permissions, I/O, locks, memory), not of the data or the code."""
    if isinstance(exc, _ALWAYS):
        return True
    return isinstance(exc, duckdb.TransactionException) and "Failed to commit" in str(exc)


def describe(exc: BaseException) -> str:
    """One line for an operational error: the OS's wording and the file, or DuckDB's first line."""
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            what = "disk full (No space left on device)"
        return f"{what}: {exc.filename}" if exc.filename else what
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
