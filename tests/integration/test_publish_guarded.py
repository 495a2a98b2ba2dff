"""Publish only a complete, checked build, and keep serving the old version when it cannot publish.

Issue 14's table rows for the serving side, each driven through the real thing: dbt invocations
against a copy of the session warehouse (a failing model, a failing dbt test, a killed build, a
partial `dbt run`), a full disk at several points of publish (injected ENOSPC, and a real write
limit), and a failing domain check, which `check` and `publish` both report. The build-marker
rules on recorded invocations are in test_build_marker.py. This module uses only the command
line and the publish API, so it runs unchanged against older code (to show what it fixes).
"""

from __future__ import annotations

import errno
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from shop_analytics.cli import main as cli_main
from shop_analytics.exit_codes import ExitCode
from shop_analytics.publish import ServingLayout, publish, status
from shop_analytics.publish import exports as exports_module
from shop_analytics.publish import files as files_module
from shop_analytics.publish import publisher as publisher_module
from support.build_files import make_build, make_marts_build
from support.pipeline import BIN, ROOT, Warehouse

RERUN = "Run `dbt build` (the whole project, no --select) and let it finish"


def sha256(path: Path) -> str:
    """Content hash of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(layout: ServingLayout) -> list[str]:
    """Temporary names publish left in serving/, versions/ or exports/."""
    return sorted(
        str(p.relative_to(layout.root))
        for d in (layout.serving_dir, layout.versions_dir, layout.exports_dir)
        if d.exists()
        for p in d.iterdir()
        if p.name.startswith(".") and ".tmp" in p.name
    )


def marker_rows(build: Path) -> list[list]:
    """The build marker's rows, oldest first: invocation id, command, status, failed, skipped, run, in project."""
    with duckdb.connect(str(build), read_only=True) as con:
        return [
            list(row)
            for row in con.execute(
                "SELECT invocation_id, command, status, failed, skipped, nodes_run, nodes_in_project "
                "FROM _shop_meta.dbt_invocations ORDER BY seq"
            ).fetchall()
        ]


def cli_publish(build: Path, layout: ServingLayout, *extra: str) -> int:
    """`shop-analytics publish` in this process, defaults for tests."""
    return cli_main(
        ["publish", "--build-file", str(build), "--serving-root", str(layout.root), "--no-progress", *extra]
    )


# --- real dbt invocations against a copy of the session warehouse ------------------------------------


