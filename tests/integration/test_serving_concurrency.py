"""Eight readers query the serving file while three publishes run: no errors, no mixed versions."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from shop_analytics.publish import ServingLayout, publish
from shop_analytics.publish.readload import ReaderPool, consistency_query, queries_between
from support.build_files import record_invocation

TABLES = [("marts", "fct_a"), ("marts", "fct_b")]


def _rows(generation: int) -> tuple[int, int]:
    # Different row counts per generation, so a count from one version cannot match another's.
    return 2_000 + 137 * generation, 500 + 71 * generation


def _build(path: Path, generation: int) -> None:
    """Write generation `generation` of a two-mart build file (as `dbt build` would, between publishes)."""
    path.unlink(missing_ok=True)
    a, b = _rows(generation)
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(
            f"CREATE TABLE marts.fct_a AS SELECT range AS id, {generation} AS generation, "
            f"random() AS score FROM range({a})"
        )
        con.execute(f"CREATE TABLE marts.fct_b AS SELECT range AS id, {generation} AS generation FROM range({b})")
    record_invocation(path)


def _query() -> str:
    # The generic count check plus: both marts carry one generation, and it is the one of the
    # version (published version v holds generation v - 1 here).
    generic = consistency_query(TABLES)
    return (
        f"SELECT g.low, g.high, g.ok AND a.lo = a.hi AND b.lo = b.hi AND a.lo = b.lo AND a.lo = g.high - 1 "
        f"FROM ({generic}) g(low, high, ok), "
        "(SELECT min(generation) lo, max(generation) hi FROM marts.fct_a) a, "
        "(SELECT min(generation) lo, max(generation) hi FROM marts.fct_b) b"
    )


def test_readers_never_see_a_mix_and_never_block_publishes(tmp_path: Path) -> None:
    build, layout = tmp_path / "build.duckdb", ServingLayout(tmp_path / "wh")
    _build(build, 0)
    first = publish(build, layout, schemas=["marts"], keep=2, exports=False, progress=False)
    pool = ReaderPool(layout.serving_file, _query(), readers=8, held=4)
    pool.start()
    try:
        window_start = time.time()
        published = []
        for generation in (1, 2, 3):
            _build(build, generation)
            published.append(publish(build, layout, schemas=["marts"], keep=2, exports=False, progress=False))
        window_end = time.time()
        pool.wait_for_version(published[-1].version)
    finally:
        reports = pool.stop()

    assert [p.version for p in published] == [first.version + 1, first.version + 2, first.version + 3]
    assert [e for r in reports for e in r.errors] == []
    assert [e for r in reports for e in r.inconsistent] == []
    for report in reports:
        assert report.versions, f"reader {report.reader} answered no query"
        if report.mode == "held":
            # A reader holding the old file keeps seeing the version it opened, consistently.
            assert set(report.versions) == {first.version}
        else:
            assert report.versions == sorted(report.versions), "a fresh reader went back in time"
            assert report.versions[-1] == published[-1].version
    assert not layout.version_file(first.version).exists()  # pruned: held readers read an unlinked file
    during = queries_between(reports, window_start, window_end)
    assert during > 0, "no reader query ran while publishing; the test proves nothing"
    print(
        f"\n{during} reader queries in {window_end - window_start:.2f} s of publishing "
        f"({during / (window_end - window_start):,.0f} queries/s, 8 readers)"
    )
