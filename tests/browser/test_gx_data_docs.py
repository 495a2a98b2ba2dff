"""The GX Data Docs that `shop-analytics ingest` builds, opened in headless Chromium as a user opens them
(file:// pages, no network): a validation page renders its statistics, the columns it checked and its
status icons, the index lists every validation run, and no page requests anything but local files.

GX's templates load jQuery, Bootstrap and bootstrap-table from public CDNs; quality/data_docs.py points
them at vendored copies, so this passes on a machine without internet (this project's CI).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest import ingest
from shop_analytics.settings import DataLayout
from support.browser import start_chromium, wait_for
from support.pipeline import ingest_settings
from support.request_log import RequestLog, offline_problems

TINY = GeneratorConfig(scale=0.005, seed=11, chunk_rows=50_000)
# A script or stylesheet (or image) fetched from a network address rather than a relative path.
NETWORK_REF = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)""", re.I)


@pytest.fixture(scope="module")
def data_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generate + ingest that builds Data Docs, as `make demo` does; returns the site folder."""
    layout = DataLayout(tmp_path_factory.mktemp("gx-pipeline"))
    generate(TINY, layout.landing, workers=2, progress=False)
    site = layout.root / "quality" / "data_docs"
    ingest(layout, ingest_settings(data_docs_dir=site))
    assert (site / "index.html").is_file()
    return site


@pytest.fixture(scope="module")
def user_browser(chromium: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """Chromium as a user opens the docs (no --allow-file-access-from-files), logging every request it makes."""
    driver = start_chromium(chromium, tmp_path_factory.mktemp("chromium-gx-profile"), log_requests=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def requests_log(user_browser: webdriver.Chrome) -> RequestLog:
    """The requests user_browser makes, read across the module's tests; pages are opened through it."""
    return RequestLog(user_browser)


def _assert_only_local_requests(log: RequestLog, expected: tuple[str, ...]) -> None:
    """Every request of the page under test was local (see is_local) and loaded; `expected` files among them."""
    requests = log.page_requests()
    assert offline_problems(requests) == []
    urls = {url for request in requests for url in request.urls}
    for name in expected:  # the log saw the vendored files, so the check above is not vacuous
        assert any(u.endswith(name) for u in urls), (name, sorted(urls))


def _assert_icons_drawn(driver: webdriver.Chrome) -> None:
    """Every Font Awesome icon on the page, scripted ones included, is drawn by the stand-in stylesheet."""
    undrawn = driver.execute_script(
        "return [...document.querySelectorAll('[class*=\"fa-\"]')]"
        ".filter(e => getComputedStyle(e).webkitMaskImage === 'none').map(e => e.className)"
    )
    assert undrawn == []


def test_no_page_references_a_network_script_or_stylesheet(data_docs: Path) -> None:
    pages = sorted(data_docs.rglob("*.html"))
    assert len(pages) > len(_validation_pages(data_docs))
    for page in pages:
        assert NETWORK_REF.findall(page.read_text()) == [], page


def _validation_pages(site: Path) -> list[Path]:
    pages = sorted((site / "validations").rglob("*.html"))
    assert pages, "ingest built no validation pages"
    return pages


def _statistics(driver: webdriver.Chrome) -> dict[str, str]:
    """The two-column rows of the page's tables; textContent, as Bootstrap collapses the run's info table."""
    cells = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "table tr"):
        parts = [(c.get_attribute("textContent") or "").strip() for c in row.find_elements(By.TAG_NAME, "td")]
        if len(parts) == 2:
            cells[parts[0]] = parts[1]
    return cells