@dataclass(frozen=True)
class Served:
    """A private copy of the dbt-built warehouse, published once as version 1."""

    build: Path
    layout: ServingLayout
    env: dict[str, str]
    tmp: Path
    served_hash: str

    def dbt(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run dbt against the copy; the caller checks the outcome."""
        command = [
            str(BIN / "dbt"),
            *args,
            "--target-path",
            str(self.tmp / "target"),
            "--log-path",
            str(self.tmp / "logs"),
        ]
        return subprocess.run(
            command, cwd=ROOT, env=env or self.env, capture_output=True, text=True, timeout=600, check=False
        )

    def assert_still_serving_version_1(self) -> None:
        """The old version is served, byte-identical, and nothing was left behind."""
        assert status(self.layout) == [(1, True, True)]
        assert sha256(self.layout.serving_file) == self.served_hash
        assert os.readlink(self.layout.exports_current) == "v000001"
        assert leftovers(self.layout) == []


@pytest.fixture()
def served(warehouse: Warehouse, tmp_path: Path) -> Served:
    build = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse.path, build)
    layout = ServingLayout(tmp_path / "serving_root")
    assert publish(build, layout, progress=False).version == 1
    env = {**warehouse.env, "SHOP_ANALYTICS_WAREHOUSE": str(build), "SHOP_ANALYTICS_TEMP_DIR": str(tmp_path / "t")}
    return Served(build, layout, env, tmp_path, sha256(layout.serving_file))


def test_the_session_build_is_complete_and_publishes(
    warehouse: Warehouse, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [(invocation_id, *outcome)] = marker_rows(warehouse.path)
    assert outcome[:4] == ["build", "finished", 0, 0]
    assert outcome[4] == outcome[5] > 200  # every model, seed and test of the project ran
    assert cli_publish(warehouse.path, ServingLayout(tmp_path / "w")) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.startswith(f"build: `dbt build` (invocation {invocation_id[:8]}")
    assert "checks: 9 of 9 passed or not applicable" in out and "published version 1" in out


def test_a_failed_model_is_not_published(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    # A corrupt snapshot file: the users view fails to build, everything downstream is skipped.
    # (A missing lake is not a failure: every source may be absent, tests/test_dbt_empty_sources.py.)
    bad_lake = served.tmp / "bad_lake"
    (bad_lake / "users").mkdir(parents=True, exist_ok=True)
    (bad_lake / "users" / "batch_corrupt.parquet").write_bytes(b"not a parquet file")
    broken = {**served.env, "SHOP_ANALYTICS_LAKE_DIR": str(bad_lake)}
    result = served.dbt("build", env=broken)
    assert result.returncode != 0 and "stg_shop__users" in result.stdout
    # `check` says so too (it ran the checks on the old marts and passed them, exit 0).
    assert cli_main(["check", "--warehouse", str(served.build)]) == ExitCode.BUILD_INCOMPLETE
    assert capsys.readouterr().out.startswith("build: `dbt build` (invocation")
    assert cli_publish(served.build, served.layout) == ExitCode.BUILD_INCOMPLETE
    err = capsys.readouterr().err
    assert "`dbt build` (invocation" in err and "did not pass" in err
    assert "model.shop_analytics.stg_shop__users (error)" in err and "skipped" in err
    assert err.count("\n") == 1 and "Traceback" not in err  # one line
    served.assert_still_serving_version_1()


def test_a_failing_dbt_test_is_not_published(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    with duckdb.connect(str(served.build)) as con:  # a duplicate customer breaks the summary's unique test
        con.execute(
            "INSERT INTO marts.dim_customer_purchase_summary SELECT * FROM marts.dim_customer_purchase_summary LIMIT 1"
        )
    result = served.dbt("test", "--select", "dim_customer_purchase_summary")
    assert result.returncode != 0 and "unique" in result.stdout
    assert cli_main(["check", "--warehouse", str(served.build)]) == ExitCode.BUILD_INCOMPLETE
    capsys.readouterr()
    assert cli_publish(served.build, served.layout) == ExitCode.BUILD_INCOMPLETE
    err = capsys.readouterr().err
    assert "`dbt test --select dim_customer_purchase_summary`" in err and "found problems" in err
    assert "(fail)" in err
    served.assert_still_serving_version_1()


def test_a_passing_dbt_test_after_the_build_keeps_it_publishable(served: Served) -> None:
    result = served.dbt("test", "--select", "stg_shop__users")
    assert result.returncode == 0, result.stdout[-3000:]
    assert cli_publish(served.build, served.layout) == ExitCode.OK
    assert status(served.layout)[-1] == (2, True, True)


def test_a_partial_dbt_run_is_not_published(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    result = served.dbt("run", "--select", "stg_shop__users")
    assert result.returncode == 0, result.stdout[-3000:]
    assert cli_publish(served.build, served.layout) == ExitCode.BUILD_INCOMPLETE
    err = capsys.readouterr().err
    assert "`dbt run --select stg_shop__users`" in err and "changed the warehouse after the last build" in err
    served.assert_still_serving_version_1()


def test_a_killed_dbt_build_is_not_published(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    process = subprocess.Popen(
        [
            str(BIN / "dbt"),
            "build",
            "--target-path",
            str(served.tmp / "target"),
            "--log-path",
            str(served.tmp / "logs"),
        ],
        cwd=ROOT,
        env=served.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    try:
        for line in process.stdout:  # the first node starts after the on-run-start hook recorded the run
            seen.append(line)
            if " START " in line and " hook: " not in line:
                break
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=60)
    assert any(" START sql " in line for line in seen), "".join(seen)[-3000:]
    assert [row[1:3] for row in marker_rows(served.build)] == [["build", "finished"], ["build", "running"]]
    assert cli_publish(served.build, served.layout) == ExitCode.BUILD_INCOMPLETE
    err = capsys.readouterr().err
    assert "did not finish: it is still running or was killed" in err and RERUN in err
    served.assert_still_serving_version_1()


# --- a full disk during publish -----------------------------------------------------------------------


def _enospc(*_: object, **__: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _materialize_then_disk_full(original: Callable) -> Callable:
    def materialize(*args: object, **kwargs: object) -> object:
        original(*args, **kwargs)
        raise duckdb.IOException(
            'IO Error: Could not write all bytes to file "serving.duckdb": '
            "wanted=262144 wrote=4096 (No space left on device)"
        )

    return materialize


FAULTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "writing the new file": lambda mp: mp.setattr(
        publisher_module, "materialize", _materialize_then_disk_full(publisher_module.materialize)
    ),
    "writing the Parquet exports": lambda mp: mp.setattr(exports_module, "fsync_tree", _enospc),
    "linking the serving name": lambda mp: mp.setattr(files_module.os, "link", _enospc),
    "making the exports symlink": lambda mp: mp.setattr(files_module.os, "symlink", _enospc),
}


@pytest.mark.parametrize("where", list(FAULTS))
def test_disk_full_keeps_the_served_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    build = make_build(tmp_path / "build.duckdb")
    layout = ServingLayout(tmp_path / "w")
    assert cli_publish(build, layout) == ExitCode.OK
    served_hash = sha256(layout.serving_file)
    capsys.readouterr()
    with monkeypatch.context() as mp:
        FAULTS[where](mp)
        assert cli_publish(build, layout) == ExitCode.OPERATIONAL
    err = capsys.readouterr().err
    assert err.startswith("shop-analytics publish: error: disk full: ") and err.count("\n") == 1, err
    assert "nothing was published (still serving version 1, unchanged)" in err and "Traceback" not in err
    assert status(layout) == [(1, True, True)] and sha256(layout.serving_file) == served_hash
    assert os.readlink(layout.exports_current) == "v000001"
    assert leftovers(layout) == [] and not layout.export_dir(2).exists()
    assert cli_publish(build, layout) == ExitCode.OK  # space is back: the next publish goes through
    assert status(layout)[-1] == (2, True, True)


def test_a_real_write_limit_is_an_operational_error(tmp_path: Path) -> None:
    """No fault injection: the publish process may not write files over 64 KiB (RLIMIT_FSIZE, no root needed)."""
    build = make_build(tmp_path / "build.duckdb", marts_rows=200_000)
    layout = ServingLayout(tmp_path / "w")
    assert publish(build, layout, schemas=["marts"], progress=False).version == 1
    served_hash = sha256(layout.serving_file)

    def limit_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write over the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "shop_analytics.cli",
            "publish",
            "--build-file",
            str(build),
            "--serving-root",
            str(layout.root),
            "--schemas",
            "marts",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        preexec_fn=limit_writes,
        timeout=300,
        check=False,
    )
    assert result.returncode == ExitCode.OPERATIONAL, result.stderr
    assert result.stderr.startswith("shop-analytics publish: error: ") and result.stderr.count("\n") == 1
    assert "still serving version 1, unchanged" in result.stderr and "Traceback" not in result.stderr
    assert status(layout) == [(1, True, True)] and sha256(layout.serving_file) == served_hash
    assert leftovers(layout) == []


# --- one check framework: `check` and `publish` run the same checks -----------------------------------

BREAKAGES = {
    "similarity out of range": "UPDATE marts.rpt_user_similarity SET similarity = 1.5 WHERE user_id = 1",
    "recommended an item already seen": "INSERT INTO marts.rpt_recommendations VALUES (3, 13, 2)",
    "popularity above the user count": "UPDATE marts.rpt_item_popularity SET viewer_count = 4 WHERE item_id = 10",
    "purchase summary off": (
        "UPDATE marts.dim_customer_purchase_summary SET line_count = line_count + 1 "
        "WHERE customer_id = (SELECT min(customer_id) FROM marts.dim_customer_purchase_summary)"
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_failing_domain_check_stops_publish_as_it_fails_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], breakage: str
) -> None:
    build = make_marts_build(tmp_path / "wh.duckdb", BREAKAGES[breakage])
    assert cli_main(["check", "--warehouse", str(build)]) == ExitCode.CHECKS_FAILED
    report = capsys.readouterr().out
    [failing_line] = [line for line in report.splitlines() if line.startswith("[     FAIL     ]")]
    layout = ServingLayout(tmp_path / "serving_root")
    assert cli_publish(build, layout) == ExitCode.CHECKS_FAILED
    err = capsys.readouterr().err
    assert failing_line in err  # the same check, the same finding, word for word
    assert err.rstrip().endswith("error: refused, a post-build check failed (nothing is served yet)")
    assert status(layout) == [] and leftovers(layout) == []


def test_consistent_marts_pass_check_and_publish(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = make_marts_build(tmp_path / "wh.duckdb")
    assert cli_main(["check", "--warehouse", str(build)]) == ExitCode.OK
    assert "9 checks: 9 passed, 0 failed, 0 warned, 0 not applicable" in capsys.readouterr().out
    assert cli_publish(build, ServingLayout(tmp_path / "w")) == ExitCode.OK
