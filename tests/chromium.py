"""Real headless Chromium through Playwright, one per test process.

Playwright's sync API allows one running instance per thread, so the browser
tests and the tests that only need a real JavaScript engine share this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

_running: list[Browser] = []


@contextmanager
def chromium() -> Iterator[Browser]:
    """The running Chromium; started here, and stopped on leaving, when none is running.

    Skips the test when Chromium is not installed (``apt-get install chromium``).
    """
    if _running:
        yield _running[0]
        return
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _running.append(browser)
        try:
            yield browser
        finally:
            _running.remove(browser)
            browser.close()
