"""What the shared fixtures build and how tests run dbt: the SMALL data set, Pipeline, Warehouse, dbt_env, run_dbt."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest import IngestSettings, ingest
from shop_analytics.settings import DataLayout, IngestConfig

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# Small but not tiny: every batch has rows, and every dirty kind occurs.
# With the legacy v1 purchases too: one lake holding both contract versions, as a shop migrating to
# order lines has (staging migrates each purchase into a one-line order).
SMALL = GeneratorConfig(scale=0.02, seed=7, chunk_rows=50_000, legacy_purchases=True)


@dataclass(frozen=True)
class Pipeline:
    """A data root that went through generate + ingest, and the manifest of what was generated."""

    layout: DataLayout
    manifest: dict


@dataclass(frozen=True)
class Warehouse:
    """A dbt-built warehouse over a Pipeline's lake."""

    pipeline: Pipeline
    path: Path
    env: dict[str, str]


def dbt_env(layout: DataLayout, warehouse: Path, *, artifacts: bool = False) -> dict[str, str]:
    """Environment for running dbt against `layout`'s lake and `warehouse`; `artifacts`: dbt writes its JSON files.

    Without it dbt writes no JSON artifacts (manifest.json, run_results.json): about a second of
    every run on the test lakes. Partial parsing still works (it has its own file).
    """
    return {
        **os.environ,
        "SHOP_ANALYTICS_LAKE_DIR": str(layout.lake),
        "SHOP_ANALYTICS_WAREHOUSE": str(warehouse),
        "SHOP_ANALYTICS_TEMP_DIR": str(warehouse.parent / "tmp"),
        "SHOP_ANALYTICS_TARGET": "test",
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # Partial builds (--select) must not pull in tests of marts they did not build.
        "DBT_INDIRECT_SELECTION": "cautious",
        # No debug log file: a failing run's console output is in the assertion, and writing every
        # event to dbt.log cost about 5% of a build's time.
        "DBT_LOG_LEVEL_FILE": "none",
        "DBT_WRITE_JSON": "true" if artifacts else "false",
    }


def _dbt_command(args: list[str], tmp: Path) -> list[str]:
    return [str(BIN / "dbt"), *args, "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs")]


def _checked(args: list[str], result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
    return result


def run_dbt_unchecked(args: list[str], env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess:
    """Run dbt in the project folder with its own target/log dirs; the caller reads the exit code."""
    return subprocess.run(_dbt_command(args, tmp), cwd=ROOT, env=env, capture_output=True, text=True)


def run_dbt(args: list[str], env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess:
    """Run dbt in the project folder with its own target/log dirs; raise with dbt's output on failure."""
    return _checked(args, run_dbt_unchecked(args, env, tmp))


def run_dbt_together(runs: list[tuple[list[str], dict[str, str], Path]]) -> list[subprocess.CompletedProcess]:
    """run_dbt for independent (args, env, tmp) runs, as concurrent processes; raise if any failed.

    On small lakes a dbt run is mostly one busy Python thread (start-up, parse, per-node overhead), so
    independent builds (each its own warehouse, target and log dirs) share the machine's cores: at most
    one process per core at a time.
    """
    with ThreadPoolExecutor(max_workers=max(1, min(len(runs), os.cpu_count() or 1))) as pool:
        futures = [
            pool.submit(subprocess.run, _dbt_command(args, tmp), cwd=ROOT, env=env, capture_output=True, text=True)
            for args, env, tmp in runs
        ]
        results = [future.result() for future in futures]
    return [_checked(args, result) for (args, _, _), result in zip(runs, results, strict=True)]


def killed_dbt(args: list[str], env: dict[str, str], tmp: Path, line: str, delay: float) -> bool:
    """Run dbt and SIGKILL it `delay` seconds after it prints a line matching the regex `line`.

    True if it was killed before it finished (it had not exited by then).
    """
    process = subprocess.Popen(_dbt_command(args, tmp), cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for text in process.stdout:
        if re.search(line, text):
            time.sleep(delay)
            process.kill()
            break
    process.stdout.close()
    return process.wait() != 0


def ingest_settings(tmp: Path | None = None, **kw: object) -> IngestSettings:
    """Ingest settings for tests: the project's contracts (ingest never writes them), no progress bars."""
    del tmp  # versions accepted at run time live in each data root's ingest catalog
    kw.setdefault("config", IngestConfig(None))  # the documented defaults, whatever ./ingest.yml says
    return IngestSettings(
        currencies_csv=ROOT / "seeds" / "currencies.csv",
        contracts_dir=ROOT / "contracts",
        progress=False,
        **kw,  # type: ignore[arg-type]  # tests pass any IngestSettings field by name
    )


def generated_pipeline(config: GeneratorConfig, root: Path) -> Pipeline:
    """`config` generated into `root`'s landing folder, then ingested."""
    layout = DataLayout(root)
    manifest = generate(config, layout.landing, workers=2, progress=False)
    ingest(layout, ingest_settings(layout.root))
    return Pipeline(layout, manifest)
