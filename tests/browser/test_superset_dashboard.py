"""Superset as `make bi` sets it up, in headless Chromium: every chart renders with data, a new publication
shows on refresh, the connection keeps the safe reader settings, and error or empty tiles are caught.

One Superset (its own virtualenv, built with `make bi-venv` when missing) serves a publish of the test
warehouse on a free port of 127.0.0.1. The tests run in file order: they publish a second version in the
middle and re-provision at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from shop_analytics.publish import ServingLayout, publish
from support.bi import bundle, ctl
from support.browser import ROOT, free_port, wait_for

BI_PYTHON = ROOT / ".venv-bi" / "bin" / "python"
CTL = ROOT / "bi" / "ctl.py"
RENDER_TIMEOUT_S = 120
READER_MEMORY, READER_SPILL = "256MB", "64MB"

# The state of every chart tile: error (an alert), empty (Superset's empty state), loading, data
# (a table with rows or a drawn ECharts canvas), or pending (none of these yet).
TILES_JS = """
return Array.from(document.querySelectorAll('[data-test="chart-grid-component"]')).map(el => {
  const alert = el.querySelector('[role="alert"]');
  const empty = el.querySelector('[data-test="empty-state"]')
      || /No results were returned for this query|No records found/.test(el.innerText);
  const loading = el.querySelector('[data-test="loading-indicator"]');
  const canvases = Array.from(el.querySelectorAll('canvas')).filter(c => c.width > 0 && c.height > 0).length;
  const rows = Array.from(el.querySelectorAll('table tbody tr')).map(
      tr => Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()));
  const state = alert ? 'error' : empty ? 'empty' : loading ? 'loading'
      : (rows.length > 0 || canvases > 0) ? 'data' : 'pending';
  return {name: el.getAttribute('data-test-chart-name'), viz: el.getAttribute('data-test-viz-type'),
          state: state, rows: rows, canvases: canvases, alert: alert ? alert.innerText.slice(0, 400) : ''};
});
"""


@dataclass
class Superset:
    """A running Superset on a publish of the test warehouse."""

    url: str
    home: Path
    password: str
    layout: ServingLayout
    build_file: Path
    definitions: object  # bundle.Definitions

    spill_root: Path

    @property
    def env(self) -> dict[str, str]:
        """Small reader limits, so that the spill cap can be hit with a modest query."""
        return {
            **os.environ,
            "SHOP_ANALYTICS_READER_MEMORY_LIMIT": READER_MEMORY,
            "SHOP_ANALYTICS_READER_TEMP_LIMIT": READER_SPILL,
            "SHOP_ANALYTICS_READER_TEMP_DIR": str(self.spill_root),
        }

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BI_PYTHON), str(CTL), *args, "--home", str(self.home)],
            check=False,
            capture_output=True,
            text=True,
            timeout=900,
            cwd=ROOT,
            env=self.env,
        )


@pytest.fixture(scope="module")
def bi_venv() -> Path:
    """Superset's virtualenv (.venv-bi), built from requirements/bi.lock by `make bi-venv` when missing."""
    result = subprocess.run(
        ["make", "--no-print-directory", "bi-venv"], cwd=ROOT, check=False, capture_output=True, text=True, timeout=1800
    )
    assert result.returncode == 0, f"make bi-venv failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert BI_PYTHON.exists()
    return BI_PYTHON


@pytest.fixture(scope="module")
def superset(bi_venv: Path, warehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Superset]:
    layout = ServingLayout(tmp_path_factory.mktemp("bi-serving"))
    publish(warehouse.path, layout, progress=False)
    home = tmp_path_factory.mktemp("superset-home")
    port = free_port()
    started = Superset(
        f"http://127.0.0.1:{port}", home, "", layout, warehouse.path, bundle.load_definitions(), home / "spill"
    )
    result = started.ctl("up", "--port", str(port), "--serving-file", str(layout.serving_file))
    try:
        assert result.returncode == 0, f"bi/ctl.py up failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        assert f"http://127.0.0.1:{port}/superset/dashboard/shop-analytics/" in result.stdout
        started.password = (home / "admin_password").read_text().strip()
        assert started.password in result.stdout, "the new admin password is printed once"
        yield started
    finally:
        stopped = started.ctl("stop")
        assert stopped.returncode == 0, stopped.stderr


