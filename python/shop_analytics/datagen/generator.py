"""Plans and writes a landing folder: batches of hive-partitioned files plus a manifest.

Layout: ``<out>/<source>/batch_date=YYYY-MM-DD/part-NNNNN.<ext>``, an optional
``_batch.yml`` with the batch's ingest overrides, and a ``_SUCCESS`` marker per batch
folder written after its files; ``<out>/_manifest.json`` holds what was written and the
true count of every dirty row. Fact sources get one batch per calendar month (order-line
reversals dated in a later month go into that month's batch); dimensions are a single
snapshot batch. Each chunk is generated from its own seed, so output is byte-identical for
the same config, in any worker order.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from shop_analytics.datagen import keys
from shop_analytics.datagen.config import ORDER_LINE_DIRTY_KINDS, GeneratorConfig
from shop_analytics.datagen.dirty import applicable_kinds, inject, null_masks_for
from shop_analytics.datagen.distributions import (
    TimeSampler,
    date_to_micros,
    month_starts,
    period_weights,
    split_total,
)
from shop_analytics.datagen.entities import Population, items_table, users_table
from shop_analytics.datagen.events import GENERATORS
from shop_analytics.datagen.fx import LEAD_DAYS, RatePaths, published_days, rates_table
from shop_analytics.datagen.orders import order_lines
from shop_analytics.datagen.shapes import ALL_SOURCES, landing_schema, source_named
from shop_analytics.quality.raw_contract import COMPLETION_MARKER, Source

MANIFEST_NAME = "_manifest.json"
MANIFEST_VERSION = 2
BATCH_SETTINGS = "_batch.yml"
# Rows of history months weigh this much per day relative to the first regular month.
HISTORY_WEIGHT = 0.1


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of rows: which rows of which batch of which source, and its main file."""

    source: str
    batch_index: int
    chunk_index: int
    first_id: int
    rows: int
    path: str
    period: tuple[str, str]  # the batch's [first day, end day) in ISO format


@dataclass
class ChunkResult:
    """What a written chunk contained, for the manifest."""

    source: str
    rows: int
    counts: dict[str, int]
    files: list[tuple[str, int]] = field(default_factory=list)  # (path, rows) of each file written


def written_sources(config: GeneratorConfig) -> tuple[Source, ...]:
    """The sources `config` writes: every v2 source, plus `purchases` (v1) with legacy_purchases."""
    return tuple(s for s in ALL_SOURCES if s.name != "purchases" or config.legacy_purchases)


def _extension(config: GeneratorConfig, source: str) -> str:
    return "csv" if source == config.epoch_csv_source else config.file_format


def batch_periods(config: GeneratorConfig, source: str) -> list[dt.date]:
    """Month boundaries of `source`'s batches (the last is the exclusive end)."""
    regular = month_starts(config.start, config.end)
    first = config.source_start(source)
    return regular if first == config.start else month_starts(first, config.start)[:-1] + regular


def _batch_rows(config: GeneratorConfig, source: str, bounds: list[dt.date]) -> np.ndarray:
    """Rows per batch: growth and yearly seasonality, and a thin history before `start`."""
    history = [b for b in bounds[:-1] if b < config.start]
    regular = bounds[len(history) :]
    weights = period_weights(regular, config.start, config.end)
    if history:
        per_day = weights[0] / (regular[1] - regular[0]).days * HISTORY_WEIGHT
        days = np.array([(hi - lo).days for lo, hi in itertools.pairwise(bounds[: len(history) + 1])])
        weights = np.concatenate([days * per_day, weights])
    return split_total(config.rows(source), weights)


def plan(config: GeneratorConfig) -> list[ChunkTask]:
    """Every chunk to write, in deterministic order."""
    tasks: list[ChunkTask] = []
    for source in written_sources(config):
        ext = _extension(config, source.name)
        if not source.is_fact and source.name != "exchange_rates":
            period = (config.first_day.isoformat(), config.end.isoformat())
            tasks += _chunks(config, source.name, 0, period, config.rows(source.name), 1, ext)
            continue
        bounds = batch_periods(config, source.name)
        if source.name == "exchange_rates":
            # One small file per month; its size is known only when written.
            for b in range(len(bounds) - 1):
                period = (bounds[b].isoformat(), bounds[b + 1].isoformat())
                path = f"{source.name}/batch_date={period[0]}/part-00000.{ext}"
                tasks.append(ChunkTask(source.name, b, 0, 1, 0, path, period))
            continue
        first_id = 1
        for b, n in enumerate(_batch_rows(config, source.name, bounds)):
            period = (bounds[b].isoformat(), bounds[b + 1].isoformat())
            tasks += _chunks(config, source.name, b, period, int(n), first_id, ext)
            first_id += int(n)
    return tasks


def _chunks(
    config: GeneratorConfig, source: str, batch: int, period: tuple[str, str], rows: int, first_id: int, ext: str
) -> list[ChunkTask]:
    n_chunks = max(1, math.ceil(rows / config.chunk_rows))
    out = []
    for c in range(n_chunks):
        lo = c * config.chunk_rows
        n = min(config.chunk_rows, rows - lo)
        if n <= 0:
            break
        path = f"{source}/batch_date={period[0]}/part-{c:05d}.{ext}"
        out.append(ChunkTask(source, batch, c, first_id + lo, n, path, period))
    return out


