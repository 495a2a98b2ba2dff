"""Crash safety and the event-id Bloom filter.

A subprocess ingest is SIGKILLed after a random number of file renames (publish.py's
test hook). Afterwards no partial or scratch file may be visible in the lake globs dbt
reads, and a re-run must converge to the lake of an uninterrupted run. The Bloom
filter tests force false positives and check that they never drop a new row.
"""

from __future__ import annotations

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

from conftest import ROOT, ingest_settings
from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest import IngestSettings, ingest
from shop_analytics.ingest.publish import CRASH_AFTER_ENV
from shop_analytics.paths import DataLayout
from shop_analytics.sources import ALL_SOURCES

SMALL = GeneratorConfig(scale=0.002, seed=3)


def _settings(root: Path, **kw: object) -> IngestSettings:
    return ingest_settings(root, **kw)


def _lake_rows(layout: DataLayout) -> dict[str, list[tuple]]:
    """Every source's admitted rows, sorted, as dbt's globs see them."""
    con = duckdb.connect()
    out = {}
    for source in ALL_SOURCES:
        glob = f"{layout.lake}/{source.name}/event_date=*/*.parquet" if source.is_fact \
            else f"{layout.lake}/{source.name}/*.parquet"
        out[source.name] = con.execute(f"SELECT * FROM read_parquet('{glob}', union_by_name = true) ORDER BY ALL"
                                       ).fetchall()
    return out


def _ingest_subprocess(root: Path, crash_after: int | None) -> int:
    # A script file, not `python -c`: pyspark (imported by GX when installed) exits a
    # process whose __main__ has no file, taking it for a doctest run.
    script = root.parent / "run_ingest.py"
    script.write_text(
        "from pathlib import Path\n"
        "from shop_analytics.ingest import IngestSettings, ingest\n"
        "from shop_analytics.paths import DataLayout\n"
        f"ingest(DataLayout(Path({str(root)!r})), IngestSettings(\n"
        f"    countries_csv=Path({str(ROOT / 'seeds' / 'countries.csv')!r}),\n"
        f"    contracts_dir=Path({str(ROOT / 'contracts')!r}), progress=False))\n")
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
            pq.ParquetFile(path).metadata
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
    assert sum(r.seen_confirmed for r in facts) == 0  # ... none survived the exact check
    assert _lake_rows(DataLayout(root)) == expected


def test_bloom_filter_persists_and_grows(reference, tmp_path: Path) -> None:
    landing, _ = reference
    root = tmp_path / "data"
    shutil.copytree(landing, root / "landing")
    ingest(DataLayout(root), _settings(root, bloom_capacity=100))
    con = duckdb.connect(str(DataLayout(root).catalog), read_only=True)
    rows = dict(con.execute("SELECT source, capacity FROM key_filters").fetchall())
    admitted = dict(con.execute("SELECT source, count(*) FROM seen_keys GROUP BY source").fetchall())
    for source in ("page_views", "purchases", "ratings"):
        assert rows[source] >= admitted[source] > 100  # rebuilt bigger than the 100 it started with
