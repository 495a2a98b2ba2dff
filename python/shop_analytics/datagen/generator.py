"""Plans and writes a landing folder: batches of hive-partitioned files plus a manifest.

Layout: ``<out>/<source>/batch_date=YYYY-MM-DD/part-NNNNN.<ext>``, a ``_SUCCESS``
marker per batch folder written after its files, and ``<out>/_manifest.json``. Fact sources
get one batch per calendar month; dimensions are a single snapshot batch. Each chunk is generated from its own
seed, so output is byte-identical for the same config, in any worker order.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from shop_analytics.datagen.config import GeneratorConfig
from shop_analytics.datagen.dirty import inject, null_masks_for
from shop_analytics.datagen.distributions import TimeSampler, month_starts, period_weights, split_total
from shop_analytics.datagen.entities import Population, items_table, users_table
from shop_analytics.datagen.events import GENERATORS
from shop_analytics.quality.raw_contract import ALL_SOURCES, COMPLETION_MARKER, DIMENSIONS, FACTS, Source

MANIFEST_NAME = "_manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ChunkTask:
    """One output file: which rows of which batch of which source."""

    source: str
    batch_index: int
    chunk_index: int
    first_id: int
    rows: int
    path: str


@dataclass
class ChunkResult:
    """What a written chunk contained, for the manifest."""

    source: str
    rows: int
    counts: dict[str, int]


def plan(config: GeneratorConfig) -> list[ChunkTask]:
    """Every chunk to write, in deterministic order."""
    ext = config.file_format
    tasks: list[ChunkTask] = []
    for source in DIMENSIONS:
        tasks += _chunks(config, source.name, 0, config.start.isoformat(), config.rows(source.name), 1, ext)
    bounds = month_starts(config.start, config.end)
    weights = period_weights(bounds, config.start, config.end)
    for source in FACTS:
        if source.name not in GENERATORS:  # contract v2 sources this generator does not write yet
            continue
        first_id = 1
        for b, n in enumerate(split_total(config.rows(source.name), weights)):
            tasks += _chunks(config, source.name, b, bounds[b].isoformat(), int(n), first_id, ext)
            first_id += int(n)
    return tasks


def _chunks(
    config: GeneratorConfig, source: str, batch: int, batch_date: str, rows: int, first_id: int, ext: str
) -> list[ChunkTask]:
    n_chunks = max(1, math.ceil(rows / config.chunk_rows))
    out = []
    for c in range(n_chunks):
        lo = c * config.chunk_rows
        n = min(config.chunk_rows, rows - lo)
        if n <= 0:
            break
        path = f"{source}/batch_date={batch_date}/part-{c:05d}.{ext}"
        out.append(ChunkTask(source, batch, c, first_id + lo, n, path))
    return out


@lru_cache(maxsize=2)
def _population(config: GeneratorConfig) -> Population:
    # Cached per process: workers build it once, not once per chunk.
    return Population.build(config)


def build_chunk(config: GeneratorConfig, task: ChunkTask) -> tuple[pa.Table, dict[str, int]]:
    """Generate one chunk's rows as an Arrow table, with its ground-truth counts."""
    pop = _population(config)
    if task.source == "users":
        return users_table(config, pop, task.first_id, task.first_id + task.rows), {}
    if task.source == "items":
        return items_table(config, pop, task.first_id, task.first_id + task.rows), {}
    source = next(s for s in FACTS if s.name == task.source)
    source_index = [s.name for s in ALL_SOURCES].index(source.name)
    rng = np.random.default_rng([config.seed, source_index, task.batch_index, task.chunk_index])
    bounds = month_starts(config.start, config.end)
    times = TimeSampler.for_period(bounds[task.batch_index], bounds[task.batch_index + 1])
    ids = np.arange(task.first_id, task.first_id + task.rows, dtype=np.int64)
    cols, counts = GENERATORS[source.name](config, pop, rng, times, ids)
    masks = null_masks_for(source, cols)
    counts |= inject(config, pop, source, cols, rng, times, masks)
    # Rows come out in event-time order except the injected late and broken ones.
    return _to_arrow(source, cols, masks), counts


