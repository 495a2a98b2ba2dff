"""Batch, micro-batch and streaming runs give identical results; sources agree."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.sketches import HyperLogLog, relative_standard_error
from shop_analytics.streaming import (
    BloomAggregator,
    DistinctAggregator,
    GroupedAggregate,
    GroupedDistinctAggregator,
    HeavyHittersAggregator,
    iter_batches,
    iter_micro_batches,
    open_dataset,
    run,
)


@pytest.fixture(scope="module")
def page_views(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    cfg = GeneratorConfig(
        scale=0.02,
        seed=21,
        chunk_rows=2_000,
        overrides=(("page_views", 12_000),),
        start=dt.date(2018, 1, 1),
        end=dt.date(2018, 7, 1),
    )
    generate(cfg, out, workers=1)
    return out / "page_views"


@pytest.fixture(scope="module")
def small(page_views: Path) -> pa.Table:
    # Streaming mode does one update per record, so it runs on a slice.
    return open_dataset(page_views).to_table().slice(0, 500)


def _all_modes(agg, source, files_too: bool = False) -> list:
    """Results of one aggregator over several chunkings and all three modes.

    On the small in-memory slice: 7-row batches and one-record streaming; on
    the multi-file dataset: per-file micro-batches instead (same code path,
    affordable size).
    """
    tiny = 1_000 if files_too else 7
    results = [
        run(agg, source, mode="batch", batch_rows=10**6, progress=False),
        run(agg, source, mode="batch", batch_rows=tiny, progress=False),
        run(agg, source, mode="micro_batch", micro_batch_rows=3 * tiny + 2, batch_rows=tiny, progress=False),
    ]
    if files_too:
        results.append(run(agg, source, mode="micro_batch", progress=False))
    else:
        results.append(run(agg, source, mode="streaming", progress=False))
    return results


def test_multiple_files_give_per_file_micro_batches(page_views: Path) -> None:
    assert len(list(open_dataset(page_views).get_fragments())) > 3
    micro = [sum(b.num_rows for b in m) for m in iter_micro_batches(page_views, columns=["item_id", "batch_date"])]
    assert len(micro) > 3 and sum(micro) == open_dataset(page_views).count_rows()
    first = next(iter(next(iter_micro_batches(page_views))))
    assert "batch_date" in first.schema.names  # hive partition column kept per file


def test_exact_aggregate_identical_in_all_modes(page_views: Path, small: pa.Table) -> None:
    agg = GroupedAggregate(
        ["item_id"], {"n": ("count_all", None), "u": ("count", "user_id"), "last": ("max", "viewed_at")}
    )
    for source, files in ((small, False), (page_views, True)):
        results = _all_modes(agg, source, files_too=files)
        assert all(r.equals(results[0]) for r in results[1:])
    con = duckdb.connect()
    want = con.sql(
        f"SELECT item_id, count(*) AS n, count(user_id) AS u, max(viewed_at) AS last "
        f"FROM read_parquet('{page_views}/**/*.parquet') GROUP BY 1 ORDER BY 1 NULLS LAST"
    ).to_arrow_table()
    assert results[0].to_pylist() == want.to_pylist()


def test_sketches_identical_in_all_modes(page_views: Path, small: pa.Table) -> None:
    for source, files in ((small, False), (page_views, True)):
        for agg in (BloomAggregator("user_id", expected_items=5_000), DistinctAggregator("user_id", p=10)):
            blobs = [r.to_bytes() for r in _all_modes(agg, source, files_too=files)]
            assert len(set(blobs)) == 1
        grouped = _all_modes(
            GroupedDistinctAggregator(["item_id"], "user_id", time_column="viewed_at"), source, files_too=files
        )
        assert all(g.equals(grouped[0]) for g in grouped[1:])


def test_heavy_hitters_modes(page_views: Path, small: pa.Table) -> None:
    # Exact regime (distinct items <= capacity): identical summaries.
    big = HeavyHittersAggregator("item_id", capacity=100_000)
    assert len({r.to_bytes() for r in _all_modes(big, small)}) == 1
    # Pruning regime: summaries may differ, the guarantee holds in every mode.
    table = open_dataset(page_views).to_table(columns=["item_id"])
    vals, counts = np.unique(table.column("item_id").drop_null().to_numpy(), return_counts=True)
    n = int(counts.sum())
    for hh in _all_modes(HeavyHittersAggregator("item_id", capacity=20), page_views, files_too=True):
        lower, upper = hh.bounds(vals)
        assert hh.n == n and (lower <= counts).all() and (counts <= upper).all()
        assert set(vals[counts > n / 21].tolist()) <= set(hh.items.to_pylist())


def test_grouped_distinct_against_duckdb(page_views: Path) -> None:
    got = run(GroupedDistinctAggregator(["item_id"], "user_id", time_column="viewed_at"), page_views, progress=False)
    con = duckdb.connect()
    con.register("got", got)
    rows = con.sql(
        f"""
        WITH exact AS (
            SELECT item_id, viewed_at::DATE AS day, count(DISTINCT user_id) AS n
            FROM read_parquet('{page_views}/**/*.parquet') WHERE user_id IS NOT NULL GROUP BY ALL)
        SELECT e.n, g.distinct_estimate, g.sketch FROM exact e
        FULL JOIN got g ON e.item_id IS NOT DISTINCT FROM g.item_id AND e.day IS NOT DISTINCT FROM g.day
        """
    ).to_arrow_table()
    n = np.array(rows.column("n").to_pylist(), dtype=float)
    est = np.array(rows.column("distinct_estimate").to_pylist(), dtype=float)
    assert not np.isnan(n).any() and not np.isnan(est).any(), "groups differ from DuckDB's"
    rel = np.abs(est / n - 1)
    # Small groups: a pair of users landing in one register is the only error source.
    assert np.mean(rel) < relative_standard_error(12) and np.mean(rel < 3 * relative_standard_error(12)) > 0.99
    blob = rows.column("sketch")[0].as_py()
    assert HyperLogLog.from_bytes(blob).estimate() == pytest.approx(est[0])


def test_sources_agree(page_views: Path) -> None:
    agg = GroupedAggregate(["item_id"], {"n": ("count_all", None)})
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{page_views}/**/*.parquet')")
    dataset = open_dataset(page_views)
    table = dataset.to_table()
    sources = [
        page_views,
        str(page_views),
        dataset,
        table,
        rel,
        table.to_reader(max_chunksize=999),
        iter(table.to_batches(max_chunksize=500)),
    ]
    results = [run(agg, s, batch_rows=1_000, progress=False) for s in sources]
    assert all(r.equals(results[0]) for r in results[1:])
    batches = list(iter_batches(table, batch_rows=7, columns=["item_id"]))
    assert max(b.num_rows for b in batches) == 7 and batches[0].schema.names == ["item_id"]
    with pytest.raises(ValueError, match="mode"):
        run(agg, table, mode="sideways")  # type: ignore[arg-type]  # an unknown mode on purpose
    with pytest.raises(TypeError, match="unsupported source"):
        list(iter_batches(42))
    with pytest.raises(FileNotFoundError):
        list(iter_batches(page_views / "missing"))
    with pytest.raises(ValueError, match="per-file"):
        list(iter_micro_batches(table))
    assert isinstance(dataset, ds.FileSystemDataset)
