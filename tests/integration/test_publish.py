"""publish / rollback on tiny build files: versions, _publication, exports, checks, locks, CLI.

The build files are made by hand, with a build-marker row as dbt's hooks write it; publishing
after real dbt invocations (failed, killed, partial) is tested in test_publish_guarded.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from shop_analytics.checks import (
    FiniteFloatingColumns,
    NonEmptyTables,
    SqlCheck,
    Status,
    default_checks,
    load_checks,
    run_checks,
)
from shop_analytics.cli import main as cli_main
from shop_analytics.exit_codes import ExitCode
from shop_analytics.publish import (
    BuildFileLockedError,
    ChecksFailedError,
    PublishError,
    RollbackError,
    ServingLayout,
    connect_serving,
    publish,
    read_publication,
    rollback,
    status,
)
from shop_analytics.publish.versions import publish_lock
from shop_analytics.warehouse import Relation
from support.build_files import make_build


def serve(build: Path, layout: ServingLayout, **kwargs) -> object:
    """publish with test defaults (no progress bars)."""
    return publish(build, layout, progress=False, **kwargs)


@pytest.fixture()
def build(tmp_path: Path) -> Path:
    return make_build(tmp_path / "build.duckdb")


@pytest.fixture()
def layout(tmp_path: Path) -> ServingLayout:
    return ServingLayout(tmp_path / "warehouse")


def build_counts(build: Path, relations: list[str]) -> dict[str, int]:
    with duckdb.connect(str(build), read_only=True) as con:
        return {r: con.execute(f"SELECT count(*) FROM {r}").fetchone()[0] for r in relations}


def test_publish_materializes_plain_tables_and_records_publication(build: Path, layout: ServingLayout) -> None:
    result = serve(build, layout, schemas=["marts", "reference", "staging"])
    expected = build_counts(build, ["marts.fct_orders", "reference.countries", "staging.stg_lake"])
    assert result.row_counts == expected
    with connect_serving(layout.serving_file) as con:
        kinds = con.execute(
            "SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables ORDER BY 1"
        ).fetchall()
        assert kinds == [("main._publication", "BASE TABLE"), *((r, "BASE TABLE") for r in sorted(expected))]
        assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'fct_orders'").fetchone() == (
            "one row per order",
        )
        assert con.execute("SELECT comment FROM duckdb_columns() WHERE column_name = 'revenue'").fetchone() == (
            "order revenue in EUR",
        )
        # Types survive: DATE stays DATE, the view's DOUBLE stays DOUBLE.
        assert con.execute("SELECT data_type FROM duckdb_columns() WHERE column_name = 'order_date'").fetchone() == (
            "DATE",
        )
    rows = read_publication(layout.serving_file)
    assert {(r[5] + "." + r[6], r[7]) for r in rows} == set(expected.items())
    assert {r[0] for r in rows} == {result.version} == {1}
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
    ).stdout.strip()
    assert all(r[3].removesuffix("-dirty") == head for r in rows)
    assert not Path(f"{layout.serving_file}.wal").exists()
    assert layout.serving_file.samefile(layout.version_file(1))
    assert stat.S_IMODE(layout.version_file(1).stat().st_mode) == 0o444


def test_default_schemas_skip_missing_and_never_publish_dbt_leftovers(tmp_path: Path, layout: ServingLayout) -> None:
    build = make_build(tmp_path / "build.duckdb")
    result = serve(build, layout, schemas=["marts", "reference", "nope"])
    assert sorted(result.row_counts) == ["marts.fct_orders", "reference.countries"]
    assert any("'nope'" in w for w in result.warnings)
    with pytest.raises(RuntimeError, match="no tables or views"):
        serve(build, layout, schemas=["nope"])


def test_exports_match_serving_tables_and_current_points_at_version(build: Path, layout: ServingLayout) -> None:
    serve(build, layout, schemas=["marts", "reference"])
    result = serve(build, layout, schemas=["marts", "reference"])
    assert os.readlink(layout.exports_current) == "v000002"
    manifest = json.loads((layout.exports_current / "manifest.json").read_text())
    assert manifest["version"] == 2
    with connect_serving(layout.serving_file) as con:
        for entry in manifest["tables"]:
            table = pq.read_table(layout.exports_current / entry["file"])
            served = con.execute(f"SELECT * FROM {entry['schema']}.{entry['table']}").to_arrow_table()
            assert table.num_rows == entry["rows"] == result.row_counts[f"{entry['schema']}.{entry['table']}"]
            assert table.sort_by(table.column_names[0]).equals(served.sort_by(served.column_names[0]))
    assert pq.read_table(layout.exports_current / "_publication.parquet").column("version").to_pylist() == [2, 2]
    assert not [p for p in layout.exports_dir.iterdir() if p.name.startswith(".")]


def test_keep_prunes_old_versions_and_rollback_swaps_back(build: Path, layout: ServingLayout) -> None:
    for rows in (10, 20, 30, 40):
        make_build(build, marts_rows=rows)
        serve(build, layout, schemas=["marts"], keep=2)
    assert status(layout) == [(3, False, True), (4, True, True)]
    with connect_serving(layout.serving_file) as con:
        assert con.execute("SELECT count(*) FROM marts.fct_orders").fetchone()[0] == 40

    assert rollback(layout) == 3
    assert os.readlink(layout.exports_current) == "v000003"
    with connect_serving(layout.serving_file) as con:
        assert con.execute("SELECT count(*), max(version) FROM marts.fct_orders, _publication").fetchone() == (30, 3)
    with pytest.raises(RollbackError, match="no kept version older"):
        rollback(layout)
    with pytest.raises(RollbackError, match="not kept"):
        rollback(layout, to_version=1)
    assert rollback(layout, to_version=4) == 4
    # Numbers are never reused, even after a rollback.
    assert serve(build, layout, schemas=["marts"], keep=2).version == 5


def test_build_file_locked_by_a_writer_is_refused_clearly(build: Path, layout: ServingLayout) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)"),
            str(build),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(BuildFileLockedError, match="is `dbt build` running"):
            serve(build, layout, schemas=["marts"])
    finally:
        holder.kill()
        holder.wait()
    assert not layout.serving_file.exists()


def test_failing_checks_stop_publication_with_a_report(build: Path, layout: ServingLayout) -> None:
    serve(build, layout, schemas=["marts"])
    with duckdb.connect(str(build)) as con:
        con.execute(
            "CREATE TABLE marts.fct_bad AS SELECT * FROM (VALUES ('nan'::DOUBLE, 1.0::FLOAT), "
            "(2.0, 'inf'::FLOAT), (3.0, 2.0)) t(a, b)"
        )
        con.execute("CREATE TABLE marts.fct_empty (id INTEGER)")
    with pytest.raises(ChecksFailedError) as caught:
        serve(build, layout, schemas=["marts"])
    report = caught.value.report
    assert "1 of 6 post-build checks failed; nothing was published." in report
    assert "[     FAIL     ] finite_floating_columns: 2 NaN or infinite values in 2 column(s)" in report
    assert "marts.fct_bad.a: 1 NaN or infinite values" in report
    assert "marts.fct_bad.b: 1 NaN or infinite values" in report
    # An empty mart is reported, not blocking (it can be legitimate; the build marker covers half builds).
    assert "[     WARN     ] non_empty_tables: 1 of 3 relations have no rows" in report and "marts.fct_empty" in report
    assert status(layout) == [(1, True, True)]  # nothing new published, nothing left behind
    assert not [p for p in layout.versions_dir.iterdir() if p.name.startswith(".")]


def test_an_empty_mart_is_a_published_warning(build: Path, layout: ServingLayout) -> None:
    with duckdb.connect(str(build)) as con:
        con.execute("CREATE TABLE marts.fct_empty (id INTEGER)")
    result = serve(build, layout, schemas=["marts"])
    assert result.row_counts["marts.fct_empty"] == 0
    assert result.warnings == ["check non_empty_tables: 1 of 2 relations have no rows"]


def test_extra_sql_and_callable_checks_plug_in(build: Path, layout: ServingLayout) -> None:
    negative = SqlCheck("no_negative_revenue", "SELECT order_id, revenue FROM marts.fct_orders WHERE revenue > 5")

    class Explodes:
        name = "explodes"

        def __call__(self, con, relations):
            raise ValueError("boom")

    class OldStyle:  # returns failure strings, as checks written for the first publish did
        name = "old_style"

        def __call__(self, con, relations):
            return [f"{r.label} looked at" for r in relations if r.name == "fct_orders"]

    with pytest.raises(ChecksFailedError) as caught:
        serve(build, layout, schemas=["marts"], checks=[*default_checks(), negative, Explodes(), OldStyle()])
    report = caught.value.report
    assert "no_negative_revenue: 14 failing row(s)" in report  # orders 36..49 have revenue > 5
    assert "e.g. order_id=36, revenue=" in report
    assert "explodes: the check raised ValueError: boom" in report
    assert "old_style: 1 failure(s)" in report and "e.g. marts.fct_orders looked at" in report
    assert serve(build, layout, schemas=["marts"], checks=[SqlCheck("ok", "SELECT 1 WHERE false")]).version == 1


def test_generic_checks_pass_on_clean_relations(build: Path) -> None:
    with duckdb.connect(str(build), read_only=True) as con:
        relations = [Relation("marts", "fct_orders", "table"), Relation("staging", "stg_lake", "view")]
        results = run_checks(con, relations, [NonEmptyTables(), FiniteFloatingColumns()])
    assert [(r.name, r.status) for r in results] == [
        ("non_empty_tables", Status.PASS),
        ("finite_floating_columns", Status.PASS),
    ]


def test_load_checks_from_module_spec() -> None:
    assert [c.name for c in load_checks("shop_analytics.checks:default_checks")] == [c.name for c in default_checks()]
    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        load_checks("no_colon")
    with pytest.raises(ValueError, match="cannot load check"):
        load_checks("shop_analytics.checks:missing")


def test_second_publish_waits_for_no_one_it_fails_fast(build: Path, layout: ServingLayout) -> None:
    with publish_lock(layout), pytest.raises(PublishError, match="another publish"):
        serve(build, layout, schemas=["marts"])


def test_stale_wal_next_to_serving_file_is_refused(build: Path, layout: ServingLayout) -> None:
    serve(build, layout, schemas=["marts"])
    Path(f"{layout.serving_file}.wal").write_bytes(b"junk")
    with pytest.raises(PublishError, match="opened the serving file read-write"):
        serve(build, layout, schemas=["marts"])
    with connect_serving(layout.serving_file) as con:  # still serving version 1
        assert con.execute("SELECT DISTINCT version FROM _publication").fetchall() == [(1,)]


def test_cli_publish_list_rollback_and_exit_codes(
    build: Path, layout: ServingLayout, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["publish", "--build-file", str(build), "--serving-root", str(layout.root), "--no-progress"]
    assert cli_main([*base, "--schemas", "marts,reference"]) == 0
    assert "published version 1" in capsys.readouterr().out
    assert cli_main([*base, "--schemas", "marts", "--keep", "3"]) == 0
    assert cli_main(["publish", "--serving-root", str(layout.root), "--list"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["  v000001  +parquet", "  v000002  served  +parquet"]
    assert cli_main(["publish", "--serving-root", str(layout.root), "--rollback"]) == 0
    assert "now serving version 1" in capsys.readouterr().out
    assert (
        cli_main([*base, "--schemas", "marts", "--check", "integration.test_publish:FAILING"]) == ExitCode.CHECKS_FAILED
    )
    err = capsys.readouterr().err
    assert "always_fails: 1 failing row(s)" in err
    assert err.rstrip().endswith("error: refused, a post-build check failed (still serving version 1, unchanged)")
    assert cli_main([*base, "--keep", "0"]) == ExitCode.USAGE
    assert cli_main(["publish", "--serving-root", str(layout.root), "--to-version", "1"]) == ExitCode.USAGE
    assert (
        cli_main(["publish", "--serving-root", str(layout.root), "--rollback", "--to-version", "1"]) == ExitCode.USAGE
    )  # already served
    with publish_lock(layout):
        assert cli_main([*base, "--schemas", "marts"]) == ExitCode.OPERATIONAL
    assert "another publish or rollback is running" in capsys.readouterr().err


FAILING = SqlCheck("always_fails", "SELECT 'planted failure' AS why")


def test_demo_summary_points_at_the_serving_file(build: Path, layout: ServingLayout, tmp_path: Path) -> None:
    from shop_analytics.cli.demo_summary import summary
    from shop_analytics.settings import DataLayout

    serve(build, layout, schemas=["marts", "reference"])
    text = summary(layout, DataLayout(tmp_path / "data"))
    assert "Published version 1" in text and str(layout.serving_file) in text
    assert "marts.fct_orders" in text and "SELECT * FROM marts.fct_orders LIMIT 10;" in text
    assert "shop-analytics shell --serving-root" in text and "-cmd" not in text
    assert f"duckdb:///{layout.serving_file}" in text
    assert str(build) not in text  # readers are never sent to the dbt build file


def test_cli_serves_next_to_the_given_build_file(
    build: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SHOP_ANALYTICS_SERVING_ROOT", raising=False)
    assert cli_main(["publish", "--build-file", str(build), "--schemas", "marts", "--no-progress"]) == 0
    assert (build.parent / "serving" / "shop_analytics.duckdb").exists()
    assert (build.parent / "exports" / "current" / "marts" / "fct_orders.parquet").exists()
