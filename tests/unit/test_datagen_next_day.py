"""`generate --next-day`: each call appends the following day, with fresh ids, complete batches and a manifest.

The correction batch needs a lake (the order it cancels must be one the lake holds); it is
covered with the real ingest in tests/integration/test_incremental_next_day.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from shop_analytics.datagen import GeneratorConfig, generate, read_manifest
from shop_analytics.datagen.next_day import config_from_manifest, next_day

CONFIG = GeneratorConfig(scale=0.005, seed=11, chunk_rows=2_000, history_start=dt.date(2015, 6, 1))


@pytest.fixture()
def landing(tmp_path: Path) -> Path:
    out = tmp_path / "landing"
    generate(CONFIG, out, progress=False)
    return out


def _ids(landing: Path, batch: str, column: str) -> list:
    files = sorted(str(p) for p in landing.glob(f"{batch}/*.parquet"))
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT {column} FROM read_parquet(?, hive_partitioning = false)", [files]).fetchall()
    return [r[0] for r in rows if r[0] is not None]  # a null key is one of the dirty rows


def test_the_manifest_gives_back_the_config(landing: Path) -> None:
    assert config_from_manifest(read_manifest(landing)) == CONFIG


def test_each_call_appends_the_next_day_with_fresh_ids(landing: Path) -> None:
    history_views = set(_ids(landing, "page_views/batch_date=20*", "page_view_id"))
    history_orders = set(_ids(landing, "order_lines/batch_date=*", "order_id"))
    first, second = next_day(landing, None), next_day(landing, None)
    assert (first.day, second.day) == (CONFIG.end, CONFIG.end + dt.timedelta(days=1))
    assert first.cancelled_order is None  # no lake: no correction batch
    views = [set(_ids(landing, f"page_views/batch_date={d.day}", "page_view_id")) for d in (first, second)]
    orders = [set(_ids(landing, f"order_lines/batch_date={d.day}", "order_id")) for d in (first, second)]
    assert all(views) and all(orders)
    # Duplicated ids inside a day are the generator's dirty rows; across days and the history none repeat.
    assert not views[0] & views[1] and not (views[0] | views[1]) & history_views
    assert not orders[0] & orders[1] and not (orders[0] | orders[1]) & history_orders
    for d in (first, second):
        for batch in d.batches:
            assert (landing / batch.source / f"batch_date={batch.batch_id}" / "_SUCCESS").is_file()
    manifest = read_manifest(landing)
    assert manifest["appended_days"] == [first.day.isoformat(), second.day.isoformat()]
    assert manifest["sources"]["page_views"]["batches"][first.day.isoformat()] == len(
        _ids(landing, f"page_views/batch_date={first.day}", "page_view_id")
    )


def test_a_day_is_never_landed_twice(landing: Path) -> None:
    day = next_day(landing, None).day
    manifest = read_manifest(landing)
    manifest["appended_days"] = []  # as if the manifest had lost the day: the folder is still there
    (landing / "_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(FileExistsError, match=day.isoformat()):
        next_day(landing, None)
