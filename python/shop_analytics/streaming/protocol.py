"""The aggregator contract shared by batch, micro-batch and streaming runs."""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

import pyarrow as pa

S = TypeVar("S")
R = TypeVar("R", covariant=True)


@runtime_checkable
class Aggregator(Protocol[S, R]):
    """A monoid over record batches: ``init / update(batch) / merge / finalize``.

    ``update`` and ``merge`` may mutate and return their first argument, so
    callers must always use the returned state. ``merge`` must be associative
    and ``init()`` its identity; then any split of the input into chunks,
    processed in order, gives the same result as one pass.
    """

    def init(self) -> S:
        """A fresh empty state."""
        ...

    def update(self, state: S, batch: pa.RecordBatch) -> S:
        """Fold one record batch into the state."""
        ...

    def merge(self, a: S, b: S) -> S:
        """Combine two states built on disjoint inputs."""
        ...

    def finalize(self, state: S) -> R:
        """Turn the state into the result."""
        ...
