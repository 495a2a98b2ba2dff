"""Exit codes of the `shop-analytics` command, one meaning each (documented in docs/quality_gate.md
and docs/serving.md), so a scheduler can tell bad data from a broken machine."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a `shop-analytics` run ended with."""

    OK = 0
    # Data problems: the run did its job and found something wrong with the data.
    DATA_REJECTED = 1  # ingest: some batches rejected whole or refused (conflict, bad id, incomplete schema)
    USAGE = 2  # bad arguments or configuration (argparse uses 2 as well)
    QUARANTINE_THRESHOLD = 3  # ingest: a batch's quarantined share is over its threshold
    OPERATIONAL = 4  # disk full, permission denied, I/O error, a lock held by another process
    BUILD_INCOMPLETE = 5  # publish: the last `dbt build` did not finish with every model and test passing
    CHECKS_FAILED = 6  # check and publish: a post-build check failed (publish then publishes nothing)
