"""Helpers for the browser tests (tests/browser): waiting with a message, free ports, a static server."""

from __future__ import annotations

import contextlib
import functools
import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def wait_for(
    driver: webdriver.Chrome, condition: Callable[[webdriver.Chrome], T | None], timeout: float, what: str
) -> T:
    """WebDriverWait with a message that says what did not happen, and ignoring transient DOM errors."""
    try:
        result: T = WebDriverWait(driver, timeout, poll_frequency=0.5, ignored_exceptions=(WebDriverException,)).until(
            condition
        )
        return result
    except Exception as exc:  # TimeoutException: say what we waited for
        raise AssertionError(f"timed out after {timeout} s waiting for {what} at {driver.current_url}") from exc


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class names it)
        pass


@contextlib.contextmanager
def serve_directory(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on a free port of 127.0.0.1 (like `python -m http.server`); yields the URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
