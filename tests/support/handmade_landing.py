"""Small hand-made landing data for the ingest hardening tests: a committed baseline, batch writers, snapshots.

The baseline data root holds users 1..20, items 1..20 and one committed purchases batch
COMMITTED_ID (20 clean rows and one invalid amount, so the quarantine is not empty).
Tests copy it, land one crafted input, run ingest (in-process through the CLI, or in a
subprocess when they kill it), and compare every file under lake/ and quarantine/
before and after.

SHOP_ANALYTICS_TEST_WITHOUT_MARKERS=1 lands batches without the completion marker, and
SHOP_ANALYTICS_TEST_PYTHONPATH points subprocesses at other code: both only serve to run
these tests against code from before this hardening, to show which cases failed there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shop_analytics import cli
from shop_analytics.ingest import audit_rows
from shop_analytics.quality.raw_contract import ITEMS, PURCHASES, RATINGS, USERS
from shop_analytics.settings import DataLayout
from support.pipeline import ROOT

COMMITTED_ID = "2018-12-01_1"  # shares its prefix with NEW_ID: batch X_1 next to batch X
NEW_ID = "2018-12-01"
T0 = dt.datetime(2018, 6, 1, 12, 0)
COMPLETION_MARKER = "_SUCCESS"  # spelled out: the tests must not trust the code's constant
# Only for running these tests against code from before the marker existed (which would
# take _SUCCESS for a data file): land batches without it (see the module docstring).
WRITE_MARKERS = os.environ.get("SHOP_ANALYTICS_TEST_WITHOUT_MARKERS") != "1"


def users_table(n: int = 20) -> pa.Table:
    """Users 1..n in the contract's schema."""
    return pa.table(
        {
            "user_id": list(range(1, n + 1)),
            "country_code": ["US", "GB"] * (n // 2) + ["US"] * (n % 2),
            "signup_at": [dt.datetime(2017, 1, 1)] * n,
        },
        schema=USERS.schema,
    )


def items_table(n: int = 20) -> pa.Table:
    """Items 1..n in the contract's schema."""
    return pa.table(
        {
            "item_id": list(range(1, n + 1)),
            "category": ["books"] * n,
            "page_url_path": [f"/items/{i}" for i in range(1, n + 1)],
            "price": [9.99] * n,
            "created_at": [dt.datetime(2017, 1, 1)] * n,
        },
        schema=ITEMS.schema,
    )


def purchases_table(first_id: int, n: int = 20, **columns: Sequence) -> pa.Table:
    """`n` clean purchases with ids from `first_id`: known users and items, whole-cent amounts; `columns` override."""
    data = {
        "purchase_id": list(range(first_id, first_id + n)),
        "purchased_at": [T0 + dt.timedelta(hours=i) for i in range(n)],
        "user_id": [1 + i % 20 for i in range(n)],
        "item_id": [1 + (3 * i) % 20 for i in range(n)],
        "quantity": [1 + i % 3 for i in range(n)],
        "amount": [round(9.99 * (1 + i % 3), 2) for i in range(n)],
    }
    data.update({k: list(v) for k, v in columns.items()})
    return pa.table({f.name: pa.array(data[f.name], f.type) for f in PURCHASES.schema})


def ratings_table(first_id: int, n: int = 20) -> pa.Table:
    """`n` clean ratings with ids from `first_id`."""
    return pa.table(
        {
            "rating_id": list(range(first_id, first_id + n)),
            "rated_at": [T0 + dt.timedelta(hours=i) for i in range(n)],
            "user_id": [1 + i % 20 for i in range(n)],
            "item_id": [1 + (7 * i) % 20 for i in range(n)],
            "rating": [1 + i % 5 for i in range(n)],
        },
        schema=RATINGS.schema,
    )


def csv_bytes(table: pa.Table | dict[str, Sequence[str | None]]) -> bytes:
    """CSV text with a header: a table as pyarrow writes it, or columns of raw cell strings (None = empty)."""
    if isinstance(table, pa.Table):
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink)
        return sink.getvalue().to_pybytes()
    names = list(table)
    lines = [",".join(names)]
    for row in zip(*table.values(), strict=True):
        lines.append(",".join("" if cell is None else _csv_cell(cell) for cell in row))
    return ("\n".join(lines) + "\n").encode()


def _csv_cell(cell: str) -> str:
    if any(c in cell for c in ',"\n\r') or cell != cell.strip():
        return '"' + cell.replace('"', '""') + '"'
    return cell


def land(root: Path, source: str, batch_id: str, files: dict[str, pa.Table | bytes], marker: bool = True) -> Path:
    """Write `files` into ``landing/<source>/batch_date=<batch_id>/``, then the completion marker."""
    folder = root / "landing" / source / f"batch_date={batch_id}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, pa.Table):
            pq.write_table(content, folder / name)
        else:
            (folder / name).write_bytes(content)
    if marker and WRITE_MARKERS:
        (folder / COMPLETION_MARKER).touch()
    return folder


def build_baseline(root: Path) -> None:
    """Users, items and the committed purchases batch COMMITTED_ID (one quarantined row), ingested."""
    land(root, "users", "2018-01-01", {"part-0.parquet": users_table()})
    land(root, "items", "2018-01-01", {"part-0.parquet": items_table()})
    committed = pa.concat_tables([purchases_table(1), purchases_table(1000, 1, amount=[-5.0])])
    land(root, "purchases", COMMITTED_ID, {"part-0.parquet": committed})
    code, out, err = run_cli(root)
    assert code == 0, (out, err)


