"""Landing batches are written atomically under valid, new ids; the command says what it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shop_analytics.importing import landing as landing_module
from support.import_support import ratings_doc, run_import, write_mapping
from support.pipeline import ROOT

CSV = "user,item,stars,ts\n1,a,5,2020-01-01 10:00:00\n2,b,4,2020-01-02 10:00:00\n"


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "r.csv"
    path.write_text(CSV)
    return path


@pytest.mark.parametrize(
    "batch_id",
    ["x" * 65, "../escape", "a/b", "", ".hidden", "-dash", "white space", "ünï", "a\nb", "batch_date=x", "x" * 10_000],
)
def test_odd_or_huge_batch_ids_are_refused(tmp_path: Path, batch_id: str) -> None:
    with pytest.raises(ValueError, match="is not valid: a batch id is 1 to 64"):
        run_import(tmp_path, _csv(tmp_path), ratings_doc(), batch_id=batch_id)
    assert not (tmp_path / "landing").exists()


def test_existing_and_case_twin_ids_are_refused(tmp_path: Path) -> None:
    run_import(tmp_path, _csv(tmp_path), ratings_doc(), batch_id="Day-1")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "landing").rglob("*"))
    for batch_id, words in (("Day-1", "already exists"), ("day-1", "differs only in case")):
        with pytest.raises(FileExistsError, match=words):
            run_import(tmp_path, _csv(tmp_path), ratings_doc(), batch_id=batch_id)
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "landing").rglob("*")) == before


def test_a_dimension_batch_id_already_taken_refuses_the_whole_import(tmp_path: Path) -> None:
    (tmp_path / "landing" / "users" / "batch_date=b1").mkdir(parents=True)
    doc = ratings_doc(dimensions={"users": {"constants": {"country_code": "US"}}})
    with pytest.raises(FileExistsError, match="users batch 'b1' already exists"):
        run_import(tmp_path, _csv(tmp_path), doc)
    assert not (tmp_path / "landing" / "ratings").exists()


def test_a_failure_midway_leaves_nothing_visible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = landing_module._write_settings

    def fail_second(path: Path, settings: dict[str, str], provenance: str) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(path, settings, provenance)

    monkeypatch.setattr(landing_module, "_write_settings", fail_second)
    doc = ratings_doc(dimensions={"users": {"constants": {"country_code": "US"}}})
    with pytest.raises(OSError, match="No space"):
        run_import(tmp_path, _csv(tmp_path), doc)
    leftovers = [p for p in (tmp_path / "landing").rglob("*") if p.is_file() or p.name.startswith(("batch", "."))]
    assert leftovers == []


def test_marker_is_last_and_files_are_complete(tmp_path: Path) -> None:
    result = run_import(tmp_path, _csv(tmp_path), ratings_doc())
    (batch,) = result.written
    names = sorted(p.name for p in batch.folder.iterdir())
    assert names == ["_SUCCESS", "_batch.yml", "part-0.json"]
    marker = batch.folder / "_SUCCESS"
    assert marker.stat().st_size == 0
    assert all(marker.stat().st_mtime_ns >= p.stat().st_mtime_ns for p in batch.folder.iterdir())
    assert [p.name for p in batch.folder.parent.iterdir()] == ["batch_date=b1"]  # no temporary folder left


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "shop-analytics"), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_ANALYTICS_")}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_command_prints_what_it_wrote(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, ratings_doc(dimensions={"users": {"constants": {"country_code": "US"}}}))
    result = _cli(
        "--data-dir", str(tmp_path / "data"), "import", str(_csv(tmp_path)),
        "--mapping", str(mapping), "--source", "ratings", "--batch-id", "b7",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"read 2 rows from {tmp_path / 'r.csv'} (csv)" in result.stdout
    assert (
        f"wrote users batch b7: 2 rows -> {tmp_path / 'data' / 'landing' / 'users' / 'batch_date=b7'}" in result.stdout
    )
    assert "wrote ratings batch b7: 2 rows" in result.stdout
    assert (tmp_path / "data" / "landing" / "ratings" / "batch_date=b7" / "_SUCCESS").is_file()


def test_command_errors_are_one_clear_line_with_exit_2(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, ratings_doc(colums={}))
    result = _cli("import", str(_csv(tmp_path)), "--mapping", str(mapping), "--source", "ratings", "--landing",
                  str(tmp_path / "landing"))  # fmt: skip
    assert result.returncode == 2
    assert (
        result.stderr.startswith("shop-analytics import: error: mapping file")
        and ": colums: unknown key" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "landing").exists()


def test_disk_full_is_an_operational_failure_with_exit_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shop_analytics.cli import main

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(landing_module, "_write_data", full)
    mapping = write_mapping(tmp_path, ratings_doc())
    landing = tmp_path / "landing"
    code = main(["import", str(_csv(tmp_path)), "--mapping", str(mapping), "--source", "ratings", "--landing",
                 str(landing)])  # fmt: skip
    assert code == 4
    assert "operational error: [Errno 28] No space left on device" in capsys.readouterr().err
    assert [p.name for p in (landing / "ratings").iterdir()] == []
