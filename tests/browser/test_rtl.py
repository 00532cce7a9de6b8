"""Right-to-left languages in real Chromium: the banner, the settings control and the
preferences mirror, on the article site (an English, left-to-right page).

English is the counterpart of each check: what mirrors in Arabic and Hebrew is
where it is in English, on the other side.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FloatRect, Locator, Page, expect

from tests.browser.conftest import ROOT, Servers
from tests.browser.test_banner_in_chromium import (
    ARTICLE,
    assert_banner_and_preferences_pass_axe,
)

DIRECTIONS = [("ar", "rtl"), ("he", "rtl"), ("en", "ltr")]
RIGHT_TO_LEFT = ["ar", "he"]
SIZES = [("desktop", 1280, 800), ("mobile", 375, 740)]


@contextmanager
def visitor(browser: Browser, locale: str, width: int = 1280, height: int = 800) -> Iterator[Page]:
    """A fresh browser whose language is ``locale``, at this window size."""
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
    try:
        yield context.new_page()
    finally:
        context.close()


def box(locator: Locator) -> FloatRect:
    found = locator.bounding_box()
    assert found is not None
    return found


def precedes(first: FloatRect, then: FloatRect, expected: str) -> bool:
    """``first`` comes before ``then`` on its line, in the reading direction (1 px slack)."""
    if expected == "rtl":
        return first["x"] >= then["x"] + then["width"] - 1
    return first["x"] + first["width"] <= then["x"] + 1


def direction(locator: Locator) -> str:
    return str(locator.evaluate("(element) => getComputedStyle(element).direction"))


@pytest.mark.parametrize(("locale", "expected"), DIRECTIONS)
def test_banner_reads_in_the_direction_of_its_language(
    servers: Servers, browser: Browser, locale: str, expected: str
) -> None:
    with visitor(browser, locale) as page:
        page.goto(servers.site + ARTICLE)
        banner = page.locator("[data-consent-banner]")
        expect(banner).to_be_visible()
        expect(banner).to_have_attribute("dir", expected)
        assert direction(banner) == expected
        assert direction(page.locator("[data-consent-action=accept_all]")) == expected
        # The page around it keeps its own direction.
        assert direction(page.locator("body")) == "ltr"


@pytest.mark.parametrize(("name", "width", "height"), SIZES)
@pytest.mark.parametrize(("locale", "expected"), DIRECTIONS)
def test_reject_comes_first_in_the_reading_direction(
    servers: Servers,
    browser: Browser,
    locale: str,
    expected: str,
    name: str,
    width: int,
    height: int,
) -> None:
    with visitor(browser, locale, width, height) as page:
        page.goto(servers.site + ARTICLE)
        reject = box(page.locator("[data-consent-banner] [data-consent-action=reject_all]"))
        accept = box(page.locator("[data-consent-banner] [data-consent-action=accept_all]"))
        assert round(reject["y"]) == round(accept["y"]), "side by side"
        assert precedes(reject, accept, expected)
        overflow = page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
        assert overflow is False


@pytest.mark.parametrize(("locale", "expected"), DIRECTIONS)
def test_settings_control_sits_in_the_bottom_corner_where_lines_start(
    servers: Servers, browser: Browser, locale: str, expected: str
) -> None:
    with visitor(browser, locale) as page:
        page.goto(servers.site + ARTICLE)
        page.locator("[data-consent-action=reject_all]").click()
        control = page.locator("[data-consent-settings]")
        expect(control).to_be_visible()
        expect(control).to_have_attribute("dir", expected)
        found = box(control)
        margin = 12  # 0.75rem
        assert round(found["y"] + found["height"]) == 800 - margin
        if expected == "rtl":
            assert round(found["x"] + found["width"]) == 1280 - margin
        else:
            assert round(found["x"]) == margin


@pytest.mark.parametrize(("locale", "expected"), DIRECTIONS)
def test_checkboxes_sit_where_their_labels_start(
    servers: Servers, browser: Browser, locale: str, expected: str
) -> None:
    with visitor(browser, locale) as page:
        page.goto(servers.site + "/_consent/preferences")
        expect(page.locator("html")).to_have_attribute("dir", expected)
        for key in ("necessary", "analytics"):
            checkbox = box(page.locator(f"#consent-category-{key}"))
            label = box(page.locator(f"label[for=consent-category-{key}]"))
            assert precedes(checkbox, label, expected), key


@pytest.mark.parametrize(("locale", "expected"), DIRECTIONS)
def test_preferences_dialog_reads_in_the_direction_of_its_language(
    servers: Servers, browser: Browser, locale: str, expected: str
) -> None:
    with visitor(browser, locale) as page:
        page.goto(servers.site + ARTICLE)
        page.locator("[data-consent-banner] [data-consent-action=preferences]").click()
        dialog = page.locator("dialog.consent-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_have_attribute("dir", expected)
        expect(dialog).to_have_attribute("lang", locale)
        assert direction(dialog) == expected
        # Its close button at the end of the first line: left in right-to-left.
        close = box(page.locator(".consent-dialog__close"))
        frame = box(dialog)
        if expected == "rtl":
            assert close["x"] - frame["x"] < 20
        else:
            assert frame["x"] + frame["width"] - close["x"] - close["width"] < 20


@pytest.mark.parametrize("locale", RIGHT_TO_LEFT)
def test_right_to_left_banner_and_preferences_pass_axe(
    servers: Servers, browser: Browser, locale: str
) -> None:
    with visitor(browser, locale) as page:
        page.goto(servers.site + ARTICLE)
        expect(page.locator("[data-consent-banner]")).to_be_visible()
        assert_banner_and_preferences_pass_axe(page, servers.site)


@pytest.mark.parametrize(("name", "width", "height"), SIZES)
@pytest.mark.parametrize("locale", RIGHT_TO_LEFT)
def test_right_to_left_screenshots(
    servers: Servers,
    browser: Browser,
    tmp_path: Path,
    locale: str,
    name: str,
    width: int,
    height: int,
) -> None:
    # A relative SCREENSHOTS_DIR is the checkout's: a test runs in a directory of its own.
    out = ROOT / os.environ.get("SCREENSHOTS_DIR", tmp_path)
    with visitor(browser, locale, width, height) as page:
        page.goto(servers.site + ARTICLE)
        expect(page.locator("[data-consent-banner]")).to_be_visible()
        path = out / f"banner-{name}-{locale}.png"
        page.screenshot(path=path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