def ingest_args(root: Path, *extra: str) -> list[str]:
    """Command-line arguments of `shop-analytics ingest` on data root `root` with the repo's seeds and contracts."""
    return [
        "--data-dir",
        str(root),
        "ingest",
        "--countries",
        str(ROOT / "seeds" / "countries.csv"),
        "--contracts",
        str(ROOT / "contracts"),
        "--no-data-docs",
        "--no-progress",
        *extra,
    ]


def run_cli(root: Path, *extra: str) -> tuple[int, str, str]:
    """`shop-analytics ingest` in this process on data root `root`: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(ingest_args(root, *extra))
    return code, out.getvalue(), err.getvalue()


def run_cli_subprocess(root: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    """The same in a child process (to SIGKILL it or limit it); PYTHONPATH decides which code runs."""
    # A script file, not `python -c`: pyspark (imported by GX when installed) exits a
    # process whose __main__ has no file, taking it for a doctest run.
    script = root.parent / f"run_ingest_{root.name}.py"
    script.write_text(
        "import os, resource, signal, sys\n"
        "limit = os.environ.get('SHOP_TEST_FSIZE_LIMIT')\n"
        "if limit:  # the kernel refuses to grow files past this: EFBIG, a real I/O error\n"
        "    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))\n"
        "from shop_analytics import cli\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    full_env = {
        **os.environ,
        "PYTHONPATH": os.environ.get("SHOP_ANALYTICS_TEST_PYTHONPATH", str(ROOT / "python")),
        **env,
    }
    command = [sys.executable, str(script), *ingest_args(root, *extra)]
    return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=600)


def snapshot(root: Path) -> dict[str, str]:
    """SHA-256 of every file under lake/ and quarantine/, by path relative to `root`."""
    out = {}
    for top in ("lake", "quarantine"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file() or path.is_symlink():
                out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def assert_untouched(before: dict[str, str], root: Path) -> dict[str, str]:
    """Every file of `before` is still there, byte for byte; return the files added since."""
    after = snapshot(root)
    changed = {p for p, h in before.items() if after.get(p) != h}
    assert not changed, f"earlier lake/quarantine files changed or deleted: {sorted(changed)}"
    return {p: h for p, h in after.items() if p not in before}


def expected_batch_files(source: str, batch_id: str, paths: Iterable[str]) -> bool:
    """True if every path is a file of exactly this batch (lake file name or quarantine folder)."""
    lake_names = (f"batch_{batch_id}.parquet",)
    for path in paths:
        parts = Path(path).parts
        if parts[0] == "quarantine":
            if parts[1:3] != (source, batch_id):
                return False
        elif parts[0] == "lake":
            name = parts[-1]
            stem = f"batch_{batch_id}_"
            if not (
                name in lake_names
                or (
                    name.startswith(stem) and name[len(stem) : -len(".parquet")].isdigit() and name.endswith(".parquet")
                )
            ):
                return False
            if parts[1] != source:
                return False
        else:
            return False
    return True


def audit(root: Path) -> dict[tuple[str, str], dict]:
    """The ingest audit by (source, batch id)."""
    return {(r["source"], r["batch_id"]): r for r in audit_rows(DataLayout(root))}


def lake_rows(root: Path, source: str, batch_id: str) -> list[dict]:
    """Rows of the lake files of exactly this batch (by exact file name), with event_date for facts."""
    files = [
        p
        for p in (root / "lake" / source).rglob("*.parquet")
        if expected_batch_files(source, batch_id, [p.relative_to(root).as_posix()])
    ]
    if not files:
        return []
    con = duckdb.connect()
    listing = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
    hive = "true" if source not in ("users", "items") else "false"
    return (
        con.execute(f"SELECT * FROM read_parquet({listing}, hive_partitioning = {hive}, union_by_name = true)")
        .to_arrow_table()
        .to_pylist()
    )


def quarantined_rows(root: Path, source: str, batch_id: str) -> list[dict]:
    """Rows of ``quarantine/<source>/<batch>/rejected.parquet`` (empty if there is none)."""
    path = root / "quarantine" / source / batch_id / "rejected.parquet"
    return pq.read_table(path).to_pylist() if path.exists() else []


def assert_accounted(root: Path, source: str, batch_id: str) -> dict:
    """The audit reconciles and the lake and quarantine hold exactly its row counts; return the audit row."""
    row = audit(root)[(source, batch_id)]
    assert row["rows_in"] == row["rows_admitted"] + row["rows_quarantined"], row
    assert len(lake_rows(root, source, batch_id)) == row["rows_admitted"]
    if row["status"] == "ingested":
        assert len(quarantined_rows(root, source, batch_id)) == row["rows_quarantined"]
    return row


@dataclass(frozen=True)
class Copy:
    """A private copy of the baseline and its snapshot."""

    root: Path
    before: dict[str, str]


def copy_baseline(baseline: Path, target: Path) -> Copy:
    """Copy the baseline data root to `target` and snapshot it."""
    shutil.copytree(baseline, target, symlinks=True)
    return Copy(target, snapshot(target))