def test_validation_page_renders_statistics_checked_columns_and_icons(
    data_docs: Path, user_browser: webdriver.Chrome, requests_log: RequestLog, screenshot
) -> None:
    page = next(p for p in _validation_pages(data_docs) if "gate_items" in p.name)
    requests_log.open(page.as_uri())
    wait_for(
        user_browser,
        lambda d: "Evaluated Expectations" in d.find_element(By.TAG_NAME, "body").text,
        30,
        "the validation statistics",
    )
    stats = _statistics(user_browser)
    evaluated, succeeded, failed = (
        int(stats[k]) for k in ("Evaluated Expectations", "Successful Expectations", "Unsuccessful Expectations")
    )
    assert evaluated > 0 and evaluated == succeeded + failed, stats
    assert stats["Great Expectations Version"] == "1.24.1"
    contents = user_browser.find_element(By.TAG_NAME, "body").text
    # Columns of the items contract with expectations (contract v2: page_url_path may be missing, no rule).
    for column in ("item_id", "created_at", "price"):
        assert column in contents
    # Bootstrap's stylesheet applies (GX's page body is `.pl-5`: 3rem), and the status icons are drawn.
    padding = user_browser.execute_script(
        "return getComputedStyle(document.querySelector('.container-fluid.pl-5')).paddingLeft"
    )
    assert padding == "48px"
    icon = user_browser.find_element(By.CSS_SELECTOR, "i.fa-check-circle")
    assert icon.size["width"] > 0
    assert "data:image/svg+xml" in icon.value_of_css_property("-webkit-mask-image")
    assert user_browser.execute_script("return typeof jQuery !== 'undefined' && !!jQuery.fn.tooltip")
    _assert_icons_drawn(user_browser)
    _assert_only_local_requests(
        requests_log, ("jquery.min.js", "bootstrap.min.js", "bootstrap.min.css", "gx-icons.css", "logo-long.png")
    )
    screenshot(user_browser, "gx_data_docs_validation", height=1100)


def test_index_lists_every_validation_run(
    data_docs: Path, user_browser: webdriver.Chrome, requests_log: RequestLog, screenshot
) -> None:
    index = data_docs / "index.html"
    pages = {p.relative_to(data_docs).as_posix() for p in _validation_pages(data_docs)}
    assert set(re.findall(r'validations/[^"\\]+?\.html', index.read_text())) == pages
    requests_log.open(index.as_uri())
    wait_for(
        user_browser,
        lambda d: "Validation Results" in d.find_element(By.TAG_NAME, "body").text,
        30,
        "the index navigation",
    )

    def listed(driver: webdriver.Chrome) -> set[str] | None:
        # bootstrap-table draws one clickable row per run, pointing at its page.
        found = {row.get_attribute("data-href") for row in driver.find_elements(By.CSS_SELECTOR, "tr[data-href]")}
        return found if found >= pages else None

    listed_runs = wait_for(user_browser, listed, 30, "the index to list every validation run")
    assert {href for href in listed_runs if href.startswith("validations/")} == pages
    assert user_browser.find_elements(By.CSS_SELECTOR, "button[name=clearSearch] i.fa-trash")  # added by a script
    _assert_icons_drawn(user_browser)
    _assert_only_local_requests(requests_log, ("jquery.min.js", "bootstrap-table.min.js", "bootstrap-table.min.css"))
    screenshot(user_browser, "gx_data_docs_index", height=1100)


# The request check itself, in the same Chromium, must report a page that reaches beyond the machine (a script,
# a protocol-relative image, a frame). `.invalid` never resolves (RFC 2606), so nothing leaves the machine.
NETWORK_PAGE = """<!doctype html><html><head><link rel="stylesheet" href="local.css">
<script src="https://cdn.example.invalid/lib.js"></script></head>
<body><img src="//images.example.invalid/logo.png"><iframe src="https://frame.example.invalid/"></iframe></body></html>
"""


def test_request_check_reports_a_page_that_requests_the_network(requests_log: RequestLog, tmp_path: Path) -> None:
    (tmp_path / "local.css").write_text("body { margin: 0 }")
    page = tmp_path / "network.html"
    page.write_text(NETWORK_PAGE)
    requests_log.open(page.as_uri())
    problems = offline_problems(requests_log.page_requests())
    for url in (
        "https://cdn.example.invalid/lib.js",
        "file://images.example.invalid/logo.png",  # protocol-relative on a file: page: a UNC path, not local
        "https://frame.example.invalid/",
    ):
        assert f"non-local: {url}" in problems, problems
    assert "failed (net::ERR_NAME_NOT_RESOLVED): https://cdn.example.invalid/lib.js" in problems, problems
    assert not any("local.css" in p for p in problems), problems
