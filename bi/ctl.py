"""`make bi` and `make bi-stop`: initialize, provision, start and stop Superset on the serving file.

Usage (with Superset's virtualenv's Python, which `make bi-venv` builds):
    python bi/ctl.py up --home .superset --port 8088 --serving-file warehouse/serving/shop_analytics.duckdb
    python bi/ctl.py stop --home .superset
    python bi/ctl.py status --home .superset

State lives in --home (git-ignored): superset.db (metadata), secret_key and admin_password (0600),
superset.pid, server.json (port), superset.log, bundle.zip (the last provisioned bundle).
Standard library only: Superset itself runs as `superset` and `gunicorn` from the same virtualenv.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BI_DIR = Path(__file__).resolve().parent
CONFIG = BI_DIR / "superset_config.py"
HOST = "127.0.0.1"
ADMIN = "admin"
START_TIMEOUT_S = 180


class BiError(RuntimeError):
    """A failure to report as one line (exit 1)."""


def _bin(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise BiError(f"{path} not found: run this with the Python of Superset's virtualenv (make bi-venv)")
    return str(path)


def superset_env(home: Path) -> dict[str, str]:
    """The environment Superset runs with: our config file and state folder."""
    env = {
        **os.environ,
        "SUPERSET_CONFIG_PATH": str(CONFIG),
        "SHOP_ANALYTICS_BI_HOME": str(home),
        "SUPERSET_HOME": str(home),
        "FLASK_APP": "superset.app:create_app()",
    }
    env.pop("FLASK_DEBUG", None)
    return env


def _run(home: Path, args: list[str], what: str, stdin: str = "") -> str:
    result = subprocess.run(args, env=superset_env(home), check=False, capture_output=True, text=True, input=stdin)
    log = home / "superset.log"
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(args[:3])} ...\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise BiError(f"{what} failed (exit {result.returncode}); full output in {log}:\n{tail}")
    return result.stdout


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")


def _superset_version() -> str:
    from importlib.metadata import version

    return version("apache-superset")


def init(home: Path) -> bool:
    """Create the state folder, secret key, metadata DB and admin once; True when the admin was created."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    marker = home / "initialized.json"
    version = _superset_version()
    done = json.loads(marker.read_text()) if marker.exists() else {}
    if done.get("superset") == version:
        return False
    if not (home / "secret_key").exists():
        _write_secret(home / "secret_key", secrets.token_urlsafe(48))
    print(f"==> initializing Superset {version} in {home} (metadata DB migrations, roles)", flush=True)
    _run(home, [_bin("superset"), "db", "upgrade"], "superset db upgrade")
    created = not (home / "admin_password").exists()
    if created:
        password = secrets.token_urlsafe(18)
        _write_secret(home / "admin_password", password)
        _run(
            home,
            [
                _bin("superset"),
                "fab",
                "create-admin",
                "--username",
                ADMIN,
                "--firstname",
                "shop",
                "--lastname",
                "analytics",
                "--email",
                "admin@localhost",
            ],
            "creating the admin user",
            stdin=f"{password}\n{password}\n",
        )  # prompted: never on a command line
        # Printed once, as soon as it exists (a later step may still fail); kept in the 0600 file.
        print(
            f"==> created Superset user {ADMIN!r} with password {password} (kept in {home / 'admin_password'})",
            flush=True,
        )
    _run(home, [_bin("superset"), "init"], "superset init")
    marker.write_text(json.dumps({"superset": version}) + "\n")
    return created


def provision(home: Path, serving_file: Path, definitions: Path) -> None:
    """Import `definitions` against `serving_file` (idempotent: the same objects are updated)."""
    print(f"==> provisioning database, datasets, charts and dashboard from {definitions}", flush=True)
    output = _run(
        home,
        [
            sys.executable,
            str(BI_DIR / "provision.py"),
            "--serving-file",
            str(serving_file),
            "--bundle",
            str(home / "bundle.zip"),
            "--username",
            ADMIN,
            "--definitions",
            str(definitions),
        ],
        "provisioning",
    )
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("Loaded your LOCAL")]
    print("\n".join(lines), flush=True)