def _to_arrow(source: Source, cols: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> pa.Table:
    arrays = {}
    for name, values in cols.items():
        mask = masks.get(name)
        arrays[name] = pa.array(values, mask=mask)
    time_column = source.fact_column("event_time")
    arrays[time_column] = arrays[time_column].cast(pa.timestamp("us"))
    return pa.Table.from_arrays([arrays[f.name] for f in source.legacy_schema], schema=source.legacy_schema)


def _write_chunk(config: GeneratorConfig, root: str, task: ChunkTask) -> ChunkResult:
    table, counts = build_chunk(config, task)
    path = os.path.join(root, task.path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if config.file_format == "parquet":
        # Dictionary-encode only strings: on ids and timestamps it costs time and saves nothing.
        strings = [f.name for f in table.schema if pa.types.is_string(f.type)]
        pq.write_table(table, path, compression="snappy", use_dictionary=strings, row_group_size=256 * 1024)
    else:
        pacsv.write_csv(table, path)
    return ChunkResult(task.source, task.rows, counts)


def _run(config: GeneratorConfig, root: Path, tasks: list[ChunkTask], workers: int) -> Iterator[ChunkResult]:
    if workers <= 1:
        for task in tasks:
            yield _write_chunk(config, str(root), task)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # map keeps task order, so the manifest is the same whatever finishes first.
        yield from pool.map(_write_chunk, [config] * len(tasks), [str(root)] * len(tasks), tasks, chunksize=1)


def generate(
    config: GeneratorConfig, out: Path, *, workers: int = 1, overwrite: bool = False, progress: bool | None = None
) -> dict[str, Any]:
    """Write the landing folder for `config` into `out` and return its manifest.

    Files are written to a sibling ``<out>.partial`` folder and renamed into place
    at the end, so an interrupted run never leaves a half-written landing folder.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty; pass overwrite=True (--overwrite) to replace it")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    tasks = plan(config)
    manifest = _empty_manifest(config)
    total = sum(t.rows for t in tasks)
    with tqdm(total=total, unit="rows", unit_scale=True, desc="generate", disable=_no_bar(progress)) as bar:
        for task, result in zip(tasks, _run(config, partial, tasks, workers), strict=True):
            _add(manifest["sources"][result.source], task, result)
            bar.update(result.rows)
    # The completion marker goes in last, once every file of the batch is complete (docs/raw_data_contract.md).
    for folder in sorted({os.path.dirname(t.path) for t in tasks}):
        (partial / folder / COMPLETION_MARKER).touch()
    (partial / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return manifest


def _no_bar(progress: bool | None) -> bool | None:
    # None lets tqdm decide: a bar on a terminal, silence in logs.
    return None if progress is None else not progress


def _empty_manifest(config: GeneratorConfig) -> dict[str, Any]:
    cfg = asdict(config)
    cfg["start"], cfg["end"] = config.start.isoformat(), config.end.isoformat()
    return {
        "manifest_version": MANIFEST_VERSION,
        "config": cfg,
        "layout": "<source>/batch_date=YYYY-MM-DD/part-NNNNN." + config.file_format,
        "sources": {s.name: {"rows": 0, "files": 0, "batches": {}, "counts": {}} for s in ALL_SOURCES},
    }


def _add(entry: dict[str, Any], task: ChunkTask, result: ChunkResult) -> None:
    entry["rows"] += result.rows
    entry["files"] += 1
    batch = task.path.split("/")[1].split("=")[1]
    entry["batches"][batch] = entry["batches"].get(batch, 0) + result.rows
    for key, value in result.counts.items():
        entry["counts"][key] = entry["counts"].get(key, 0) + int(value)


def read_manifest(landing: Path) -> dict[str, Any]:
    """Load the manifest of a generated landing folder."""
    path = Path(landing) / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"no {MANIFEST_NAME} in {landing}: was it made by `shop-analytics generate`?")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest
