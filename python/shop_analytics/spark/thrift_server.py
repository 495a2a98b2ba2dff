"""Start, wait for, report and stop a local Spark Thrift Server for `dbt --target spark` (docs/spark.md).

The PyPI pyspark wheel ships the Hive Thrift Server's jars but not Spark's sbin/ scripts, so the
server is started with spark-submit directly. Its warehouse, Derby metastore, log and pid file live
in one state folder (SparkServerSettings.state_dir, git-ignored by default).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from shop_analytics.processes import pid_alive
from shop_analytics.settings import SparkServerSettings

BIND_HOST = "127.0.0.1"
SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
LOG_TAIL_LINES = 40


class SparkServerError(RuntimeError):
    """The local Spark Thrift Server could not be started, found or stopped."""


@dataclass(frozen=True)
class ServerFiles:
    """Where one local server keeps its state."""

    state_dir: Path

    @property
    def pid_file(self) -> Path:
        """The server's process id (also its process group id)."""
        return self.state_dir / "thrift-server.pid"

    @property
    def log_file(self) -> Path:
        """spark-submit's stdout and stderr."""
        return self.state_dir / "logs" / "thrift-server.log"

    @property
    def warehouse(self) -> Path:
        """spark.sql.warehouse.dir: managed tables and views' databases."""
        return self.state_dir / "warehouse"

    @property
    def event_log(self) -> Path:
        """spark.eventLog.dir: one JSON-lines file per server run, with every task's own metrics."""
        return self.state_dir / "events"

    @property
    def derby_home(self) -> Path:
        """Derby's home: the embedded Hive metastore and derby.log."""
        return self.state_dir / "metastore"


@dataclass(frozen=True)
class ServerStatus:
    """What `status` found."""

    pid: int | None
    port: int
    port_open: bool

    @property
    def running(self) -> bool:
        """True when our server process is alive and its port accepts connections."""
        return self.pid is not None and self.port_open


def java_executable(java_home: Path | None = None, search_path: str | None = None) -> str:
    """The java that spark-submit will use (`java_home`/bin/java, else on `search_path`); an error if none."""
    candidate = java_home / "bin" / "java" if java_home else None
    if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("java", path=search_path)
    if found is None:
        raise SparkServerError("Java is not installed (no $JAVA_HOME/bin/java, no java on PATH); Spark needs Java 17")
    return found


def spark_submit_executable() -> str:
    """The spark-submit of the pyspark installed next to this Python (`make spark`)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise SparkServerError("pyspark is not installed; run `make spark` (requirements/spark.lock)")
    script = Path(spec.origin).parent / "bin" / "spark-submit"
    if not script.is_file():
        raise SparkServerError(f"pyspark has no spark-submit at {script}")
    return str(script)


def server_command(settings: SparkServerSettings, spark_submit: str) -> list[str]:
    """The spark-submit command line of a local[2] Thrift Server bound to 127.0.0.1:<port>."""
    files = ServerFiles(settings.state_dir)
    metastore = f"jdbc:derby:;databaseName={files.derby_home / 'metastore_db'};create=true"
    return [
        spark_submit,
        "--master",
        "local[2]",
        "--class",
        SERVER_CLASS,
        "--name",
        "shop_analytics_thrift_server",
        "--driver-memory",
        "1g",
        "--driver-java-options",
        f"-Dderby.system.home={files.derby_home}",
        "--conf",
        f"spark.sql.warehouse.dir={files.warehouse}",
        "--conf",
        "spark.sql.catalogImplementation=hive",
        # Staging timestamps are naive UTC on DuckDB; the same instants on Spark.
        "--conf",
        "spark.sql.session.timeZone=UTC",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.shuffle.partitions=4",
        # Spark's own task metrics (task_skew.py reads them): uncompressed JSON lines, as the history
        # server reads them.
        "--conf",
        "spark.eventLog.enabled=true",
        "--conf",
        f"spark.eventLog.dir={files.event_log.as_uri()}",
        "--conf",
        "spark.eventLog.compress=false",
        "--hiveconf",
        f"hive.server2.thrift.bind.host={BIND_HOST}",
        "--hiveconf",
        f"hive.server2.thrift.port={settings.port}",
        "--hiveconf",
        f"javax.jdo.option.ConnectionURL={metastore}",
        "spark-internal",
    ]


def free_port(host: str = BIND_HOST) -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_open(port: int, host: str = BIND_HOST) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


def _is_our_server(pid: int) -> bool:
    """True when `pid` is alive and is a Thrift Server (a recycled pid is never signalled)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return SERVER_CLASS.encode() in cmdline or b"spark-submit" in cmdline


