"""The "Connect a BI tool" recipes of docs/bi.md that can run here, run as written: the Python blocks (the
project's reader, plain duckdb, the Parquet exports with pandas) and the Superset engine parameters.
Metabase, DBeaver/JDBC and Evidence need tools that are not installed here: the page says they are
untested. Superset itself is tested in a browser (tests/browser/test_superset_dashboard.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shop_analytics.publish import ServingLayout, publish, sqlalchemy_connect_args
from support.pipeline import ROOT

SECTION = "## Connect a BI tool"
# Run after each recipe block, in the block's namespace: what the recipe gave must be real and safe.
CHECKS = """
import json as _json
_found = {}
if "con" in dir():
    _found["publication_rows"] = con.execute("SELECT count(*) FROM _publication").fetchone()[0]
    try:
        con.execute("SELECT * FROM read_text('/etc/passwd')").fetchall()
        _found["read_text"] = "allowed"
    except Exception as _exc:
        _found["read_text"] = str(_exc).splitlines()[0]
if "version" in dir():
    _found["export_version"] = version
    _found["countries"] = int(len(pd.read_parquet(f"{version}/reference/countries.parquet")))
print("RECIPE-RESULT " + _json.dumps(_found))
"""


def _section(readme: str) -> str:
    assert SECTION in readme, f"docs/bi.md has no {SECTION!r} section: update tests/integration/test_bi_recipes.py"
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    return readme[start : end if end > 0 else None]


def _python_blocks(section: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


@pytest.fixture(scope="module")
def project(warehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the project after `make demo`: warehouse/serving/… and warehouse/exports/…"""
    root = tmp_path_factory.mktemp("recipes")
    publish(warehouse.path, ServingLayout(root / "warehouse"), progress=False)
    return root


def test_readme_python_recipes_run_as_written(project: Path) -> None:
    blocks = _python_blocks(_section((ROOT / "docs" / "bi.md").read_text()))
    assert blocks, "no Python recipe in docs/bi.md's BI section"
    env = {**os.environ, "SHOP_ANALYTICS_WAREHOUSE": str(project / "warehouse" / "shop_analytics.duckdb")}
    env.pop("SHOP_ANALYTICS_SERVING_ROOT", None)
    for block in blocks:
        code = block.replace("/abs/warehouse/", f"{project}/warehouse/")
        # Each "# ..." paragraph of a block is an alternative; run each on its own, in a fresh process.
        for recipe in re.split(r"\n(?=# )", code):
            result = subprocess.run(
                [sys.executable, "-c", recipe + CHECKS],
                cwd=project,
                env=env,
                check=False,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, f"docs/bi.md recipe failed:\n{recipe}\n{result.stderr[-3000:]}"
            found = json.loads(result.stdout.split("RECIPE-RESULT ", 1)[1])
            assert found, f"the recipe made neither a connection nor an export path:\n{recipe}"
            if "publication_rows" in found:
                assert found["publication_rows"] > 0
                assert "disabled by configuration" in found["read_text"], recipe
            if "export_version" in found:
                assert found["export_version"] == str(project / "warehouse" / "exports" / "v000001")
                assert found["countries"] > 0


def test_readme_superset_engine_parameters_are_the_safe_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_ANALYTICS_READER_MEMORY_LIMIT", raising=False)
    section = _section((ROOT / "docs" / "bi.md").read_text())
    found = [json.loads(m) for m in re.findall(r"`(\{\"connect_args\".*?\})`", section)]
    assert found, "no engine parameters JSON in docs/bi.md's BI section"
    for params in found:
        assert params == {"connect_args": sqlalchemy_connect_args()}


def test_readme_marks_what_is_not_tested() -> None:
    section = _section((ROOT / "docs" / "bi.md").read_text())
    for tool in ("Metabase", "DBeaver", "Evidence"):
        paragraph = next(p for p in section.split("\n\n") if f"**{tool}" in p)
        assert "untested" in paragraph.lower(), f"docs/bi.md must say the {tool} recipe is untested"
    assert "Postgres" in section, "docs/bi.md must say Postgres-only tools are out of scope"
