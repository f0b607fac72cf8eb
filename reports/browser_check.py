"""Open ``report.html`` in headless Chromium: console errors, images loaded, tables present; a screenshot.

Used by the browser test (``tests/test_html_report_browser.py``) and to take the README's
screenshot (``python -m reports.browser_check runs/report/report.html --screenshot docs/…png``).
Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package (dev extra); the
driver is the installed one, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import BenchError

CHROMIUM_NAMES = ("chromium", "chromium-browser")
DRIVER_NAMES = ("chromedriver",)


def _find(names: tuple[str, ...]) -> str | None:
    return next((found for found in map(shutil.which, names) if found), None)


@contextmanager
def headless_chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A selenium driver of the installed headless Chromium, logging the page's console.

    Raises:
        BenchError: Chromium, its driver or selenium is not installed.
    """
    browser, driver_path = _find(CHROMIUM_NAMES), _find(DRIVER_NAMES)
    if browser is None or driver_path is None:
        raise BenchError(
            "the browser check needs Debian's chromium and chromium-driver (tests/install_browser.sh installs them)."
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise BenchError("the browser check needs selenium: pip install -e '.[dev]'.") from None
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass(frozen=True)
class PageCheck:
    """What the browser saw on a report page."""

    console_errors: list[str]
    images: int
    broken_images: list[str]
    tables: list[str]


PAGE_STATE = """
const images = Array.from(document.images).filter(image => image.closest('dialog') === null);
return {
  images: images.length,
  broken: images.filter(image => !(image.complete && image.naturalWidth > 0)).map(image => image.alt),
  tables: Array.from(document.querySelectorAll('table')).map(table => table.dataset.name || ''),
};
"""


def check_page(driver: Any, page: Path) -> PageCheck:
    """Load ``page`` in ``driver`` and report console errors, images that did not load, and the tables."""
    driver.get(Path(page).resolve().as_uri())
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "if (document.readyState === 'complete') done(); else window.addEventListener('load', () => done());"
    )
    state = driver.execute_script(PAGE_STATE)
    errors = [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
    return PageCheck(errors, int(state["images"]), list(state["broken"]), list(state["tables"]))


def screenshot(driver: Any, out: Path, width: int = 1800, height: int = 2400) -> Path:
    """Save a PNG of the top ``height`` pixels of the page loaded in ``driver``, ``width`` pixels wide."""
    driver.set_window_size(width, height)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out))
    return Path(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    with headless_chromium() as driver:
        result = check_page(driver, args.page)
        print(f"console errors: {len(result.console_errors)}; images: {result.images}, broken: {result.broken_images}")
        print(f"tables: {len(result.tables)}")
        if args.screenshot is not None:
            print(f"screenshot: {screenshot(driver, args.screenshot)}")


if __name__ == "__main__":
    main()
