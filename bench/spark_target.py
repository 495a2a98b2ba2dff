"""The dbt project built with `--target spark` on a local Spark Thrift Server, as bench_marts.py runs it.

The server is started and stopped with `shop-analytics spark-server` (its state in the work folder,
on a free port); the lake's tables are registered with `dbt run-operation create_lake_tables` and
the seeds loaded (both untimed, as the DuckDB build's seeds and staging views); then one measured
`dbt run` builds the selected models, while the server's process tree RSS is sampled; each model's
task-time skew is read from the server's event log afterwards (shop_analytics.spark.task_skew). Each mart is
exported as Parquet by the server itself for the row-for-row comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import Measurement, TreeRssSampler, measure, measurement_dict
from shop_analytics.settings import SparkServerSettings
from shop_analytics.spark import thrift_server
from shop_analytics.spark.event_log import event_log_files
from shop_analytics.spark.export import export_parquet
from shop_analytics.spark.task_skew import read_stages, skew_by_model

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The lake sources the marts read (the bench lake has no ratings or v1 purchases; Spark cannot register an
# empty folder, and staging reads a source with no table as empty).
LAKE_TABLES = ["users", "items", "page_views", "order_lines", "exchange_rates"]


@dataclass(frozen=True)
class SparkTargetRun:
    """One measured `dbt run --target spark` and what it took to prepare."""

    register: Measurement  # create_lake_tables (untimed in ratios)
    build: Measurement | None  # None when the build reached the time limit
    server_peak_rss_mib: float
    model_seconds: dict[str, float]  # execution time per model in Spark's run_results.json
    # Per model: task-time skew of its stages from Spark's event log (task_skew.ModelSkew.as_dict).
    task_skew: dict[str, dict[str, object]]

    @property
    def finished(self) -> bool:
        """True when the build ended within its time limit."""
        return self.build is not None

    def as_dict(self) -> dict:
        """JSON-ready figures."""
        return {
            "create_lake_tables": measurement_dict(self.register),
            "dbt_run": None if self.build is None else measurement_dict(self.build),
            "server_peak_rss_mib": round(self.server_peak_rss_mib, 1),
            "model_seconds": self.model_seconds,
            "task_skew": self.task_skew,
        }


def _env(work: Path, lake: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "SHOP_ANALYTICS_SPARK_DIR": str(work / "spark_server"),
        "SHOP_ANALYTICS_SPARK_PORT": str(port),
        "SHOP_ANALYTICS_TARGET": "spark",
        "SHOP_ANALYTICS_SPARK_METHOD": "thrift",
        "SHOP_ANALYTICS_SPARK_HOST": thrift_server.BIND_HOST,
        "SHOP_ANALYTICS_LAKE_DIR": str(lake),
        # One model at a time, as the DuckDB build.
        "SHOP_ANALYTICS_DBT_THREADS": "1",
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _dbt(work: Path, *args: str) -> list[str]:
    target = work / "spark_dbt"
    return [str(BIN / "dbt"), *args, "--target-path", str(target / "target"), "--log-path", str(target / "logs")]


def _spark_server(action: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "shop_analytics.cli", "spark-server", action], check=True, env=env)


def _model_seconds(work: Path) -> dict[str, float]:
    results = json.loads((work / "spark_dbt" / "target" / "run_results.json").read_text())["results"]
    return {
        r["unique_id"].rsplit(".", 1)[-1]: r["execution_time"] for r in results if r["unique_id"].startswith("model.")
    }


def _task_skew(env: dict[str, str]) -> dict[str, dict[str, object]]:
    """Each model's task-time skew in this server's event log (its stages, worst stage's max/median)."""
    event_log = thrift_server.ServerFiles(SparkServerSettings.from_env(env).state_dir).event_log
    by_node = skew_by_model(read_stages(event_log_files(event_log)))
    return {node.rsplit(".", 1)[-1]: skew.as_dict() for node, skew in by_node.items() if node.startswith("model.")}


def build_on_spark(work: Path, lake: Path, models: list[str], marts: list[str], limit: float) -> SparkTargetRun:
    """Build `models` and their parents on a local Spark within `limit` seconds; export `marts` to work/spark_out."""
    env = _env(work, lake, thrift_server.free_port())
    _spark_server("start", env)
    try:
        pid = thrift_server.status(SparkServerSettings.from_env(env)).pid
        if pid is None:
            raise RuntimeError("the Spark Thrift Server started but its pid file names no running server")
        tables = "{tables: [" + ", ".join(LAKE_TABLES) + "]}"
        register = measure(
            _dbt(work, "run-operation", "create_lake_tables", "--args", tables), repeats=1, env=env, cwd=ROOT
        )
        subprocess.run(_dbt(work, "seed"), check=True, env=env, cwd=ROOT)
        build: Measurement | None = None
        with TreeRssSampler(pid) as server_rss:
            try:
                selection = ["--select", *(f"+{model}" for model in models)]
                build = measure(_dbt(work, "run", *selection), repeats=1, env=env, cwd=ROOT, timeout=limit)
            except TimeoutError:
                build = None
        if build is not None:
            for mart in marts:
                export_parquet(int(env["SHOP_ANALYTICS_SPARK_PORT"]), f"marts.{mart}", work / "spark_out" / mart)
        seconds = _model_seconds(work) if build is not None else {}
        return SparkTargetRun(register, build, server_rss.peak_rss_mib, seconds, _task_skew(env))
    finally:
        _spark_server("stop", env)