def _login(browser: webdriver.Chrome, superset: Superset, attempts: int = 3) -> None:
    """Log in as admin; a login that lands on the login page again is tried again, up to `attempts` times.

    Superset's login page posts its event log (`/superset/log/`) anonymously now and then; in one CI
    run that post crossed the login's, and the accepted login (302 to /superset/welcome/) came back
    to the login page with no session. The page is Superset's, not the project's.
    """
    for attempt in range(1, attempts + 1):
        browser.get(f"{superset.url}/login/")
        browser.find_element(By.ID, "username").send_keys("admin")
        browser.find_element(By.ID, "password").send_keys(superset.password)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        try:
            wait_for(browser, lambda d: "/login" not in d.current_url, 30, "the login to finish")
            return
        except AssertionError:
            if attempt == attempts:
                raise


def _dashboard_tiles(browser: webdriver.Chrome, superset: Superset, expected: int) -> list[dict]:
    """Open (or reload) the dashboard and return the tiles once every one has finished."""
    browser.get(f"{superset.url}/superset/dashboard/{superset.definitions.dashboard['slug']}/")

    def settled(driver: webdriver.Chrome) -> list[dict] | None:
        tiles = driver.execute_script(TILES_JS)
        done = len(tiles) == expected and all(t["state"] in ("data", "error", "empty") for t in tiles)
        return tiles if done else None

    return wait_for(browser, settled, RENDER_TIMEOUT_S, f"{expected} dashboard tiles to finish")


def _served_publication(layout: ServingLayout) -> tuple[str, str]:
    with duckdb.connect(str(layout.serving_file), read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT version::VARCHAR, strftime(published_at, '%Y-%m-%d %H:%M:%S') FROM _publication"
        ).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def _publication_tile(tiles: list[dict], superset: Superset) -> list[str]:
    title = next(c.title for c in superset.definitions.charts if c.name == "publication")
    tile = next(t for t in tiles if t["name"] == title)
    assert tile["state"] == "data" and len(tile["rows"]) == 1, tile
    return tile["rows"][0]


def test_dashboard_renders_every_chart_with_data(superset: Superset, browser: webdriver.Chrome, screenshot) -> None:
    _login(browser, superset)
    tiles = _dashboard_tiles(browser, superset, len(superset.definitions.charts))
    assert sorted(t["name"] for t in tiles) == sorted(c.title for c in superset.definitions.charts)
    problems = [t for t in tiles if t["state"] != "data"]
    assert not problems, json.dumps(problems, indent=1)
    for tile in tiles:  # tables have rows, ECharts drew a canvas
        assert tile["rows"] or tile["canvases"], tile
    version, published_at = _served_publication(superset.layout)
    assert _publication_tile(tiles, superset)[:2] == [version, published_at]
    screenshot(browser, "superset_dashboard")


def test_new_publication_shows_after_refresh(superset: Superset, browser: webdriver.Chrome) -> None:
    before = _served_publication(superset.layout)
    publish(superset.build_file, superset.layout, progress=False)
    after = _served_publication(superset.layout)
    assert int(after[0]) == int(before[0]) + 1
    tiles = _dashboard_tiles(browser, superset, len(superset.definitions.charts))
    assert [t for t in tiles if t["state"] != "data"] == []
    assert _publication_tile(tiles, superset)[:2] == list(after), "the dashboard still shows the old version"


