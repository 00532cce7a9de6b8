"""Allowing one service loads its embed and not another's, in real Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import served

YOUTUBE = 'iframe[data-consent-service="youtube"]'
VIMEO = 'iframe[data-consent-service="vimeo"]'


@pytest.fixture(scope="module", params=["services", "services-shared"])
def site(request: pytest.FixtureRequest) -> Iterator[str]:
    """The page made per visitor, and one page for everyone (``cache_mode="shared"``)."""
    yield from served(request.param)


@pytest.fixture(scope="module")
def made_per_visitor() -> Iterator[str]:
    yield from served("services")


def open_page(browser: Browser, site: str, javascript: bool = True) -> Page:
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url) if "/embed/" in r.url else None)
    page.requested = requested  # type: ignore[attr-defined]
    page.goto(site + "/")
    return page


def requested(page: Page) -> list[str]:
    return sorted({url.rsplit("/", 1)[1] for url in page.requested})  # type: ignore[attr-defined]


def test_allowing_one_service_loads_its_embed_and_not_the_other(
    site: str, browser: Browser
) -> None:
    page = open_page(browser, site)
    try:
        # Each blocked embed shows a placeholder that allows its own service.
        placeholders = page.locator("[data-consent-placeholder]")
        expect(placeholders).to_have_count(2)
        assert requested(page) == []
        page.get_by_role("button", name="Allow “YouTube”").click()
        expect(page.frame_locator(YOUTUBE).locator("#player")).to_have_text("youtube")
        expect(page.locator(VIMEO)).to_be_hidden()
        expect(page.locator('[data-consent-placeholder="vimeo"]')).to_be_visible()
        assert requested(page) == ["youtube"]
        # On the next page view, the same: YouTube from the start, Vimeo still blocked.
        page.requested.clear()  # type: ignore[attr-defined]
        page.reload()
        expect(page.frame_locator(YOUTUBE).locator("#player")).to_have_text("youtube")
        expect(page.locator('[data-consent-placeholder="vimeo"]')).to_be_visible()
        assert requested(page) == ["youtube"]
    finally:
        page.context.close()


def test_the_preferences_tick_one_service_with_javascript_off(
    made_per_visitor: str, browser: Browser
) -> None:
    """No script at all: the preferences page's box for one service, and the server
    makes that embed live in the page. (A page cached for everyone needs its script.)"""
    site = made_per_visitor
    page = open_page(browser, site, javascript=False)
    try:
        page.goto(site + "/_consent/preferences?next=/")
        page.locator("#consent-service-vimeo").check()
        page.get_by_role("button", name="Save my choices").click()
        page.wait_for_url(site + "/")
        expect(page.locator(f"{VIMEO}[src]")).to_have_count(1)
        expect(page.locator(f"{YOUTUBE}[src]")).to_have_count(0)
        assert requested(page) == ["vimeo"]
    finally:
        page.context.close()