@lru_cache(maxsize=2)
def _population(config: GeneratorConfig) -> Population:
    # Cached per process: workers build it once, not once per chunk.
    return Population.build(config)


@lru_cache(maxsize=2)
def _rates(config: GeneratorConfig) -> tuple[RatePaths, np.ndarray]:
    paths = RatePaths.build(config)
    return paths, published_days(config, paths)


def build_chunk(config: GeneratorConfig, task: ChunkTask) -> tuple[pa.Table, dict[str, int]]:
    """Generate one chunk's rows as an Arrow table, with its ground-truth counts."""
    pop = _population(config)
    if task.source == "users":
        return users_table(config, pop, task.first_id, task.first_id + task.rows)
    if task.source == "items":
        return items_table(config, pop, task.first_id, task.first_id + task.rows)
    lo, hi = (dt.date.fromisoformat(d) for d in task.period)
    if task.source == "exchange_rates":
        paths, published = _rates(config)
        first = lo - dt.timedelta(days=LEAD_DAYS) if task.batch_index == 0 else lo
        table = rates_table(paths, published, first, hi)
        inverse = pc.sum(pc.equal(table.column("currency"), "USD")).as_py() or 0
        via_eur = pc.sum(pc.equal(table.column("base_currency"), "EUR")).as_py() or 0
        return table, {"inverse_quotes": inverse, "eur_based_quotes": via_eur}
    source_index = [s.name for s in ALL_SOURCES].index(task.source)
    rng = np.random.default_rng([config.seed, source_index, task.batch_index, task.chunk_index])
    times = TimeSampler.for_period(lo, hi)
    if task.source == "order_lines":
        paths, _ = _rates(config)
        return order_lines(config, pop, paths, rng, times, task.first_id, task.rows, history=lo < config.start)
    source = source_named(task.source)
    ids = np.arange(task.first_id, task.first_id + task.rows, dtype=np.int64)
    cols, counts = GENERATORS[source.name](config, pop, rng, times, ids)
    masks = null_masks_for(source, cols)
    counts |= inject(config, pop, source, cols, rng, times, masks)
    # Rows come out in event-time order except the injected late and broken ones.
    return _to_arrow(config, pop, source, cols, masks), counts


def _to_arrow(
    config: GeneratorConfig, pop: Population, source: Source, cols: dict[str, np.ndarray], masks: dict[str, np.ndarray]
) -> pa.Table:
    user, item, time = (source.fact_column(role) for role in ("user_ref", "item_ref", "event_time"))
    arrays = {name: pa.array(values, mask=masks.get(name)) for name, values in cols.items()}
    if source.name == "purchases":
        # v1 keys are integers: only customers and products whose text id is all digits can appear.
        users, items = (
            _legacy_refs(cols[user], pop.n_users, keys.is_web_shop_customer, -1),
            _legacy_refs(cols[item], pop.n_items, keys.has_suffix, +1),
        )
        arrays[user] = pa.array(keys.legacy_integer_key(users), mask=masks[user])
        arrays[item] = pa.array(keys.legacy_integer_key(items), mask=masks[item])
    else:
        arrays[user] = keys.customer_ids(cols[user], masks[user])
        arrays[item] = keys.product_codes(cols[item], masks[item])
    arrays[time] = arrays[time].cast(pa.timestamp("us"))
    schema = landing_schema(source)
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)


def _legacy_refs(index: np.ndarray, n: int, is_text_only: Any, step: int) -> np.ndarray:
    """Move references to text-only keys onto a neighbour with an all-digit key."""
    real = (index >= 1) & (index <= n)
    moved = np.where(real & is_text_only(index), index + step, index)
    moved = np.where((moved < 1) | ((moved > n) & real), index - step, moved)
    result: np.ndarray = moved
    return result


def _epoch_seconds(table: pa.Table, column: str) -> pa.Table:
    """`column` (a timestamp) as whole epoch seconds, floored, for the epoch-second CSV source."""
    micros = table.column(column).cast(pa.int64())
    seconds = pc.floor(pc.divide(pc.cast(micros, pa.float64()), 1_000_000.0)).cast(pa.int64())
    return table.set_column(table.schema.get_field_index(column), column, seconds)


