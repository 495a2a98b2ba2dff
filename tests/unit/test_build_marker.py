"""The build-marker rules (warehouse/build_marker.py) on recorded invocations, and publish on hand-made build
files with and without a marker. Real dbt invocations are in test_publish_guarded.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from shop_analytics.cli import main as cli_main
from shop_analytics.exit_codes import ExitCode
from shop_analytics.publish import ServingLayout, publish, status
from shop_analytics.warehouse import Invocation, judge_build, read_invocations
from support.build_files import make_build, record_invocation

RERUN = "Run `dbt build` (the whole project, no --select) and let it finish"


def _inv(
    command: str = "build",
    status: str = "finished",
    *,
    run: int = 10,
    failed: int = 0,
    skipped: int = 0,
    warned: int = 0,
    select: list[str] | None = None,
    empty: bool = False,
) -> Invocation:
    done = status == "finished"
    return Invocation(
        0,
        "0123456789abcdef",
        command,
        {"select": select or [], "empty": empty},
        dt.datetime(2024, 5, 1, 10),
        dt.datetime(2024, 5, 1, 11) if done else None,
        status,
        10 if done else None,
        run if done else None,
        run - failed - skipped - warned if done else None,
        warned if done else None,
        failed if done else None,
        skipped if done else None,
        "model.p.m (error)" if failed else "",
    )


VERDICTS = {
    "complete build": ([_inv()], True, "finished: 10 passed"),
    "build with test warnings": ([_inv(warned=2)], True, "8 passed, 2 warned"),
    "later passing test": ([_inv("test", run=4), _inv()], True, "finished"),
    "later freshness": ([_inv("freshness", failed=1), _inv()], True, "finished"),
    "later failing test": ([_inv("test", run=4, failed=1), _inv()], False, "found problems: 3 passed, 1 failed"),
    "later run": ([_inv("run", run=1), _inv()], False, "`dbt run` (invocation 01234567"),
    "later seed": ([_inv("seed", run=2), _inv()], False, "changed the warehouse after the last build"),
    "later retry": ([_inv("retry", run=2), _inv()], False, "changed the warehouse"),
    "later partial build": ([_inv(run=3, select=["stg_x"]), _inv()], False, "`dbt build --select stg_x`"),
    "build killed": ([_inv(status="running"), _inv()], False, "did not finish: it is still running or was killed"),
    "test killed": ([_inv("test", status="running"), _inv()], False, "did not finish"),
    "build with an error": (
        [_inv(failed=1, skipped=3)],
        False,
        "did not pass: 6 passed, 1 failed (model.p.m (error)), 3 skipped",
    ),
    "build with skips only": ([_inv(skipped=1)], False, "did not pass"),
    "partial build": ([_inv(run=4, select=["a"])], False, "ran 4 of the project's 10"),
    "empty build": ([_inv(empty=True)], False, "--empty or --sample"),
    "only a run": ([_inv("run")], False, "changed the warehouse"),
    "only tests": ([_inv("test")], False, "no `dbt build` is recorded"),
    "no marker": (None, False, "has no build marker"),
    "empty marker": ([], False, "has no build marker"),
}


@pytest.mark.parametrize("case", list(VERDICTS))
def test_build_marker_rules(case: str) -> None:
    invocations, complete, phrase = VERDICTS[case]
    verdict = judge_build(invocations)
    assert verdict.complete is complete, verdict.reason
    assert phrase in verdict.reason
    if not complete:
        assert RERUN in verdict.reason


def test_warnings_are_published_with_a_note(tmp_path: Path) -> None:
    build = make_build(tmp_path / "build.duckdb")
    record_invocation(build, "test", warned=1, nodes_run=3)
    result = publish(build, ServingLayout(tmp_path / "w"), schemas=["marts"], progress=False)
    assert result.version == 1 and any("1 test warning(s)" in w for w in result.warnings)


def test_a_build_file_without_marker_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = tmp_path / "build.duckdb"
    with duckdb.connect(str(build)) as con:
        con.execute("CREATE SCHEMA marts; CREATE TABLE marts.fct_x AS SELECT 1 AS x")
    layout = ServingLayout(tmp_path / "w")
    assert (
        cli_main(["publish", "--build-file", str(build), "--serving-root", str(layout.root)])
        == ExitCode.BUILD_INCOMPLETE
    )
    err = capsys.readouterr().err
    assert "has no build marker (_shop_meta.dbt_invocations)" in err and "Traceback" not in err
    assert (
        cli_main(["publish", "--build-file", str(tmp_path / "missing.duckdb"), "--serving-root", str(layout.root)])
        == ExitCode.BUILD_INCOMPLETE
    )
    assert "no dbt build file at" in capsys.readouterr().err
    assert status(layout) == []


def test_the_marker_schema_is_never_published(tmp_path: Path) -> None:
    build = make_build(tmp_path / "build.duckdb")
    result = publish(build, ServingLayout(tmp_path / "w"), schemas=["marts", "_shop_meta"], progress=False)
    assert not [t for t in result.row_counts if t.startswith("_shop_meta.")]


def test_read_invocations_reads_what_the_hooks_write(tmp_path: Path) -> None:
    build = make_build(tmp_path / "build.duckdb")
    record_invocation(build, "run", nodes_run=1, select=["stg_x"])
    record_invocation(build, "build", "running")
    with duckdb.connect(str(build), read_only=True) as con:
        newest, run, first = read_invocations(con)
    assert (newest.seq, newest.status, newest.nodes_run) == (3, "running", None)
    assert (run.command, run.selection["select"], run.nodes_run) == ("run", ["stg_x"], 1)
    assert first.finished_cleanly and not judge_build([newest, run, first]).complete
