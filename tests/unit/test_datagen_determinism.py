"""Same seed and scale give byte-identical files, whatever the number of workers."""

from __future__ import annotations

import hashlib
from pathlib import Path

from shop_analytics.datagen import GeneratorConfig, generate

CONFIG = GeneratorConfig(scale=0.005, seed=11, chunk_rows=2_000)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    generate(CONFIG, tmp_path / "a", workers=1, progress=False)
    generate(CONFIG, tmp_path / "b", workers=2, progress=False)
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert len(a) > 100  # many batches and files were compared, not an empty folder
    assert a == b


def test_different_seed_changes_the_data(tmp_path: Path) -> None:
    generate(CONFIG, tmp_path / "a", progress=False)
    other = GeneratorConfig(scale=CONFIG.scale, seed=CONFIG.seed + 1, chunk_rows=CONFIG.chunk_rows)
    generate(other, tmp_path / "b", progress=False)
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    # Which later batches receive a month's late cancellations and returns depends on the data.
    planned = {name for name in a if "/reversals-of-" not in name}
    assert planned == {name for name in b if "/reversals-of-" not in name}
    # Completion markers are empty in both; batch settings are the same text.
    data = [name for name in planned if not name.endswith(("/_SUCCESS", "/_batch.yml"))]
    differing = [name for name in data if a[name] != b[name]]
    assert len(differing) > 0.9 * len(data)
