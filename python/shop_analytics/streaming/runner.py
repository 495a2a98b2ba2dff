"""Run an aggregator over a source in batch, micro-batch or streaming mode.

- batch: one state, one update per record batch (one pass over all data);
- micro_batch: one state per micro-batch (per Parquet file, or every N rows),
  merged into the running total after each micro-batch;
- streaming: one state, one update per single record.

All three go through the same ``init / update / merge / finalize`` path, so
for exact aggregates and for Bloom/HLL sketches the results are identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeVar

from tqdm.auto import tqdm

from shop_analytics.streaming.protocol import Aggregator
from shop_analytics.streaming.readers import BatchInput, count_rows, iter_batches, iter_micro_batches

S = TypeVar("S")
R = TypeVar("R")
Mode = Literal["batch", "micro_batch", "streaming"]


def run(
    agg: Aggregator[S, R],
    source: BatchInput,
    *,
    mode: Mode = "batch",
    batch_rows: int = 65_536,
    micro_batch_rows: int | None = None,
    columns: Sequence[str] | None = None,
    progress: bool | None = None,
    desc: str | None = None,
) -> R:
    """Aggregate a source and return ``agg.finalize(state)``.

    progress=None shows a tqdm bar only on a terminal (tqdm's disable=None).
    """
    total = count_rows(source)
    bar = tqdm(
        total=total,
        unit="rows",
        unit_scale=True,
        desc=desc or type(agg).__name__,
        disable=None if progress is None else not progress,
        leave=False,
    )
    try:
        if mode == "batch":
            state = agg.init()
            for batch in iter_batches(source, batch_rows, columns):
                state = agg.update(state, batch)
                bar.update(batch.num_rows)
        elif mode == "micro_batch":
            state = agg.init()
            for micro in iter_micro_batches(source, batch_rows, micro_batch_rows, columns):
                part = agg.init()
                for batch in micro:
                    part = agg.update(part, batch)
                    bar.update(batch.num_rows)
                state = agg.merge(state, part)
        elif mode == "streaming":
            state = agg.init()
            for batch in iter_batches(source, batch_rows, columns):
                for i in range(batch.num_rows):
                    state = agg.update(state, batch.slice(i, 1))
                bar.update(batch.num_rows)
        else:
            raise ValueError(f"mode must be 'batch', 'micro_batch' or 'streaming', got {mode!r}")
    finally:
        bar.close()
    return agg.finalize(state)
