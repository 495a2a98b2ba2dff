"""Fixtures shared by the unit tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shop_analytics.datagen import GeneratorConfig, generate


@pytest.fixture(scope="session")
def page_views(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated page views (scale 0.2, January 2018), read-only: the sketch and UDF tests check them against DuckDB."""
    out = tmp_path_factory.mktemp("gen")
    generate(GeneratorConfig(scale=0.2, seed=12, start=dt.date(2018, 1, 1), end=dt.date(2018, 2, 1)), out, workers=1)
    return out / "page_views"