def recorded_pid(files: ServerFiles) -> int | None:
    """The pid in the pid file when that process is still our server, else None."""
    try:
        text = files.pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    if not text.isdigit():
        raise SparkServerError(f"{files.pid_file} does not hold a process id: {text[:40]!r}")
    pid = int(text)
    return pid if pid_alive(pid) and _is_our_server(pid) else None


def log_tail(files: ServerFiles, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of the server's log (empty when there is none)."""
    try:
        text = files.log_file.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def status(settings: SparkServerSettings) -> ServerStatus:
    """Whether our server runs and its port is open."""
    files = ServerFiles(settings.state_dir)
    return ServerStatus(pid=recorded_pid(files), port=settings.port, port_open=port_open(settings.port))


def start(settings: SparkServerSettings) -> ServerStatus:
    """Start the server (or find it running) and wait until its port accepts connections."""
    files = ServerFiles(settings.state_dir)
    current = status(settings)
    if current.running:
        return current
    if current.pid is not None:
        raise SparkServerError(
            f"a server (pid {current.pid}) is starting or hung without port {settings.port} open; "
            "wait, or run `shop-analytics spark-server stop`"
        )
    if current.port_open:
        raise SparkServerError(
            f"port {settings.port} on {BIND_HOST} is taken by another program; "
            "set SHOP_ANALYTICS_SPARK_PORT to a free port"
        )
    java = java_executable(settings.java_home, settings.environment.get("PATH"))
    command = server_command(settings, spark_submit_executable())
    for folder in (files.warehouse, files.derby_home, files.log_file.parent, files.event_log):
        folder.mkdir(parents=True, exist_ok=True)
    env = dict(settings.environment)
    env.setdefault("JAVA_HOME", str(Path(java).resolve().parent.parent))
    # spark-submit's Python helpers and the driver must use this virtualenv's interpreter.
    env["PYSPARK_PYTHON"] = sys.executable
    with files.log_file.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=files.state_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the JVM and its launcher together
        )
    files.pid_file.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + settings.start_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            files.pid_file.unlink(missing_ok=True)
            raise SparkServerError(
                f"the Thrift Server exited with code {process.returncode} before opening port {settings.port}; "
                f"log {files.log_file}:\n{log_tail(files)}"
            )
        if port_open(settings.port):
            return ServerStatus(pid=process.pid, port=settings.port, port_open=True)
        time.sleep(1.0)
    _terminate_group(process.pid)
    files.pid_file.unlink(missing_ok=True)
    raise SparkServerError(
        f"the Thrift Server did not open port {settings.port} within {settings.start_timeout_s} s "
        f"(SHOP_ANALYTICS_SPARK_START_TIMEOUT); stopped it. Log {files.log_file}:\n{log_tail(files)}"
    )


def stop(settings: SparkServerSettings, grace_s: float = 30.0) -> bool:
    """Stop our server (SIGTERM, then SIGKILL after `grace_s`); False when none was running."""
    files = ServerFiles(settings.state_dir)
    pid = recorded_pid(files)
    if pid is None:
        files.pid_file.unlink(missing_ok=True)
        return False
    _terminate_group(pid, grace_s)
    files.pid_file.unlink(missing_ok=True)
    return True


def _terminate_group(pid: int, grace_s: float = 30.0) -> None:
    """SIGTERM the process group `pid` leads, then SIGKILL it if it outlives `grace_s`."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
        time.sleep(0.5)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
