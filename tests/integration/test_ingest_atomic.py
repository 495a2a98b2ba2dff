"""Crash safety and the event-id Bloom filter.

A subprocess ingest is SIGKILLed after a random number of file renames (lake_files.py's
test hook). Afterwards no partial or scratch file may be visible in the lake globs dbt
reads, and a re-run must converge to the lake of an uninterrupted run. The Bloom
filter tests force false positives and check that they never drop a new row.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest import IngestSettings, ingest
from shop_analytics.quality.raw_contract import ALL_SOURCES
from shop_analytics.settings import INGEST_CRASH_AFTER_RENAMES_ENV as CRASH_AFTER_ENV
from shop_analytics.settings import DataLayout
from support.pipeline import ROOT, ingest_settings

# Six monthly batches per source (July to December 2018): every batch after the first is looked up
# in a filter holding the earlier ones, and a kill lands mid-batch, as with 36 batches; each batch
# costs its own GX run under group_rows=1, so more of them would only cost time.
SMALL = GeneratorConfig(scale=0.002, seed=3, legacy_purchases=True, start=dt.date(2018, 7, 1))


def _settings(root: Path, **kw: object) -> IngestSettings:
    return ingest_settings(root, **kw)


def _lake_rows(layout: DataLayout) -> dict[str, list[tuple]]:
    """Every source's admitted rows, sorted, as dbt's globs see them."""
    con = duckdb.connect()
    out = {}
    for source in ALL_SOURCES:
        if not (layout.lake / source.name).exists():  # a source this data set has no batch of
            out[source.name] = []
            continue
        glob = (
            f"{layout.lake}/{source.name}/event_date=*/*.parquet"
            if source.is_fact
            else f"{layout.lake}/{source.name}/*.parquet"
        )
        out[source.name] = con.execute(
            f"SELECT * FROM read_parquet('{glob}', union_by_name = true) ORDER BY ALL"
        ).fetchall()
    return out


def _ingest_subprocess(root: Path, crash_after: int | None) -> int:
    # A script file, not `python -c`: pyspark (imported by GX when installed) exits a
    # process whose __main__ has no file, taking it for a doctest run.
    script = root.parent / "run_ingest.py"
    script.write_text(
        "from pathlib import Path\n"
        "from shop_analytics.ingest import IngestSettings, ingest\n"
        "from shop_analytics.settings import DataLayout\n"
        f"ingest(DataLayout(Path({str(root)!r})), IngestSettings(\n"
        f"    currencies_csv=Path({str(ROOT / 'seeds' / 'currencies.csv')!r}),\n"
        f"    contracts_dir=Path({str(ROOT / 'contracts')!r}), progress=False))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    if crash_after is not None:
        env[CRASH_AFTER_ENV] = str(crash_after)
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True).returncode


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[tuple]]]:
    """Landing data and the lake an uninterrupted ingest makes of it."""
    root = tmp_path_factory.mktemp("reference")
    layout = DataLayout(root)
    generate(SMALL, layout.landing, progress=False)
    ingest(layout, _settings(root))
    return layout.landing, _lake_rows(layout)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_killed_ingest_leaves_no_partial_file_and_rerun_converges(reference, tmp_path: Path, seed: int) -> None:
    landing, expected = reference
    root = tmp_path / "data"
    shutil.copytree(landing, root / "landing")
    total_files = sum(1 for _ in (root / "landing").rglob("*.parquet"))
    crash_after = random.Random(seed).randint(5, total_files)  # renames >= files: some batch is mid-flight
    assert _ingest_subprocess(root, crash_after) == -signal.SIGKILL
    layout = DataLayout(root)
    # Whatever was visible after the crash is complete Parquet, and only in the lake globs.
    for path in layout.lake.rglob("*"):
        if path.is_file():
            assert path.suffix == ".parquet" and not path.name.startswith("."), path
            assert pq.ParquetFile(path).metadata.num_columns  # complete file: footer readable
    assert _ingest_subprocess(root, None) == 0
    assert _lake_rows(layout) == expected
    assert not layout.staging_area.exists()


def test_bloom_false_positives_never_drop_new_rows(reference, tmp_path: Path) -> None:
    landing, expected = reference
    root = tmp_path / "data"
    shutil.copytree(landing, root / "landing")
    # A tiny filter at 50% false positives, and one GX group per batch so that every
    # batch is looked up in a filter holding the earlier batches: many "maybe seen".
    reports = ingest(DataLayout(root), _settings(root, bloom_capacity=64, bloom_fpr=0.5, group_rows=1))
    facts = [r for r in reports if r.source in ("page_views", "purchases", "ratings")]
    assert sum(r.maybe_seen for r in facts) > 100  # the filter did produce false positives ...
    for source in ("page_views", "purchases", "ratings"):  # ... in every source with event ids ...
        assert sum(r.maybe_seen for r in facts if r.source == source) > 0, source
    assert sum(r.seen_confirmed for r in facts) == 0  # ... none survived the exact check
    assert _lake_rows(DataLayout(root)) == expected


def test_bloom_filter_persists_and_grows(reference, tmp_path: Path) -> None:
    landing, _ = reference
    root = tmp_path / "data"
    shutil.copytree(landing, root / "landing")
    ingest(DataLayout(root), _settings(root, bloom_capacity=100))
    con = duckdb.connect(str(DataLayout(root).catalog), read_only=True)
    rows = dict(con.execute("SELECT source, capacity FROM key_filter_files").fetchall())
    admitted = dict(con.execute("SELECT source, count(*) FROM seen_keys GROUP BY source").fetchall())
    for source in ("page_views", "purchases", "ratings"):
        assert rows[source] >= admitted[source] > 100  # rebuilt bigger than the 100 it started with


# --- kill at every step of one batch, next to a committed batch whose id extends it -----------------

KILL_POINTS = ["written", "intent", "rename:1", "rename:2", "rename:3", "renamed", "committed"]


def _state(root: Path) -> dict:
    """Everything ingest is responsible for: files (bytes), audit, admitted keys, batch files, contract versions."""
    from support.handmade_landing import snapshot

    con = duckdb.connect(str(root / "ingest_catalog.duckdb"), read_only=True)
    try:

        def rows(sql: str) -> list[tuple]:
            return con.execute(sql).fetchall()

        files = snapshot(root)
        # The audit export carries the commit time: compare its rows without it, not its bytes.
        exports = {p: files.pop(p) for p in list(files) if p.startswith("lake/_ingest_audit/")}
        return {
            "files": files,
            "audit_exports": {
                p: pq.read_table(root / p).drop_columns(["committed_at"]).to_pylist() for p in sorted(exports)
            },
            "audit": rows(
                "SELECT source, batch_id, status, content_hash, rows_in, rows_admitted, rows_quarantined, "
                "quarantined_by_reason, contract_version, contract_status FROM ingest_audit ORDER BY ALL"
            ),
            "keys": rows("SELECT source, key, key_text FROM seen_keys ORDER BY ALL"),
            "batch_files": rows("SELECT * FROM batch_files ORDER BY ALL"),
            "contracts": rows(
                "SELECT source, version, columns, changes, first_batch FROM contract_versions ORDER BY ALL"
            ),
            "intents": rows("SELECT * FROM publish_intents"),
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def colliding(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A baseline with committed batch 2018-12-01_1 and landed, uningested batch 2018-12-01; the uninterrupted result.

    The new batch adds a column (a new contract version, registered with its commit), spans two
    event dates (two lake files) and has one invalid row (a quarantine file): three renames.
    """
    import datetime as dt

    import pyarrow as pa

    from support.handmade_landing import (
        NEW_ID,
        build_baseline,
        expected_batch_files,
        land,
        purchases_table,
        run_cli,
        snapshot,
    )

    base = tmp_path_factory.mktemp("colliding") / "data"
    build_baseline(base)
    table = pa.concat_tables(
        [
            purchases_table(100, n=10),
            purchases_table(200, n=10, purchased_at=[dt.datetime(2018, 6, 2, 8)] * 10),
            purchases_table(300, n=1, amount=[-1.0]),
        ]
    )
    land(base, "purchases", NEW_ID, {"part-0.parquet": table.append_column("coupon_code", pa.array(["X"] * 21))})
    reference = base.parent / "reference"
    shutil.copytree(base, reference)
    assert run_cli(reference)[0] == 0
    state = _state(reference)
    new = (set(state["files"]) | set(state["audit_exports"])) - set(snapshot(base))
    assert len(new) == 4 and expected_batch_files("purchases", NEW_ID, new), sorted(new)
    return base, state


