"""Unit tests of the generator's building blocks and its input validation."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from shop_analytics.datagen import GeneratorConfig, generate, keys
from shop_analytics.datagen.distributions import GroupedSampler, TimeSampler, split_total
from shop_analytics.datagen.fx import OUTAGE_DAYS, RatePaths, published_days
from shop_analytics.datagen.generator import build_chunk, plan
from shop_analytics.datagen.orders import basket_sizes
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


def test_keys_are_unique_text_and_unknown_indices_never_collide() -> None:
    index = np.arange(1, 200_001)
    users = keys.customer_ids(index).to_pylist()
    items = keys.product_codes(index).to_pylist()
    assert len(set(users)) == len(users) and len(set(items)) == len(items)
    assert users[:2] == ["10001", "10002"] and users[9] == "W00010010"
    assert items[2] == "10003A" and items[3] == "10004"
    unknown = np.arange(1_000_000_000, 1_000_001_000)
    assert not set(keys.customer_ids(unknown).to_pylist()) & set(users)
    assert not set(keys.product_codes(unknown).to_pylist()) & set(items)
    assert keys.customer_ids(index[:3], mask=np.array([False, True, False])).null_count == 1


def test_basket_sizes_are_heavy_tailed_and_bounded() -> None:
    sizes = basket_sizes(np.random.default_rng(0), 200_000)
    assert sizes.min() == 1 and sizes.max() <= 250
    assert np.median(sizes) == 2 and 3 < sizes.mean() < 5
    assert 0.005 < np.mean(sizes > 20) < 0.05


def test_order_line_chunks_have_exactly_the_planned_rows() -> None:
    config = GeneratorConfig(scale=0.01, seed=9, chunk_rows=97, dirty_rate=0.2, late_rate=0.05, reversal_share=0.2)
    tasks = [t for t in plan(config) if t.source == "order_lines"]
    assert len(tasks) > 30 and min(t.rows for t in tasks) < 97
    for task in tasks[::3]:
        table, counts = build_chunk(config, task)
        assert table.num_rows == task.rows
        sales = table.num_rows - counts["cancellation_lines"] - counts["return_lines"]
        assert sales - counts["duplicate_event_id"] == counts["sale_lines"]


def test_published_rates_skip_weekends_and_have_one_long_outage_a_year() -> None:
    config = GeneratorConfig(seed=1)
    paths = RatePaths.build(config)
    published = published_days(config, paths)
    weekday = (np.arange(published.shape[1]) + paths.first_day.weekday()) % 7
    assert not published[:, weekday >= 5].any()
    assert not published[0].any()  # USD is the base: no USD-vs-USD rate
    longest = []
    for row in published[1:]:
        runs = np.diff(np.flatnonzero(np.concatenate(([True], row, [True]))))
        longest.append(runs.max() - 1)
    assert max(longest) >= OUTAGE_DAYS
    assert sorted(longest)[len(longest) // 2] < 8  # most currencies never go stale


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
        ({"overrides": (("order_lines", 0),)}, "must be >= 1"),
        ({"history_start": dt.date(2017, 1, 1)}, "history_start"),
        ({"reversal_share": 0.3}, "reversal_share"),
        ({"epoch_csv_source": "users"}, "epoch_csv_source"),
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
    rows = {"users": 300, "items": 50, "page_views": 1234, "order_lines": 500, "purchases": 10, "ratings": 20}
    command = [str(BIN / "shop-analytics"), "generate", "--out", str(tmp_path / "o"), "--no-progress"]
    for source, n in rows.items():
        command += [f"--{source.replace('_', '-')}", str(n)]
    subprocess.run([*command, "--legacy-purchases"], check=True, capture_output=True)
    manifest = json.loads((tmp_path / "o" / "_manifest.json").read_text())
    written = {k: v["rows"] for k, v in manifest["sources"].items()}
    assert written.pop("exchange_rates") > 5000  # business days of 3 years, 8 currencies: not scaled
    assert written == rows
    # Without --legacy-purchases, no v1 source.
    subprocess.run([*command, "--overwrite"], check=True, capture_output=True)
    assert "purchases" not in json.loads((tmp_path / "o" / "_manifest.json").read_text())["sources"]
    assert not (tmp_path / "o" / "purchases").exists()


def test_cli_passes_the_v2_options(tmp_path: Path) -> None:
    command = [
        str(BIN / "shop-analytics"),
        "generate",
        "--scale",
        "0.002",
        "--no-progress",
        "--out",
        str(tmp_path / "o"),
    ]
    bad = subprocess.run([*command, "--history-start", "2017-01-01"], capture_output=True, text=True)
    assert bad.returncode == 2 and "history_start 2017-01-01 must be before start" in bad.stderr
    options = ["--history-start", "1998-01-01", "--epoch-csv-source", "none", "--country-dirty-share", "0.5"]
    subprocess.run([*command, *options], check=True, capture_output=True)
    manifest = json.loads((tmp_path / "o" / "_manifest.json").read_text())
    assert manifest["config"]["history_start"] == "1998-01-01"
    assert manifest["config"]["epoch_csv_source"] is None and manifest["config"]["country_dirty_share"] == 0.5
    assert min(manifest["sources"]["order_lines"]["batches"]) == "1998-01-01"
    assert manifest["sources"]["ratings"]["file_format"] == "parquet"


def test_without_an_earlier_batch_the_late_share_stays_clean() -> None:
    # One month only: nothing can arrive late, and those rows must not turn into extra dirty rows.
    config = GeneratorConfig(scale=0.2, seed=3, start=dt.date(2018, 1, 1), end=dt.date(2018, 2, 1), late_rate=0.2)
    task = next(t for t in plan(config) if t.source == "page_views")
    _, counts = build_chunk(config, task)
    assert counts["late_arriving"] == 0
    dirty = sum(v for k, v in counts.items() if k not in ("late_arriving", "anonymous_views"))
    assert dirty / task.rows == pytest.approx(config.dirty_rate, rel=0.1)