def _write_table(config: GeneratorConfig, table: pa.Table, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if path.endswith(".parquet"):
        # Dictionary-encode only strings: on ids and timestamps it costs time and saves nothing.
        strings = [f.name for f in table.schema if pa.types.is_string(f.type)]
        pq.write_table(table, path, compression="snappy", use_dictionary=strings, row_group_size=256 * 1024)
    else:
        pacsv.write_csv(table, path)


def _write_chunk(config: GeneratorConfig, root: str, task: ChunkTask) -> ChunkResult:
    table, counts = build_chunk(config, task)
    if task.source == config.epoch_csv_source:
        table = _epoch_seconds(table, source_named(task.source).fact_column("event_time"))
    pieces = [(task.path, table)]
    if task.source == "order_lines":
        pieces = _split_later_reversals(config, task, table)
        counts["reversal_lines_in_later_batch"] = sum(len(t) for _, t in pieces[1:])
    files = []
    for path, part in pieces:
        _write_table(config, part, os.path.join(root, path))
        files.append((path, len(part)))
    return ChunkResult(task.source, len(table), counts, files)


def _split_later_reversals(config: GeneratorConfig, task: ChunkTask, table: pa.Table) -> list[tuple[str, pa.Table]]:
    """Cancellations and returns dated after the batch's period go into the batch of their month."""
    bounds = batch_periods(config, task.source)
    edges = np.array([date_to_micros(b) for b in bounds[1:-1]], dtype=np.int64)
    ts = table.column("ordered_at").cast(pa.int64()).to_numpy(zero_copy_only=False)
    reversal = pc.is_in(table.column("line_type"), pa.array(["cancellation", "return"])).to_numpy(zero_copy_only=False)
    target = np.where(reversal, np.searchsorted(edges, ts, side="right"), task.batch_index)
    target = np.maximum(target, task.batch_index)
    pieces = [(task.path, table.filter(pa.array(target == task.batch_index)))]
    ext = task.path.rsplit(".", 1)[1]
    for b in np.unique(target[target > task.batch_index]).tolist():
        name = f"reversals-of-{task.period[0]}-part-{task.chunk_index:05d}.{ext}"
        pieces.append((f"{task.source}/batch_date={bounds[b].isoformat()}/{name}", table.filter(pa.array(target == b))))
    return pieces


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
    folders: set[str] = set()
    with tqdm(total=total, unit="rows", unit_scale=True, desc="generate", disable=_no_bar(progress)) as bar:
        for result in _run(config, partial, tasks, workers):
            _add(manifest["sources"][result.source], result)
            folders.update(os.path.dirname(path) for path, _ in result.files)
            bar.update(result.rows)
    for folder in sorted(folders):
        settings = _batch_settings(config, folder.split("/")[0])
        if settings:
            (partial / folder / BATCH_SETTINGS).write_text(settings)
        # The completion marker goes in last, once every file of the batch is complete (docs/raw_data_contract.md).
        (partial / folder / COMPLETION_MARKER).touch()
    (partial / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return manifest


def _batch_settings(config: GeneratorConfig, source: str) -> str:
    """The `_batch.yml` of a batch of `source`: the ingest settings it overrides, or "" for none."""
    lines = []
    if source == config.epoch_csv_source:
        lines += ["timestamp_format: epoch_s", "time_zone: UTC"]
    if source == "items":
        lines += ["default_currency: USD  # for rows whose price_currency is empty"]
    if not lines:
        return ""
    return "# ingest overrides for this batch, written by shop-analytics generate\n" + "\n".join(lines) + "\n"


def _no_bar(progress: bool | None) -> bool | None:
    # None lets tqdm decide: a bar on a terminal, silence in logs.
    return None if progress is None else not progress


def dirty_kinds(source: str) -> tuple[str, ...]:
    """The dirty kinds the generator injects into `source` (its manifest's `dirty` keys)."""
    if source == "order_lines":
        return ORDER_LINE_DIRTY_KINDS
    if source in ("page_views", "ratings", "purchases"):
        return applicable_kinds(source_named(source))
    return ()


def _empty_manifest(config: GeneratorConfig) -> dict[str, Any]:
    cfg = asdict(config)
    for name in ("start", "end", "history_start"):
        cfg[name] = cfg[name].isoformat() if cfg[name] else None
    sources = {}
    for s in written_sources(config):
        ext = _extension(config, s.name)
        sources[s.name] = {
            "rows": 0,
            "files": 0,
            "batches": {},
            "file_format": ext,
            "timestamp_format": "epoch_s" if s.name == config.epoch_csv_source else "iso8601",
            "dirty": dict.fromkeys(dirty_kinds(s.name), 0),
            "truth": {},
            "counts": {},
        }
    return {
        "manifest_version": MANIFEST_VERSION,
        "config": cfg,
        "layout": "<source>/batch_date=YYYY-MM-DD/<file>.<parquet|csv> (+ _batch.yml, _SUCCESS)",
        "sources": sources,
    }


def _add(entry: dict[str, Any], result: ChunkResult) -> None:
    entry["rows"] += result.rows
    for path, rows in result.files:
        entry["files"] += 1
        batch = path.split("/")[1].split("=")[1]
        entry["batches"][batch] = entry["batches"].get(batch, 0) + rows
    for key, value in result.counts.items():
        section = "dirty" if key in entry["dirty"] else "truth"
        entry[section][key] = entry[section].get(key, 0) + int(value)
        # `counts` is dirty and truth together, as manifest version 1 had it.
        entry["counts"][key] = entry["counts"].get(key, 0) + int(value)


def read_manifest(landing: Path) -> dict[str, Any]:
    """Load the manifest of a generated landing folder."""
    path = Path(landing) / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"no {MANIFEST_NAME} in {landing}: was it made by `shop-analytics generate`?")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest
