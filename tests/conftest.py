"""Shared fixtures (session-scoped, built once under pytest's temp dir) and markers by folder.

tests/unit/ is marked `unit`, tests/integration/ `integration`, tests/browser/ `browser`:
`pytest -m unit` runs the fast in-process tests only. Helpers live in tests/support/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shop_analytics.datagen import generate
from shop_analytics.ingest import ingest
from shop_analytics.settings import DataLayout
from support.pipeline import SMALL, Pipeline, Warehouse, dbt_env, ingest_settings, run_dbt

TESTS = Path(__file__).resolve().parent
FOLDER_MARKERS = {"unit": "unit", "integration": "integration", "browser": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the folder it lives in."""
    for item in items:
        relative = Path(str(item.path)).resolve().relative_to(TESTS)
        marker = FOLDER_MARKERS.get(relative.parts[0])
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """SMALL generated, then ingested."""
    layout = DataLayout(tmp_path_factory.mktemp("pipeline"))
    manifest = generate(SMALL, layout.landing, workers=2, progress=False)
    ingest(layout, ingest_settings(layout.root))
    return Pipeline(layout, manifest)


@pytest.fixture(scope="session")
def warehouse(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """`dbt build` of the whole project over the pipeline's lake (all dbt tests must pass)."""
    tmp = tmp_path_factory.mktemp("dbt")
    path = tmp / "warehouse.duckdb"
    env = dbt_env(pipeline.layout, path)
    run_dbt(["build"], env, tmp)
    return Warehouse(pipeline, path, env)
