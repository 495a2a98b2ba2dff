"""The GX Data Docs that `shop-analytics ingest` builds, opened in headless Chromium: a validation page
renders its statistics and the columns it checked, and the index lists every validation run.

GX's pages load jQuery, Bootstrap and bootstrap-table from public CDNs. Validation pages are static HTML
and render without them (unstyled); the index builds its list of runs with bootstrap-table, so on a
machine without internet (this project's CI) that list stays empty: the index test then xfails, saying
so, instead of passing. docs/bi.md describes the gap.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from conftest import ingest_settings
from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest import ingest
from shop_analytics.settings import DataLayout
from support.browser import wait_for

TINY = GeneratorConfig(scale=0.005, seed=11, chunk_rows=50_000)


@pytest.fixture(scope="module")
def data_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generate + ingest that builds Data Docs, as `make demo` does; returns the site folder."""
    layout = DataLayout(tmp_path_factory.mktemp("gx-pipeline"))
    generate(TINY, layout.landing, workers=2, progress=False)
    site = layout.root / "quality" / "data_docs"
    ingest(layout, ingest_settings(data_docs_dir=site))
    assert (site / "index.html").is_file()
    return site


def _validation_pages(site: Path) -> list[Path]:
    pages = sorted((site / "validations").rglob("*.html"))
    assert pages, "ingest built no validation pages"
    return pages


def _statistics(driver: webdriver.Chrome) -> dict[str, str]:
    cells = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "table tr"):
        parts = [c.text.strip() for c in row.find_elements(By.TAG_NAME, "td")]
        if len(parts) == 2:
            cells[parts[0]] = parts[1]
    return cells


def test_validation_page_renders_statistics_and_checked_columns(
    data_docs: Path, browser: webdriver.Chrome, screenshot
) -> None:
    page = next(p for p in _validation_pages(data_docs) if "gate_items" in p.name)
    browser.get(page.as_uri())
    wait_for(
        browser,
        lambda d: "Evaluated Expectations" in d.find_element(By.TAG_NAME, "body").text,
        30,
        "the validation statistics",
    )
    stats = _statistics(browser)
    evaluated, succeeded, failed = (
        int(stats[k]) for k in ("Evaluated Expectations", "Successful Expectations", "Unsuccessful Expectations")
    )
    assert evaluated > 0 and evaluated == succeeded + failed, stats
    assert stats["Great Expectations Version"] == "1.24.1"
    contents = browser.find_element(By.TAG_NAME, "body").text
    for column in ("item_id", "page_url_path", "price"):  # the items contract's columns have expectations
        assert column in contents
    screenshot(browser, "gx_data_docs_validation", height=1100)


def test_index_lists_every_validation_run(data_docs: Path, browser: webdriver.Chrome, screenshot) -> None:
    index = data_docs / "index.html"
    pages = {p.relative_to(data_docs).as_posix() for p in _validation_pages(data_docs)}
    # Whatever the network, the index must reference every validation page it was built with.
    assert set(re.findall(r'validations/[^"\\]+?\.html', index.read_text())) == pages
    browser.get(index.as_uri())
    wait_for(
        browser, lambda d: "Validation Results" in d.find_element(By.TAG_NAME, "body").text, 30, "the index navigation"
    )
    if not browser.execute_script("return typeof jQuery !== 'undefined' && !!(jQuery.fn || {}).bootstrapTable"):
        pytest.xfail(
            "GX Data Docs load jQuery and bootstrap-table from CDNs, unreachable here: the index "
            "cannot build its list of validation runs offline (docs/bi.md)"
        )

    def listed(driver: webdriver.Chrome) -> set[str] | None:
        # bootstrap-table draws one clickable row per run, pointing at its page.
        found = {row.get_attribute("data-href") for row in driver.find_elements(By.CSS_SELECTOR, "tr[data-href]")}
        return found if found >= pages else None

    assert wait_for(browser, listed, 30, "the index to list every validation run") >= pages
    screenshot(browser, "gx_data_docs_index", height=1100)
