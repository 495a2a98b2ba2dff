"""The ways to start the command still work after the package moved into cli/: no warning, same commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = ("import", "generate", "ingest", "publish", "check", "shell", "bench", "spark-server")


def _run_module(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-W", "error", "-m", module, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("module", ["shop_analytics.cli"])
def test_python_dash_m_entry_points_start_without_warnings(module: str) -> None:
    result = _run_module(module, "--help")
    assert result.returncode == 0 and not result.stderr, result.stderr
    assert result.stdout.startswith("usage:")


def test_demo_summary_without_a_serving_file_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "SHOP_ANALYTICS_WAREHOUSE": str(tmp_path / "warehouse.duckdb")}
    env.pop("SHOP_ANALYTICS_SERVING_ROOT", None)
    result = _run_module("shop_analytics.cli.demo_summary", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith(f"no serving file at {tmp_path / 'serving'}"), result.stderr


def test_every_command_is_registered() -> None:
    result = _run_module("shop_analytics.cli", "--help")
    assert result.returncode == 0, result.stderr
    assert "{" + ",".join(COMMANDS) + "}" in result.stdout