def _pid(home: Path) -> int | None:
    """The pid of our running gunicorn, or None (a stale pid file or a reused pid is ignored)."""
    try:
        pid = int((home / "superset.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if any(b"gunicorn" in part for part in cmdline) and str(home).encode() in b" ".join(cmdline) else None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((HOST, port)) != 0


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(home: Path, port: int) -> int:
    """Start gunicorn in the background (pid file in `home`) and wait until /health answers."""
    running = _pid(home)
    if running:
        port = json.loads((home / "server.json").read_text())["port"]
        print(f"==> Superset is already running (pid {running}, port {port})")
        return port
    if not _port_free(port):
        raise BiError(f"port {port} on {HOST} is in use: choose another with `make bi BI_PORT=...`")
    log = home / "superset.log"
    command = [
        _bin("gunicorn"),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        "8",
        "--timeout",
        "120",
        "--pid",
        str(home / "superset.pid"),
        "--name",
        f"superset-shop-analytics {home}",
        "--access-logfile",
        str(home / "access.log"),
        "superset.app:create_app()",
    ]
    with log.open("a", encoding="utf-8") as out:
        process = subprocess.Popen(
            command,
            env=superset_env(home),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=home,
        )
    (home / "server.json").write_text(json.dumps({"port": port, "pid": process.pid}) + "\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-15:])
            raise BiError(f"Superset exited with {process.returncode} while starting; log {log}:\n{tail}")
        if _healthy(port):
            return port
        time.sleep(1)
    # Not answering: end the whole process group we started (gunicorn may not have written its pid file).
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    (home / "superset.pid").unlink(missing_ok=True)
    raise BiError(f"Superset did not answer on {HOST}:{port} within {START_TIMEOUT_S} s; log: {log}")


def stop(home: Path) -> bool:
    """Stop our gunicorn (SIGTERM, then SIGKILL after 30 s); False when it was not running."""
    pid = _pid(home)
    if pid is None:
        (home / "superset.pid").unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.2)
    if _pid(home) == pid:
        os.killpg(pid, signal.SIGKILL)
    (home / "superset.pid").unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    """Command line: up, provision, stop, status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "provision", "stop", "status"])
    parser.add_argument("--home", type=Path, required=True, help="Superset's state folder (git-ignored)")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--serving-file", type=Path, help="the published DuckDB file Superset reads")
    parser.add_argument(
        "--definitions",
        type=Path,
        default=BI_DIR / "definitions",
        help="database, dashboard and chart files (default: bi/definitions)",
    )
    args = parser.parse_args(argv)
    home = args.home.resolve()
    try:
        if args.command in ("up", "provision"):
            if args.serving_file is None:
                raise BiError("--serving-file is required")
            if not args.serving_file.is_file():
                raise BiError(f"no serving file at {args.serving_file}: run `make demo` first")
            init(home)
            provision(home, args.serving_file.resolve(), args.definitions.resolve())
            if args.command == "provision":
                return 0
            port = start(home, args.port)
            print(f"\nSuperset: http://{HOST}:{port}/superset/dashboard/shop-analytics/")
            print(f"login: {ADMIN}, password in {home / 'admin_password'}")
            print(f"stop with `make bi-stop`; log: {home / 'superset.log'}")
        elif args.command == "stop":
            print("==> Superset stopped" if stop(home) else "==> Superset was not running")
        else:
            pid = _pid(home)
            if pid:
                port = json.loads((home / "server.json").read_text())["port"]
                print(f"running: pid {pid}, http://{HOST}:{port}/ ({'healthy' if _healthy(port) else 'not answering'})")
            else:
                print("not running")
                return 3
    except BiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
