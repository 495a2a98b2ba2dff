"""Unit tests of the generator's building blocks and its input validation."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import numpy as np
import pytest

from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.datagen.distributions import GroupedSampler, TimeSampler, split_total
from support.pipeline import BIN


def test_grouped_sampler_stays_in_group_and_follows_weights() -> None:
    rng = np.random.default_rng(0)
    ids = np.arange(100, 130)
    groups = np.repeat([0, 1, 2], 10)
    weights = np.tile(np.arange(10, 0, -1, dtype=float), 3)
    sampler = GroupedSampler.build(ids, groups, weights, 3)
    asked = rng.integers(0, 3, 200_000)
    got = sampler.sample(rng, asked)
    assert np.array_equal((got - 100) // 10, asked)
    in_group_one = got[asked == 1] - 110
    frequency = np.bincount(in_group_one, minlength=10) / len(in_group_one)
    assert np.allclose(frequency, weights[:10] / weights[:10].sum(), atol=0.01)


def test_time_sampler_is_sorted_and_inside_the_period() -> None:
    sampler = TimeSampler.for_period(dt.date(2017, 2, 1), dt.date(2017, 3, 1))
    ts = sampler.sample_sorted(np.random.default_rng(1), 100_000)
    assert np.all(np.diff(ts) >= 0)
    assert ts[0] >= sampler.start_us and ts[-1] < sampler.end_us


def test_split_total_is_exact_and_proportional() -> None:
    parts = split_total(1001, np.array([1.0, 2.0, 3.0]))
    assert parts.sum() == 1001
    assert np.allclose(parts / 1001, [1 / 6, 2 / 6, 3 / 6], atol=0.002)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scale": 0}, "scale must be positive"),
        ({"file_format": "xlsx"}, "file_format"),
        ({"dirty_rate": 1.5}, "dirty_rate"),
        ({"start": dt.date(2019, 1, 1), "end": dt.date(2018, 1, 1)}, "must be after"),
        ({"overrides": (("clicks", 5),)}, "unknown row-count overrides"),
    ],
)
def test_bad_config_is_refused_clearly(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GeneratorConfig(**kwargs)


def test_generate_refuses_to_overwrite_by_accident(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="overwrite"):
        generate(GeneratorConfig(scale=0.001), tmp_path, progress=False)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_cli_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    result = subprocess.run(
        [str(BIN / "shop-analytics"), "generate", "--scale", "0.001", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "is not empty" in result.stderr and "Traceback" not in result.stderr


def test_cli_row_overrides(tmp_path: Path) -> None:
    subprocess.run(
        [
            str(BIN / "shop-analytics"),
            "generate",
            "--users",
            "300",
            "--items",
            "50",
            "--page-views",
            "1234",
            "--purchases",
            "10",
            "--ratings",
            "20",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ],
        check=True,
        capture_output=True,
    )
    import json

    manifest = json.loads((tmp_path / "o" / "_manifest.json").read_text())
    assert {k: v["rows"] for k, v in manifest["sources"].items()} == {
        "users": 300,
        "items": 50,
        "page_views": 1234,
        "purchases": 10,
        "ratings": 20,
    }
