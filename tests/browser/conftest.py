"""Headless Chromium for the browser tests, installed with apt when missing, driven by Selenium.

Every test here is marked `browser` and `slow`: `make test` (and CI) runs them, `make test-fast` skips
them. Screenshots go to $SHOP_ANALYTICS_SCREENSHOT_DIR when set (`make screenshots` points it at
docs/images/ for the README), else to pytest's temporary folder, so a test run leaves the tree clean.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from support.browser import WINDOW, start_chromium

ANIMATION_S = 2.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


def _install_chromium() -> None:
    """apt-get install chromium chromium-driver (CI runs as root on Debian)."""
    if os.geteuid() != 0:
        pytest.fail(
            "chromium/chromedriver are missing and this is not root: "
            "run `sudo apt-get install -y chromium chromium-driver`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"]):
        result = subprocess.run(command, env=env, check=False, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Paths of Debian's chromium and chromedriver, installed first when missing."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        _install_chromium()
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert browser and driver, "chromium or chromedriver still missing after apt-get install"
    return browser, driver


@pytest.fixture(scope="session")
def browser(chromium: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """One headless Chromium for the session, with a fresh profile and no network beyond 127.0.0.1."""
    driver = start_chromium(chromium, tmp_path_factory.mktemp("chromium-profile"), "--allow-file-access-from-files")
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def screenshot(tmp_path_factory: pytest.TempPathFactory) -> Callable[[webdriver.Chrome, str], Path]:
    """save(driver, name): a PNG of the whole page as `name`.png, in the screenshot folder."""
    folder = Path(os.environ.get("SHOP_ANALYTICS_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)

    def save(driver: webdriver.Chrome, name: str, height: int | None = None) -> Path:
        time.sleep(ANIMATION_S)  # for the picture only: ECharts draws its lines in about a second
        full = height or driver.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
        )
        driver.set_window_size(WINDOW[0], min(max(int(full) + 120, 600), 4000))
        path = folder / f"{name}.png"
        assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
        driver.set_window_size(*WINDOW)
        return path

    return save
