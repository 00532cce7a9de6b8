"""Each regime in real Chromium: the opt-out notice with JavaScript on and off, none, GPC."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import served
from tests.browser.test_banner_in_chromium import serious

CALIFORNIA = {"x-test-country": "US", "x-test-region": "CA"}
JAPAN = {"x-test-country": "JP"}
NOTICE = "[data-consent-notice=opt-out]"
CONTROL = "[data-consent-settings]"
CHOICES = "Your Privacy Choices"


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    yield from served("regimes")


@pytest.fixture(scope="module")
def shared_site() -> Iterator[str]:
    """The same site with ``cache_mode="shared"``: one page per place, for everyone."""
    yield from served("regimes-shared")


@contextmanager
def visitor(
    browser: Browser, headers: dict[str, str], javascript: bool = True, gpc: bool = False
) -> Iterator[Page]:
    """A fresh browser in a place (the CDN's headers on every request), maybe sending GPC."""
    if gpc:
        headers = {**headers, "sec-gpc": "1"}
    context = browser.new_context(extra_http_headers=headers, java_script_enabled=javascript)
    if gpc:  # what a browser with the signal on exposes to scripts
        context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
        )
    try:
        yield context.new_page()
    finally:
        context.close()


def granted(page: Page) -> str:
    cookie = next(c for c in page.context.cookies() if c["name"] == "consent")
    return cookie["value"].split(".")[4]


@pytest.mark.parametrize("javascript", [True, False])
def test_opt_out_notice_do_not_sell(site: str, browser: Browser, javascript: bool) -> None:
    with visitor(browser, CALIFORNIA, javascript) as page:
        page.goto(site + "/")
        notice = page.locator(NOTICE)
        expect(notice).to_be_visible()
        expect(page.locator("[data-consent-banner]:not([data-consent-notice])")).to_have_count(0)
        if javascript:
            assert serious(Axe().run(page, context="[data-consent-root]")) == []
        button = notice.get_by_role("button", name="Do Not Sell or Share My Personal Information")
        button.click()
        expect(page.locator(NOTICE)).to_have_count(0)
        expect(page.locator(CONTROL).get_by_role("link", name=CHOICES)).to_be_visible()
        assert granted(page) == ""
        page.reload()
        expect(page.locator(NOTICE)).to_have_count(0)
        expect(page.locator(CONTROL)).to_be_visible()


def test_opt_out_with_gpc_shows_no_pop_up(site: str, browser: Browser) -> None:
    with visitor(browser, {**CALIFORNIA, "sec-gpc": "1"}) as page:
        page.goto(site + "/")
        expect(page.locator(CONTROL)).to_be_visible()
        expect(page.locator("[data-consent-banner]")).to_have_count(0)
        expect(page.get_by_text("Opt-out request honored")).to_be_visible()
        assert serious(Axe().run(page, context="[data-consent-root]")) == []


@pytest.mark.parametrize("javascript", [True, False])
def test_none_shows_only_the_control(site: str, browser: Browser, javascript: bool) -> None:
    with visitor(browser, JAPAN, javascript) as page:
        page.goto(site + "/")
        expect(page.locator("[data-consent-banner]")).to_have_count(0)
        expect(page.locator(CONTROL).get_by_role("link", name=CHOICES)).to_be_visible()
        if javascript:
            assert serious(Axe().run(page, context="[data-consent-root]")) == []


def test_opt_in_shows_the_banner(site: str, browser: Browser) -> None:
    with visitor(browser, {"x-test-country": "FR"}) as page:
        page.goto(site + "/")
        expect(page.locator("[data-consent-banner]")).to_be_visible()
        expect(page.locator(NOTICE)).to_have_count(0)
        assert serious(Axe().run(page, context="[data-consent-root]")) == []


@pytest.mark.parametrize("gpc", [True, False])
def test_shared_page_honours_gpc_without_a_notice(
    shared_site: str, browser: Browser, gpc: bool
) -> None:
    """One cached page for everyone in an opt-out place: a GPC browser sees no notice,
    is told its opt-out was honoured, and what GPC covers stays off."""
    with visitor(browser, CALIFORNIA, gpc=gpc) as page:
        page.goto(shared_site + "/")
        page.wait_for_function("window.analyticsRan === true")
        # The one page cannot know the signal when it is made: GPC's categories stay
        # off on it for everyone until a choice grants them.
        assert page.evaluate("window.marketingRan === true") is False
        if gpc:
            expect(page.locator(NOTICE)).to_have_count(0)
            expect(page.locator(CONTROL).get_by_role("link", name=CHOICES)).to_be_visible()
            expect(page.get_by_text("Opt-out request honored")).to_be_visible()
            assert serious(Axe().run(page, context="[data-consent-root]")) == []
        else:
            expect(page.locator(NOTICE)).to_be_visible()
            expect(page.get_by_text("Opt-out request honored")).to_be_hidden()
