"""The seen-keys filter checkpoint: a file the catalog names; anything wrong with it costs a rebuild, not a key."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from shop_analytics.ingest import catalog
from shop_analytics.ingest.seen import SeenKeys
from shop_analytics.sketches import BlockedBloomFilter

DB = catalog.DB
KEYS = np.arange(1, 5001, dtype=np.int64) * 7919  # admitted ids of one source


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with a fresh catalog holding KEYS as admitted page-view ids."""
    connection = duckdb.connect()
    catalog.attach(connection, tmp_path / "catalog.duckdb")
    connection.execute(
        f"INSERT INTO {DB}.seen_keys (source, key, seq) SELECT 'page_views', unnest(?::BIGINT[]), 1", [KEYS.tolist()]
    )
    return connection


def _filter(con: duckdb.DuckDBPyConnection, folder: Path) -> SeenKeys:
    return SeenKeys(con, DB, "page_views", capacity=1000, fpr=0.01, directory=folder)


def _file_name(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute(f"SELECT file_name FROM {DB}.key_filter_files WHERE source = 'page_views'").fetchone()[0])


def test_saved_filter_is_one_file_named_by_the_catalog_and_reloads_every_key(con, tmp_path: Path) -> None:
    folder = tmp_path / "filters"
    first = _filter(con, folder)
    first.save()
    first.save()  # a second checkpoint replaces the first file
    assert [p.name for p in folder.iterdir()] == [_file_name(con)]
    reloaded = _filter(con, folder)
    assert reloaded.capacity == first.capacity
    assert np.array_equal(reloaded.filter.words, first.filter.words)
    assert reloaded.lookup(KEYS).confirmed.size == KEYS.size


def test_keys_committed_after_the_checkpoint_are_added_on_load(con, tmp_path: Path) -> None:
    folder = tmp_path / "filters"
    _filter(con, folder).save()
    later = np.arange(1, 101, dtype=np.int64) * -3
    con.execute(
        f"INSERT INTO {DB}.seen_keys (source, key, seq) SELECT 'page_views', unnest(?::BIGINT[]), 2", [later.tolist()]
    )
    assert _filter(con, folder).filter.contains(later).all()


@pytest.mark.parametrize("damage", ["flip_a_byte", "truncate", "delete", "foreign_name", "path_outside"])
def test_a_damaged_or_foreign_checkpoint_is_rebuilt_from_seen_keys(con, tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "filters"
    _filter(con, folder).save()
    path = folder / _file_name(con)
    data = bytearray(path.read_bytes())
    if damage == "flip_a_byte":
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "delete":
        path.unlink()
    else:
        # The catalog is data: a row naming another file, or a path elsewhere, is not opened, even
        # when that file holds a valid filter (an empty one here, which would miss every key).
        name = "other.bloom" if damage == "foreign_name" else "../elsewhere.bloom"
        (folder / name).write_bytes(BlockedBloomFilter.for_capacity(1000, 0.01).to_bytes())
        con.execute(f"UPDATE {DB}.key_filter_files SET file_name = ? WHERE source = 'page_views'", [name])
    assert _filter(con, folder).lookup(KEYS).confirmed.size == KEYS.size  # every admitted key still found


def test_files_a_crash_left_behind_are_removed_by_the_next_save(con, tmp_path: Path) -> None:
    folder = tmp_path / "filters"
    _filter(con, folder).save()
    orphan = folder / f"page_views.{'0' * 32}.bloom"
    temporary = folder / f".page_views.{'1' * 32}.bloom.tmp"
    unrelated = folder / "notes.txt"
    for path in (orphan, temporary, unrelated):
        path.write_bytes(b"x")
    _filter(con, folder).save()
    assert sorted(p.name for p in folder.iterdir()) == sorted([_file_name(con), "notes.txt"])