def test_superset_connection_keeps_the_safe_reader_settings(superset: Superset) -> None:
    probe = subprocess.run(
        [str(BI_PYTHON), str(Path(__file__).with_name("superset_engine_probe.py")), superset.definitions.database_uuid],
        env={**superset.env, **ctl.superset_env(superset.home)},
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found["pool"] == "NullPool"  # no pooled connection keeps an old version open
    settings = found["settings"]
    assert (settings["access_mode"], settings["enable_external_access"], settings["lock_configuration"]) == (
        "read_only",
        "false",
        "true",
    )
    assert settings["memory_limit"] == "244.1 MiB"  # 256MB, as DuckDB shows it
    # bi/duckdb_reader.py: a private spill folder per process under the configured root, capped.
    assert Path(settings["temp_directory"]).parent == superset.spill_root
    assert settings["max_temp_directory_size"] == "61.0 MiB"  # 64MB
    assert oct(superset.spill_root.stat().st_mode & 0o777) == "0o700"
    assert found["version"] == int(_served_publication(superset.layout)[0])
    refusals = {
        "create_table": "read-only mode",
        "copy_to": "disabled by configuration",
        "read_text": "disabled by configuration",
        "attach": "disabled by configuration",
        "set_external_access": "the configuration has been locked",
        "set_memory_limit": "the configuration has been locked",
        "set_temp_directory": "the configuration has been locked",
        "spill_beyond_cap": "failed to offload data block",  # the cap, not the disk, stopped it
    }
    for attempt, message in refusals.items():
        assert message in found[attempt], f"{attempt}: {found[attempt]}"
    assert "/61.0 MiB used)" in found["spill_beyond_cap"]  # the 64MB cap
    assert not list(superset.layout.serving_dir.glob("*.tmp")), "nothing spilled next to the serving file"


def test_error_and_empty_tiles_are_caught_and_removed_charts_pruned(
    superset: Superset, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    definitions = tmp_path / "definitions"
    shutil.copytree(ROOT / "bi" / "definitions", definitions)
    broken = {
        "title": "broken on purpose",
        "dataset": {"table": "marts.rpt_item_popularity"},
        "viz_type": "table",
        "position": {"row": 9, "width": 6, "height": 30},
        "params": {
            "query_mode": "aggregate",
            "groupby": ["page_url_path"],
            "row_limit": 5,
            "metrics": [{"expressionType": "SQL", "sqlExpression": "sum(no_such_column)", "label": "x"}],
        },
    }
    empty = {
        **broken,
        "title": "empty on purpose",  # on a dataset of its own, which goes with it
        "dataset": {
            "name": "probe_no_rows",
            "sql": "SELECT page_url_path FROM marts.rpt_item_popularity WHERE viewer_count < 0",
        },
        "params": {"query_mode": "raw", "all_columns": ["page_url_path"], "row_limit": 5},
    }
    (definitions / "charts" / "zz_broken.yaml").write_text(json.dumps(broken))
    (definitions / "charts" / "zz_empty.yaml").write_text(json.dumps(empty))
    serving = ["--serving-file", str(superset.layout.serving_file)]
    added = superset.ctl("provision", *serving, "--definitions", str(definitions))
    assert added.returncode == 0, added.stderr
    assert f"{len(superset.definitions.charts) + 2} charts" in added.stdout

    tiles = _dashboard_tiles(browser, superset, len(superset.definitions.charts) + 2)
    states = {t["name"]: t["state"] for t in tiles}
    assert states.pop("broken on purpose") == "error"
    assert states.pop("empty on purpose") == "empty"
    assert set(states.values()) == {"data"}
    broken_tile = next(t for t in tiles if t["name"] == "broken on purpose")
    assert "no_such_column" in broken_tile["alert"]

    restored = superset.ctl("provision", *serving)
    assert restored.returncode == 0, restored.stderr
    assert "removed chart 'broken on purpose'" in restored.stdout
    assert "removed chart 'empty on purpose'" in restored.stdout
    assert "removed dataset 'probe_no_rows'" in restored.stdout
    assert "rpt_item_popularity" not in restored.stdout  # still used by a defined chart
    tiles = _dashboard_tiles(browser, superset, len(superset.definitions.charts))
    assert {t["state"] for t in tiles} == {"data"}
