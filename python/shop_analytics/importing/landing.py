"""Writing landing batches atomically: a hidden temporary folder, one rename, then ``_SUCCESS`` last.

Layout (docs/raw_data_contract.md): ``landing/<source>/batch_date=<batch id>/`` holding
``part-0.json`` (NDJSON, every value a JSON string or null, so the gate reads the text
exactly as the importer wrote it), ``_batch.yml`` (the batch's timestamp format, time
zone and default currency for the gate) and ``_SUCCESS``. Ingest ignores folders whose
names start with ``.`` and waits for the marker, so it never sees a half-written batch.
An existing batch id (also one differing only in case) is refused, never overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from shop_analytics.importing.transform import PlannedBatch
from shop_analytics.publish.files import fsync_path
from shop_analytics.quality.raw_contract import BATCH_PREFIX, COMPLETION_MARKER, batch_id_problem
from shop_analytics.sql import one_value, quote_literal

DATA_FILE = "part-0.json"
SETTINGS_FILE = "_batch.yml"


@dataclass(frozen=True)
class WrittenBatch:
    """One landing batch the importer wrote."""

    source: str
    batch_id: str
    folder: Path
    rows: int
    notes: tuple[str, ...] = ()


def check_batch_id(batch_id: str) -> None:
    """A ValueError when `batch_id` is off the landing grammar (too long, odd characters, ...)."""
    problem = batch_id_problem(batch_id)
    if problem:
        raise ValueError(problem)


def batch_folder(landing: Path, source: str, batch_id: str) -> Path:
    """Where the batch `batch_id` of `source` lands."""
    return landing / source / f"{BATCH_PREFIX}{batch_id}"


def refuse_existing(landing: Path, source: str, batch_id: str) -> None:
    """A FileExistsError when `source` already has this batch id, or one that differs only in case."""
    folder = batch_folder(landing, source, batch_id)
    parent = folder.parent
    if not parent.is_dir():
        return
    wanted = folder.name.casefold()
    for entry in os.scandir(parent):
        if entry.name.casefold() == wanted:
            same = "" if entry.name == folder.name else f" (as {entry.name!r}, which differs only in case)"
            raise FileExistsError(
                f"{source} batch {batch_id!r} already exists in {parent}{same}; landing batches are never "
                f"overwritten: choose another --batch-id"
            )


def write_batches(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    batch_id: str,
    planned: list[PlannedBatch],
    settings: dict[str, str],
    provenance: str,
) -> list[WrittenBatch]:
    """Write every planned batch under `landing` with id `batch_id`: all complete, or none visible."""
    check_batch_id(batch_id)
    for batch in planned:
        refuse_existing(landing, batch.target.name, batch_id)
    temporary: list[tuple[PlannedBatch, Path]] = []
    try:
        for batch in planned:
            parent = landing / batch.target.name
            parent.mkdir(parents=True, exist_ok=True)
            temp = parent / f".import-{uuid.uuid4().hex}"
            temp.mkdir()
            temporary.append((batch, temp))
            _write_data(con, batch, temp / DATA_FILE)
            _write_settings(temp / SETTINGS_FILE, settings, provenance)
        written = []
        for batch, temp in temporary:
            folder = batch_folder(landing, batch.target.name, batch_id)
            refuse_existing(landing, batch.target.name, batch_id)  # again: another writer may have been faster
            temp.rename(folder)
            written.append(WrittenBatch(batch.target.name, batch_id, folder, batch.rows, batch.notes))
        for done in written:
            _touch_durably(done.folder / COMPLETION_MARKER)  # last: the batch is complete
        return written
    finally:
        for _, temp in temporary:
            if temp.exists():
                shutil.rmtree(temp, ignore_errors=True)


def _write_data(con: duckdb.DuckDBPyConnection, batch: PlannedBatch, path: Path) -> None:
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"COPY ({batch.query}) TO {quote_literal(str(path))} (FORMAT json)")
    written = one_value(con, f"SELECT count(*) FROM read_json_objects({quote_literal(str(path))}, format = 'nd')")
    if written != batch.rows:  # every row accounted for, checked on the file itself
        raise RuntimeError(f"internal error: {path} holds {written} rows, expected {batch.rows}")
    fsync_path(path)


def _write_settings(path: Path, settings: dict[str, str], provenance: str) -> None:
    # json.dumps: a file name cannot break out of the comment line with a newline.
    text = f"# written by shop-analytics import: {json.dumps(provenance)}\n" + yaml.safe_dump(
        settings, sort_keys=False, allow_unicode=True
    )
    path.write_text(text, encoding="utf-8")
    fsync_path(path)


def _touch_durably(path: Path) -> None:
    path.touch()
    fsync_path(path)
    fsync_path(path.parent)
