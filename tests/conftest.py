"""Shared fixtures (session-scoped, built once under pytest's temp dir) and markers by folder.

tests/unit/ is marked `unit`, tests/integration/ `integration`, tests/browser/ `browser`:
`pytest -m unit` runs the fast in-process tests only. Helpers live in tests/support/.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadFileScheduling

from support.pipeline import ROOT, SMALL, Pipeline, Warehouse, dbt_env, generated_pipeline, run_dbt

TESTS = Path(__file__).resolve().parent
FOLDER_MARKERS = {"unit": "unit", "integration": "integration", "browser": "browser"}
SPARK_TESTS = TESTS / "integration" / "test_spark_parity.py"
# Files of independent parts, and the part of a test id (FileOrPartScheduling): the seeded histories.
PARTS = {"tests/integration/test_incremental_purchases.py": re.compile(r"\[(seed\d+)")}


def _import_great_expectations() -> None:
    """Import GX here, in a pytest-xdist worker too, although pyspark would stop such a worker at import.

    A worker's __main__ (execnet's) has neither __spec__ nor __file__, which pyspark (imported by GX when
    installed) takes for a doctest run: it calls sys.exit(0). A __file__ for the time of the import avoids
    that; multiprocessing's spawn would run that __file__ as the main script, so it does not stay.
    """
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is not None or hasattr(main, "__file__"):
        return
    main.__file__ = __file__
    try:
        import great_expectations.compatibility.pyspark  # noqa: F401
    finally:
        del main.__file__


_import_great_expectations()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Install Spark (`make spark`) before pytest-xdist starts its workers, when the run includes the Spark tests.

    Installed by a test, pyspark would appear in the venv while the other worker's processes import
    Great Expectations, which imports pyspark when it finds it.
    """
    config = session.config
    if hasattr(config, "workerinput") or not any(_covers(arg, config.invocation_params.dir) for arg in config.args):
        return
    subprocess.run(["make", "--no-print-directory", "spark"], cwd=ROOT, check=True, capture_output=True)


def _covers(arg: str, invocation_dir: Path) -> bool:
    path = (invocation_dir / arg.split("::")[0]).resolve()
    return path == SPARK_TESTS or path in SPARK_TESTS.parents


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the folder it lives in."""
    for item in items:
        relative = Path(str(item.path)).resolve().relative_to(TESTS)
        marker = FOLDER_MARKERS.get(relative.parts[0])
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


class FileOrPartScheduling(LoadFileScheduling):
    """`--dist loadfile`, but a file listed in PARTS runs as one unit per part, side by side.

    A unit runs on one worker, so a module's fixtures are built once. The parts of a file in PARTS
    are independent (each seeded history is its own module-scoped fixture parameter): one worker
    per part. The part is read from the test id, since the controller has no test items.
    """

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        pattern = PARTS.get(path)
        part = pattern.search(nodeid) if pattern else None
        return f"{path}::{part.group(1)}" if part else path


class PartsScheduler:
    """The plugin that hands pytest-xdist FileOrPartScheduling for `--dist loadfile`."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Producer) -> LoadFileScheduling | None:
        """`make test`'s `--dist loadfile` with the parts of PARTS apart."""
        return FileOrPartScheduling(config, log) if config.getvalue("dist") == "loadfile" else None


def pytest_configure(config: pytest.Config) -> None:
    """Register PartsScheduler when pytest-xdist runs (`-p no:xdist` leaves its hook unknown to pytest)."""
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(PartsScheduler(), "shop_analytics_parts_scheduler")


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """SMALL generated, then ingested."""
    return generated_pipeline(SMALL, tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def warehouse(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """`dbt build` of the whole project over the pipeline's lake (all dbt tests must pass)."""
    tmp = tmp_path_factory.mktemp("dbt")
    path = tmp / "warehouse.duckdb"
    env = dbt_env(pipeline.layout, path)
    run_dbt(["build"], env, tmp)
    return Warehouse(pipeline, path, env)
