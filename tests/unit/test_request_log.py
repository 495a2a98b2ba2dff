"""The browser tests' request check (tests/support/request_log.py) on scripted DevTools event streams: a
request is judged by the page that issued it, whichever get_log call its events arrive in, and a page that
requests anything beyond the machine is reported.

The streams follow what Debian's Chromium 156 logs: a fresh profile's first tab requests
https://start.duckduckgo.com/ before chromedriver enables the Network domain, so only its
Network.loadingFailed (net::ERR_NAME_NOT_RESOLVED, no URL) reaches the log, sometimes after the first
get_log call (the cause of a flaky GX Data Docs browser test).
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pytest

from support.request_log import Request, RequestLog, is_local, offline_problems

PAGE = "file:///site/index.html"
PAGE_FILES = ("file:///site/static/jquery.min.js", "file:///site/static/bootstrap.min.css")


def _event(method: str, **params: Any) -> dict[str, Any]:
    return {"level": "INFO", "timestamp": 0, "message": json.dumps({"message": {"method": method, "params": params}})}


def sent(request_id: str, url: str) -> dict[str, Any]:
    return _event("Network.requestWillBeSent", requestId=request_id, request={"url": url, "method": "GET"})


def finished(request_id: str) -> dict[str, Any]:
    return _event("Network.loadingFinished", requestId=request_id, encodedDataLength=1)


def failed(request_id: str, error: str = "net::ERR_NAME_NOT_RESOLVED") -> dict[str, Any]:
    return _event("Network.loadingFailed", requestId=request_id, errorText=error, canceled=False, type="Document")


def page_load(url: str = PAGE, files: tuple[str, ...] = PAGE_FILES) -> list[dict[str, Any]]:
    """The events of a page that loads `files`, all local and loaded."""
    events = [sent("doc", url), finished("doc")]
    for number, name in enumerate(files):
        events += [sent(f"r{number}", name), _event("Page.domContentEventFired", timestamp=1), finished(f"r{number}")]
    return events


Batch = list[dict[str, Any]]


class ScriptedDriver:
    """A driver whose performance log hands out scripted batches, one per get_log call (an empty batch ends a
    drain): `readable` at once, and the n-th group of `on_get` once the n-th navigation, to any URL, is made."""

    def __init__(self, *on_get: list[Batch], readable: tuple[Batch, ...] = ()) -> None:
        self._on_get = deque(on_get)
        self._readable: deque[Batch] = deque(readable)
        self.visited: list[str] = []

    def get(self, url: str) -> None:
        self.visited.append(url)
        self._readable.extend(self._on_get.popleft() if self._on_get else [])

    def get_log(self, log_type: str) -> Batch:
        assert log_type == "performance"
        return self._readable.popleft() if self._readable else []


def test_a_startup_failure_logged_after_the_first_read_is_not_the_pages() -> None:
    # The flake: nothing to read at first; the start page's bare loadingFailed arrives during the next
    # navigation. Leaving for about:blank and draining takes it in before the page under test starts.
    driver = ScriptedDriver([[failed("startup")]], [page_load()])
    log = RequestLog(driver)
    log.open(PAGE)
    requests = log.page_requests(settle_s=0)
    assert driver.visited == ["about:blank", PAGE]
    assert [r.urls for r in requests] == [[PAGE], *([name] for name in PAGE_FILES)]
    assert offline_problems(requests) == []


def test_a_failure_of_a_request_sent_before_the_page_belongs_to_the_earlier_page() -> None:
    # A previous page's request, read while that page was open, fails only once the next page loads (in a
    # later get_log call): pairing by requestId keeps it out of the next page's requests.
    earlier = "http://127.0.0.1:9/slow"
    driver = ScriptedDriver([[failed("old", "net::ERR_ABORTED"), *page_load()]], readable=([sent("old", earlier)],))
    log = RequestLog(driver)
    log.mark_page_start()  # the earlier page is over, its request still pending
    driver.get(PAGE)
    assert offline_problems(log.page_requests(settle_s=0)) == []


def test_a_page_that_requests_the_network_is_reported() -> None:
    cdn = "https://cdn.example.invalid/lib.js"
    events = [*page_load(), sent("cdn", cdn), failed("cdn"), sent("img", "//x"), sent("ok", "data:,x"), finished("ok")]
    log = RequestLog(ScriptedDriver([], [events]))
    log.open(PAGE)
    assert offline_problems(log.page_requests(settle_s=0)) == [
        f"non-local: {cdn}",
        f"failed (net::ERR_NAME_NOT_RESOLVED): {cdn}",
        "non-local: //x",
        "unfinished: //x",
    ]


def test_a_local_request_redirected_to_the_network_is_reported() -> None:
    hop = "https://cdn.example.invalid/x.css"
    events = [*page_load(files=()), sent("r", "file:///site/x.css"), sent("r", hop), finished("r")]
    log = RequestLog(ScriptedDriver([], [events]))
    log.open(PAGE)
    assert offline_problems(log.page_requests(settle_s=0)) == [f"non-local: file:///site/x.css -> {hop}"]


def test_a_failure_never_seen_sent_while_the_page_is_open_is_reported() -> None:
    # After about:blank nothing older can arrive, so a bare failure now is not excused as someone else's.
    log = RequestLog(ScriptedDriver([], [[*page_load(), failed("ghost")]]))
    log.open(PAGE)
    assert offline_problems(log.page_requests(settle_s=0)) == [
        "failed (net::ERR_NAME_NOT_RESOLVED): request ghost (never seen sent)"
    ]


def test_the_page_is_judged_once_its_requests_end_over_several_batches_and_polls() -> None:
    # The log comes in batches; the last file ends only after a read found nothing new (the next poll).
    load = page_load()
    log = RequestLog(ScriptedDriver([], [load[:3], load[3:-1], [], load[-1:]]))
    log.open(PAGE)
    requests = log.page_requests(settle_s=30)
    assert [r.done for r in requests] == [True] * (1 + len(PAGE_FILES))
    assert offline_problems(requests) == []


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("file:///site/index.html", True),
        ("file://localhost/site/index.html", True),
        ("data:image/png;base64,AAAA", True),
        ("chrome://resources/images/icon_clear.svg", True),
        ("file://fileserver/share/x.js", False),  # `//fileserver/...` on a file: page
        ("http://127.0.0.1:8000/x.js", False),
        ("https://cdn.example.invalid/x.js", False),
        ("blob:null/1234", False),
    ],
)
def test_what_counts_as_local(url: str, local: bool) -> None:
    assert is_local(url) is local


def test_an_empty_request_is_described_by_its_id() -> None:
    assert Request("7").describe() == "request 7 (never seen sent)"
