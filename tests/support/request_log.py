"""What a page requested, from Chromium's performance log: requests paired by requestId over the driver's life.

chromedriver's performance log is a stream of DevTools events that each get_log call hands out once. A
request's Network.requestWillBeSent and its Network.loadingFailed can land in different get_log calls, and
a fresh profile's first tab makes a request (Debian Chromium's start page, https://start.duckduckgo.com/)
before chromedriver enables the Network domain, so its loadingFailed arrives with no requestWillBeSent,
possibly after the first page under test was opened. RequestLog therefore keeps every event it has read,
pairs them by requestId, and opens each page after about:blank with the log drained, so that only
requests issued while the page under test was the tab's document are judged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlparse

# Inline data and the browser's own resources (chrome: draws the clear button of a search box) are not the
# network; nor is a file: URL without a host (with one, `//host/x` on a file: page, it is a network share).
LOCAL_SCHEMES = frozenset({"data", "chrome"})
LOCAL_FILE_HOSTS = frozenset({"", "localhost"})
SETTLE_TIMEOUT_S = 30.0
POLL_S = 0.25


class LoggingDriver(Protocol):
    """The part of a Selenium Chrome driver (started with log_requests) that RequestLog uses."""

    def get(self, url: str) -> None: ...

    def get_log(self, log_type: str) -> list[dict[str, Any]]: ...


@dataclass
class Request:
    """One network request: its URLs (redirects in order), and how it ended."""

    request_id: str
    urls: list[str] = field(default_factory=list)  # empty: the log never saw it being sent
    error: str | None = None  # Network.loadingFailed's errorText
    finished: bool = False

    @property
    def done(self) -> bool:
        """It loaded or failed."""
        return self.finished or self.error is not None

    def describe(self) -> str:
        """Its URL chain, or what is known when the log never saw it sent."""
        return " -> ".join(self.urls) if self.urls else f"request {self.request_id} (never seen sent)"


class RequestLog:
    """Every request a driver's tab made, read from its performance log; the only reader of that log."""

    def __init__(self, driver: LoggingDriver) -> None:
        self._driver = driver
        self._requests: dict[str, Request] = {}
        self._order: list[str] = []  # request ids in the order the log first mentioned them
        self._page_start = 0  # index into _order where the page under test began

    def read(self, entries: Iterable[dict[str, Any]]) -> None:
        """Add get_log("performance") entries: a request is known by its id from whichever call first saw it."""
        for entry in entries:
            message = json.loads(entry["message"])["message"]
            method, params = message["method"], message.get("params", {})
            if method == "Network.requestWillBeSent":
                self._request(params["requestId"]).urls.append(params["request"]["url"])
            elif method == "Network.loadingFinished":
                self._request(params["requestId"]).finished = True
            elif method == "Network.loadingFailed":
                self._request(params["requestId"]).error = params["errorText"]

    def _request(self, request_id: str) -> Request:
        if request_id not in self._requests:
            self._requests[request_id] = Request(request_id)
            self._order.append(request_id)
        return self._requests[request_id]

    def drain(self) -> None:
        """Read everything chromedriver holds (it may hand the log out in several batches)."""
        while entries := self._driver.get_log("performance"):
            self.read(entries)

    def mark_page_start(self) -> None:
        """Requests the log mentions from now on belong to the page under test."""
        self.drain()
        self._page_start = len(self._order)

    def open(self, url: str) -> None:
        """Leave the previous page for about:blank, take in its remaining events, then load `url`."""
        # Once about:blank has loaded, the previous document (or the start page of a fresh profile) can
        # issue nothing more, and chromedriver has handed over every event it sent before that load.
        self._driver.get("about:blank")
        self.mark_page_start()
        self._driver.get(url)

    def page_requests(self, settle_s: float = SETTLE_TIMEOUT_S) -> list[Request]:
        """The requests of the page under test, once all have loaded or failed (or `settle_s` passed)."""
        deadline = time.monotonic() + settle_s
        while True:
            self.drain()
            requests = [self._requests[i] for i in self._order[self._page_start :]]
            if all(r.done for r in requests) or time.monotonic() > deadline:
                return requests
            time.sleep(POLL_S)


def is_local(url: str) -> bool:
    """A URL the browser serves without the network: data:, chrome:, or a file: URL on this machine."""
    parts = urlparse(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.scheme == "file" and parts.netloc in LOCAL_FILE_HOSTS)


def offline_problems(requests: Iterable[Request]) -> list[str]:
    """One line for each request that went beyond the machine (any URL of its chain), failed, or never ended."""
    problems = []
    for request in requests:
        remote = [u for u in request.urls if not is_local(u)]
        if remote:
            problems.append(f"non-local: {request.describe()}")
        if request.error is not None:
            problems.append(f"failed ({request.error}): {request.describe()}")
        elif not request.finished:
            problems.append(f"unfinished: {request.describe()}")
    return problems
