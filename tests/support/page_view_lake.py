"""A large page-view lake written straight into ingest's layout, for tests that need volume, not the gate.

The rows are the generator's clean page views (its population, Zipf item popularity, heavy-tailed
user activity, 25% anonymous views, seasonal timestamps, monthly batches) plus a share of late
arrivals, without the dirty rows that the gate would quarantine. They are written as the gate
writes admitted rows: one COPY per batch, sorted by time, hive-partitioned by event_date, named
``page_views/event_date=<day>/batch_<batch id>_<n>.parquet`` (what lake_batch_id parses), with the
contract's column types (raw_contract.PAGE_VIEWS). Skipping generate + ingest makes a 28M-row lake
a matter of a minute instead of several (the gate has its own tests).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from shop_analytics.datagen import GeneratorConfig
from shop_analytics.datagen.distributions import MAX_LATENESS_DAYS, MICROS_PER_DAY, TimeSampler, date_to_micros
from shop_analytics.datagen.entities import Population
from shop_analytics.datagen.events import NULL_ID, page_views
from shop_analytics.datagen.generator import ChunkTask, plan
from shop_analytics.datagen.keys import customer_ids, legacy_integer_key, product_codes
from shop_analytics.quality.raw_contract import ALL_SOURCES, PAGE_VIEWS
from shop_analytics.sql import quote_literal


class KeyFormat(Enum):
    """How user and item keys are spelled in the lake (contract v2 stores both as text)."""

    DIGITS = "digits"  # all-digit text such as '10042': what a contract-v1 producer would deliver
    NATURAL = "natural"  # the generator's natural keys: 'W00010050' customers, '10003A' products


@dataclass(frozen=True)
class PageViewLake:
    """What write_page_view_lake wrote: rows, days and batches (the lake holds every page_view_id once)."""

    rows: int
    days: int
    batches: int


def write_page_view_lake(lake: Path, config: GeneratorConfig, keys: KeyFormat) -> PageViewLake:
    """Write `config`'s page views under `lake`/page_views in ingest's layout; return what was written."""
    population = Population.build(config)
    tasks = [task for task in plan(config) if task.source == PAGE_VIEWS.name]
    out = lake / PAGE_VIEWS.name
    out.mkdir(parents=True, exist_ok=True)
    rows, batches = 0, 0
    con = duckdb.connect()
    try:
        for _, group in itertools.groupby(tasks, key=lambda task: task.batch_index):
            batch_tasks = list(group)
            batch_id = batch_tasks[0].period[0]  # the generator's batch ids: the first day of the month
            batch = pa.concat_tables([_chunk(config, population, task, keys) for task in batch_tasks])
            con.register("batch", batch)
            # The gate's COPY (ingest/batch_finish.py, _write_admitted): sorted by time, one file per day and batch.
            con.execute(
                "COPY (SELECT *, CAST(viewed_at AS DATE) AS event_date FROM batch ORDER BY viewed_at) "
                f"TO {quote_literal(str(out))} (FORMAT parquet, PARTITION_BY (event_date), "
                f"FILENAME_PATTERN {quote_literal(f'batch_{batch_id}_{{i}}')}, OVERWRITE_OR_IGNORE true)"
            )
            con.unregister("batch")
            rows += batch.num_rows
            batches += 1
    finally:
        con.close()
    days = sum(1 for folder in out.iterdir() if folder.is_dir())
    return PageViewLake(rows, days, batches)


def _chunk(config: GeneratorConfig, population: Population, task: ChunkTask, keys: KeyFormat) -> pa.Table:
    """One chunk of clean page views, a late_rate share of them dated before their batch's period."""
    lo, hi = (dt.date.fromisoformat(day) for day in task.period)
    source_index = [source.name for source in ALL_SOURCES].index(task.source)
    rng = np.random.default_rng([config.seed, source_index, task.batch_index, task.chunk_index])
    ids = np.arange(task.first_id, task.first_id + task.rows, dtype=np.int64)
    sampler = TimeSampler.for_period(lo, hi)
    cols, _ = page_views(config, population, rng, sampler, ids)
    times = cols["viewed_at"]
    # As the generator's late arrivals (datagen/dirty.py): up to MAX_LATENESS_DAYS before the batch's
    # period, only in batches with an earlier partition to arrive into.
    earliest_late = sampler.start_us - MAX_LATENESS_DAYS * MICROS_PER_DAY
    if earliest_late >= date_to_micros(config.source_start(task.source)):
        late = np.flatnonzero(rng.random(len(times)) < config.late_rate)
        times[late] = sampler.start_us - rng.integers(1, MAX_LATENESS_DAYS * MICROS_PER_DAY, len(late), dtype=np.int64)
    users, items = cols["user_id"], cols["item_id"]
    anonymous = users == NULL_ID
    if keys is KeyFormat.NATURAL:
        user_keys, item_keys = customer_ids(users, anonymous), product_codes(items)
    else:
        user_keys = pa.array(legacy_integer_key(users), mask=anonymous).cast(pa.string())
        item_keys = pa.array(legacy_integer_key(items)).cast(pa.string())
    arrays = {
        "page_view_id": pa.array(ids),
        "viewed_at": pa.array(times).cast(pa.timestamp("us")),
        "user_id": user_keys,
        "item_id": item_keys,
    }
    schema = PAGE_VIEWS.schema
    return pa.Table.from_arrays([arrays[field.name] for field in schema], schema=schema)
