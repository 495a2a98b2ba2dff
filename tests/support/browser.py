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
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
WINDOW = (1600, 1800)
T = TypeVar("T")


def start_chromium(
    chromium: tuple[str, str], profile: Path, *flags: str, log_requests: bool = False
) -> webdriver.Chrome:
    """Headless Chromium (binary, chromedriver) with a fresh `profile`, CHROMIUM_FLAGS and `flags`; with
    `log_requests`, the performance log holds the DevTools events of every request (read it through
    support.request_log.RequestLog, which pairs them by request and page)."""
    options = webdriver.ChromeOptions()
    options.binary_location = chromium[0]
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}", *flags):
        options.add_argument(flag)
    if log_requests:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(chromium[1]))
    driver.set_page_load_timeout(120)
    return driver


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
