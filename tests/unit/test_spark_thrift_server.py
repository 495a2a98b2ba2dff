"""The local Spark Thrift Server's start/stop logic, with a stand-in for spark-submit (no Java, no Spark)."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from shop_analytics.settings import SparkServerSettings
from shop_analytics.spark import thrift_server
from shop_analytics.spark.thrift_server import free_port


def _settings(tmp_path: Path, port: int | None = None, timeout: int = 5) -> SparkServerSettings:
    return SparkServerSettings(state_dir=tmp_path / "spark", port=port or free_port(), start_timeout_s=timeout)


def _fake_spark_submit(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-spark-submit"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_settings_refuse_a_port_out_of_range() -> None:
    with pytest.raises(ValueError, match="SHOP_ANALYTICS_SPARK_PORT"):
        SparkServerSettings.from_env({"SHOP_ANALYTICS_SPARK_PORT": "70000"})
    assert SparkServerSettings.from_env({}).port == 10001


def test_missing_java_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(thrift_server.SparkServerError, match="Java is not installed"):
        thrift_server.java_executable()


def test_a_taken_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings = _settings(tmp_path, port=listener.getsockname()[1])
        with pytest.raises(thrift_server.SparkServerError, match="is taken by another program"):
            thrift_server.start(settings)
    assert not thrift_server.ServerFiles(settings.state_dir).pid_file.exists()


def test_a_server_that_exits_reports_its_log_tail(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(thrift_server, "java_executable", lambda *_: "/usr/bin/java")
    script = _fake_spark_submit(tmp_path, "echo 'Exception: metastore is locked' >&2; exit 3")
    monkeypatch.setattr(thrift_server, "spark_submit_executable", lambda: script)
    settings = _settings(tmp_path)
    with pytest.raises(thrift_server.SparkServerError, match=r"exited with code 3(.|\n)*metastore is locked"):
        thrift_server.start(settings)
    assert not thrift_server.ServerFiles(settings.state_dir).pid_file.exists()


def test_a_start_timeout_stops_the_server_and_reports_its_log_tail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(thrift_server, "java_executable", lambda *_: "/usr/bin/java")
    script = _fake_spark_submit(tmp_path, "echo 'starting slowly'; sleep 30")
    monkeypatch.setattr(thrift_server, "spark_submit_executable", lambda: script)
    settings = _settings(tmp_path, timeout=2)
    with pytest.raises(thrift_server.SparkServerError, match=r"did not open port(.|\n)*starting slowly"):
        thrift_server.start(settings)
    files = thrift_server.ServerFiles(settings.state_dir)
    assert not files.pid_file.exists()
    assert thrift_server.status(settings).pid is None


def test_start_waits_for_the_port_and_stop_ends_the_process_group(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(thrift_server, "java_executable", lambda *_: "/usr/bin/java")
    port = free_port()
    # A stand-in server: opens the port after a second, as the JVM does after start-up.
    server = (
        f"import socket,time; time.sleep(1); s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); "
        "time.sleep(60)"
    )
    script = _fake_spark_submit(tmp_path, f'exec python3 -c "{server}" spark-submit')
    monkeypatch.setattr(thrift_server, "spark_submit_executable", lambda: script)
    settings = _settings(tmp_path, port=port, timeout=20)
    started = thrift_server.start(settings)
    assert started.running and started.pid is not None
    assert thrift_server.status(settings).running
    assert thrift_server.start(settings).pid == started.pid  # already running: found, not started twice
    assert thrift_server.stop(settings) is True
    assert not thrift_server.port_open(port)
    assert thrift_server.stop(settings) is False


def test_a_pid_file_naming_another_program_is_not_ours(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    files = thrift_server.ServerFiles(settings.state_dir)
    files.state_dir.mkdir(parents=True)
    files.pid_file.write_text(f"{os.getpid()}\n")  # pytest itself: alive, but no Thrift Server
    assert thrift_server.recorded_pid(files) is None
    assert thrift_server.stop(settings) is False
