"""Readers that turn Parquet files, datasets, tables or DuckDB relations into record batches.

Every reader yields ``pa.RecordBatch`` objects of at most ``batch_rows``
rows, so memory stays bounded by the batch size whatever the input size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

BatchInput = Any  # str | Path | ds.Dataset | pa.Table | pa.RecordBatchReader | DuckDB relation | Iterable[RecordBatch]

# Small readahead: the scanner otherwise buffers many batches ahead of us.
_SCAN_OPTIONS = {"batch_readahead": 1, "fragment_readahead": 1}


def open_dataset(path: str | Path) -> ds.Dataset:
    """A Parquet dataset (single file or hive-partitioned directory)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no Parquet file or directory at {p}")
    return ds.dataset(str(p), format="parquet", partitioning="hive" if p.is_dir() else None)


def _is_relation(obj: object) -> bool:
    return type(obj).__name__ == "DuckDBPyRelation"


def _relation_reader(rel: Any, batch_rows: int) -> pa.RecordBatchReader:
    if hasattr(rel, "to_arrow_reader"):
        return rel.to_arrow_reader(batch_rows)
    return rel.fetch_record_batch(batch_rows)


def _slices(batch: pa.RecordBatch, batch_rows: int) -> Iterator[pa.RecordBatch]:
    if batch.num_rows <= batch_rows:
        if batch.num_rows:
            yield batch
        return
    for start in range(0, batch.num_rows, batch_rows):
        yield batch.slice(start, batch_rows)


def iter_batches(
    source: BatchInput,
    batch_rows: int = 65_536,
    columns: Sequence[str] | None = None,
    filter: ds.Expression | None = None,  # noqa: A002 - mirrors pyarrow's name
    use_threads: bool = True,
) -> Iterator[pa.RecordBatch]:
    """Yield record batches of at most batch_rows rows from any supported source.

    use_threads=False decodes Parquet on the calling thread only, for callers
    that already run one process per core.
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be >= 1, got {batch_rows}")
    cols = list(columns) if columns is not None else None
    if isinstance(source, (str, Path)):
        source = open_dataset(source)
    if isinstance(source, ds.Dataset):
        raw: Iterable[pa.RecordBatch] = source.to_batches(
            columns=cols, filter=filter, batch_size=max(batch_rows, 1024), use_threads=use_threads, **_SCAN_OPTIONS
        )
    elif isinstance(source, pa.Table):
        t = source.select(cols) if cols else source
        raw = t.to_batches(max_chunksize=batch_rows)
    elif isinstance(source, pa.RecordBatch):
        raw = [source.select(cols) if cols else source]
    elif isinstance(source, pa.RecordBatchReader):
        raw = source
    elif _is_relation(source):
        rel = source.select(*cols) if cols else source
        raw = _relation_reader(rel, batch_rows)
    elif isinstance(source, Iterable):
        raw = source
    else:
        raise TypeError(f"unsupported source type {type(source).__name__}")
    if filter is not None and not isinstance(source, ds.Dataset):
        raise ValueError("filter is only supported for Parquet paths and pyarrow datasets")
    for batch in raw:
        if cols and not isinstance(source, (ds.Dataset, pa.Table, pa.RecordBatch)) and not _is_relation(source):
            batch = batch.select(cols)
        yield from _slices(batch, batch_rows)


def iter_micro_batches(
    source: BatchInput,
    batch_rows: int = 65_536,
    micro_batch_rows: int | None = None,
    columns: Sequence[str] | None = None,
) -> Iterator[Iterator[pa.RecordBatch]]:
    """Yield micro-batches: one per Parquet file when micro_batch_rows is None, else every N rows."""
    if isinstance(source, (str, Path)):
        source = open_dataset(source)
    if micro_batch_rows is None:
        if not isinstance(source, ds.FileSystemDataset):
            raise ValueError("per-file micro-batches need a Parquet path or dataset; pass micro_batch_rows")
        for fragment in source.get_fragments():
            # A scanner over one fragment keeps the hive partition columns.
            scanner = ds.Scanner.from_fragment(
                fragment,
                schema=source.schema,
                columns=list(columns) if columns else None,
                batch_size=max(batch_rows, 1024),
                use_threads=True,
                **_SCAN_OPTIONS,
            )
            yield (s for b in scanner.to_batches() for s in _slices(b, batch_rows))
        return
    if micro_batch_rows < 1:
        raise ValueError(f"micro_batch_rows must be >= 1, got {micro_batch_rows}")
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in iter_batches(source, min(batch_rows, micro_batch_rows), columns):
        while batch.num_rows:
            take = min(batch.num_rows, micro_batch_rows - size)
            pending.append(batch.slice(0, take))
            size += take
            batch = batch.slice(take)
            if size == micro_batch_rows:
                yield iter(pending)
                pending, size = [], 0
    if pending:
        yield iter(pending)


def count_rows(source: BatchInput) -> int | None:
    """Row count when it is cheap to know (Parquet metadata, in-memory tables), else None."""
    if isinstance(source, (str, Path)):
        source = open_dataset(source)
    if isinstance(source, ds.Dataset):
        return int(source.count_rows())
    if isinstance(source, (pa.Table, pa.RecordBatch)):
        return int(source.num_rows)
    return None