def _assert_no_partial_file(root: Path) -> None:
    for path in (root / "lake").rglob("*"):
        if path.is_file():
            assert path.suffix == ".parquet" and not path.name.startswith("."), path
            assert pq.ParquetFile(path).metadata.num_columns  # complete file: footer readable


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_at_every_step_next_to_a_colliding_id_converges(colliding, tmp_path: Path, point: str) -> None:
    from support.handmade_landing import COMMITTED_ID, run_cli, run_cli_subprocess, snapshot

    base, expected = colliding
    root = tmp_path / "data"
    shutil.copytree(base, root)
    committed = dict(snapshot(root))
    killed = run_cli_subprocess(root, {"SHOP_ANALYTICS_INGEST_CRASH_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    _assert_no_partial_file(root)
    assert {p: h for p, h in snapshot(root).items() if p in committed} == committed  # X_1 untouched
    code, out, err = run_cli(root)
    assert code == 0, err
    assert _state(root) == expected
    assert any(COMMITTED_ID in p for p in expected["files"])
    assert not (root / "_tmp").exists()


@pytest.mark.slow
def test_killed_twice_then_converges(colliding, tmp_path: Path) -> None:
    from support.handmade_landing import run_cli, run_cli_subprocess

    base, expected = colliding
    root = tmp_path / "data"
    shutil.copytree(base, root)
    for point in ("rename:2", "rename:1"):  # the second attempt first rolls back the first one's files
        assert run_cli_subprocess(root, {"SHOP_ANALYTICS_INGEST_CRASH_AT": point}).returncode == -signal.SIGKILL
        _assert_no_partial_file(root)
    assert run_cli(root)[0] == 0
    assert _state(root) == expected
