"""Headless Chromium for the ``kubeoracle view`` tests and benchmark: Debian's ``chromium``
driven through Selenium and Debian's ``chromium-driver`` (``scripts/test`` installs both)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM: Final = "/usr/bin/chromium"
CHROMEDRIVER: Final = "/usr/bin/chromedriver"
READY_SECONDS: Final = 120.0


def available() -> str | None:
    """Why the browser cannot run here, or ``None`` when it can."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(program) is None:
            return f"{program} is missing: apt-get install chromium chromium-driver"
    return None


@contextmanager
def chromium(width: int = 1400, height: int = 900) -> Iterator[WebDriver]:
    """A headless Chromium session, closed on exit."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: WebDriver, page: Path) -> float:
    """Load ``page`` and wait until its script has drawn; the milliseconds from the start of
    navigation to the first drawn frame (the page's own clock)."""
    driver.get(page.resolve().as_uri())
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        ready = driver.execute_script(
            "return window.__viewReady === undefined ? null : window.__viewReady;"
        )
        if ready is not None:
            return float(ready)
        time.sleep(0.02)
    raise TimeoutError(f"{page} did not finish drawing in {READY_SECONDS} s")
