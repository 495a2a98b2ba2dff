"""shop_analytics.settings: every environment variable read in one place, and the lake derived from the data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from shop_analytics.settings import DataLayout, Settings
from support.pipeline import Pipeline, dbt_env, run_dbt

PREFIX = "SHOP_ANALYTICS_"


def test_defaults_are_absolute_and_the_lake_follows_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.data_dir == tmp_path / "data"
    assert settings.lake_dir == tmp_path / "data" / "lake"
    assert settings.warehouse == tmp_path / "warehouse" / "shop_analytics.duckdb"
    assert settings.serving_root is None
    assert settings.publish_schemas == ("marts", "reference")
    assert (settings.memory_limit, settings.duckdb_threads, settings.temp_dir) == ("4GB", 2, None)
    assert (settings.reader_memory_limit, settings.reader_temp_limit, settings.reader_temp_dir) == ("2GB", "4GB", None)
    assert (settings.ingest_crash_at, settings.ingest_fail_at) == (None, None)

    moved = Settings.from_env({f"{PREFIX}DATA_DIR": "elsewhere"})
    assert moved.data_dir == tmp_path / "elsewhere"
    assert moved.lake_dir == tmp_path / "elsewhere" / "lake"
    assert Settings.from_env({f"{PREFIX}DATA_DIR": "elsewhere", f"{PREFIX}LAKE_DIR": "/lake"}).lake_dir == Path("/lake")


def test_every_variable_is_read_and_empty_counts_as_unset(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            f"{PREFIX}DATA_DIR": str(tmp_path / "d"),
            f"{PREFIX}LAKE_DIR": "",
            f"{PREFIX}WAREHOUSE": str(tmp_path / "w.db"),
            f"{PREFIX}SERVING_ROOT": str(tmp_path / "s"),
            f"{PREFIX}PUBLISH_SCHEMAS": " marts , ,extra",
            f"{PREFIX}MEMORY_LIMIT": "1GB",
            f"{PREFIX}DUCKDB_THREADS": "3",
            f"{PREFIX}TEMP_DIR": "/spill",
            f"{PREFIX}READER_MEMORY_LIMIT": "",
            f"{PREFIX}READER_TEMP_LIMIT": "8GB",
            f"{PREFIX}READER_TEMP_DIR": "/r",
            f"{PREFIX}INGEST_CRASH_AFTER_RENAMES": "4",
            f"{PREFIX}INGEST_FAIL_AT": "intent:2",
        }
    )
    assert settings.lake_dir == tmp_path / "d" / "lake"
    assert (settings.warehouse, settings.serving_root) == (tmp_path / "w.db", tmp_path / "s")
    assert settings.publish_schemas == ("marts", "extra")
    assert (settings.memory_limit, settings.duckdb_threads, settings.temp_dir) == ("1GB", 3, "/spill")
    assert (settings.reader_memory_limit, settings.reader_temp_limit, settings.reader_temp_dir) == ("2GB", "8GB", "/r")
    assert (settings.ingest_crash_at, settings.ingest_fail_at) == ("rename:4", "intent:2")
    both = Settings.from_env({f"{PREFIX}INGEST_CRASH_AT": "written", f"{PREFIX}INGEST_CRASH_AFTER_RENAMES": "4"})
    assert both.ingest_crash_at == "written"


@pytest.mark.parametrize("threads", ["0", "-1", "two", "1.5"])
def test_a_bad_thread_count_is_refused_with_the_variable_named(threads: str) -> None:
    with pytest.raises(ValueError, match=f"{PREFIX}DUCKDB_THREADS must be a positive integer, got '{threads}'"):
        Settings.from_env({f"{PREFIX}DUCKDB_THREADS": threads})


def test_no_other_module_reads_the_environment() -> None:
    package = Path(__file__).resolve().parents[2] / "python" / "shop_analytics"
    readers = sorted(
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if any(call in p.read_text() for call in ("os.environ", "os.getenv", "environ.get"))
    )
    # settings.py reads; quality/__init__.py only sets GX_ANALYTICS_ENABLED before GX is imported.
    assert readers == ["quality/__init__.py", "settings.py"]


def test_gx_analytics_are_disabled_before_great_expectations_loads(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GX_ANALYTICS_ENABLED"}
    # A script, not `python -c`: with pyspark installed (make spark, make bench), GX imports
    # pyspark.sql.connect, which takes a main module without __file__ for a doctest run and exits 0.
    script = tmp_path / "gx_analytics.py"
    script.write_text(
        "import sys, os\nimport shop_analytics.quality.validate\n"
        "assert 'great_expectations' in sys.modules\nprint(os.environ['GX_ANALYTICS_ENABLED'])\n"
    )
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "false"


def test_setting_only_the_data_dir_makes_ingest_and_dbt_agree(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = pipeline.layout.root
    monkeypatch.delenv(f"{PREFIX}LAKE_DIR", raising=False)
    monkeypatch.setenv(f"{PREFIX}DATA_DIR", str(root))
    # Ingest (and everything else in Python) writes and reads <data dir>/lake ...
    assert DataLayout.from_env().lake == Settings.from_env().lake_dir == root / "lake"
    # ... and dbt's sources, given the same environment, read that lake.
    warehouse = tmp_path / "warehouse.duckdb"
    env = {k: v for k, v in dbt_env(pipeline.layout, warehouse).items() if k != f"{PREFIX}LAKE_DIR"}
    env[f"{PREFIX}DATA_DIR"] = str(root)
    run_dbt(["run", "--select", "stg_shop__users", "stg_shop__page_views"], env, tmp_path)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for view, source in (("stg_shop__users", "users"), ("stg_shop__page_views", "page_views")):
            definition = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ?", [view]).fetchall()
            assert len(definition) == 1 and f"'{root / 'lake'}/" in definition[0][0], definition
            staged = con.execute(f"SELECT count(*) FROM staging.{view}").fetchall()[0][0]
            in_lake = duckdb.sql(
                f"SELECT count(*) FROM read_parquet('{root / 'lake' / source}/**/*.parquet')"
            ).fetchall()[0][0]
            assert 0 < staged <= in_lake
