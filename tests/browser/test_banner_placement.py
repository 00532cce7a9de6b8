"""Where the banner sits, in real Chromium: first in the focus order, whole when it shows,
nothing that a strict CSP blocks."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Servers

IN_BANNER = "() => !!document.activeElement?.closest('[data-consent-banner]')"
LAYOUT_SHIFT = """() => new Promise((resolve) => {
  new PerformanceObserver((list) => {
    resolve(list.getEntries().map((entry) => entry.value));
  }).observe({ type: "layout-shift", buffered: true });
  setTimeout(() => resolve([]), 500);
})"""


def tabs_to_banner(page: Page, limit: int = 120) -> int:
    """How many Tab presses from the top of the page reach the banner."""
    page.evaluate("() => document.activeElement?.blur()")
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate(IN_BANNER):
            return presses
    raise AssertionError(f"{limit} Tab presses never reached the banner")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("position", ["bottom", "top"])
@pytest.mark.parametrize("variant", ["plain", "attributes", "missing", "late"])
def test_the_first_tab_lands_in_the_banner(
    servers: Servers, browser: Browser, variant: str, position: str, javascript: bool
) -> None:
    context = browser.new_context(java_script_enabled=javascript)
    try:
        page = context.new_page()
        page.goto(f"{servers.pages}/front/{variant}?position={position}")
        banner = page.locator("[data-consent-banner]")
        expect(banner).to_be_visible()
        # The page has a skip link and 100 links; the banner still comes first.
        assert page.locator("a").count() > 100
        assert tabs_to_banner(page) == 1
        page.reload()
        expect(banner).to_be_visible()
        assert tabs_to_banner(page) == 1
        # Where it shows on screen is the setting's alone.
        box = banner.bounding_box()
        viewport = page.viewport_size
        assert box is not None
        assert viewport is not None
        if position == "top":
            assert box["y"] == 0
        else:
            assert abs(box["y"] + box["height"] - viewport["height"]) <= 1
    finally:
        context.close()


@pytest.mark.parametrize("nonce", ["0", "1"], ids=["linked-stylesheet", "nonce"])
@pytest.mark.parametrize("position", ["bottom", "top"])
def test_a_banner_split_in_two_pieces_shifts_nothing(
    servers: Servers, page: Page, nonce: str, position: str
) -> None:
    page.goto(f"{servers.pages}/front/plain?split=1&nonce={nonce}&position={position}")
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    expect(page.locator("[data-consent-banner] [data-consent-action=accept_all]")).to_be_visible()
    assert page.evaluate(LAYOUT_SHIFT) == []


def test_the_split_really_shows_a_half_loaded_banner_to_the_browser(
    servers: Servers, page: Page
) -> None:
    """The case above is a real one: while the second piece is on its way, the page
    has painted, the banner's first half is in the document and out of sight."""
    page.goto(f"{servers.pages}/front/plain?split=1", wait_until="commit")
    page.wait_for_selector("[data-consent-banner]", state="attached")
    assert page.locator("[data-consent-banner] [data-consent-action=accept_all]").count() == 0
    assert not page.locator("[data-consent-banner]").is_visible()
    expect(page.locator("[data-consent-banner] [data-consent-action=accept_all]")).to_be_visible()


def test_with_a_nonce_nothing_blocks_the_first_paint_and_the_csp_holds(
    servers: Servers, page: Page
) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    response = page.goto(f"{servers.pages}/front/plain?nonce=1")
    assert response is not None
    html = response.text()
    assert 'nonce=""' not in html
    # Consent Mode and the stylesheet are inline: the page asks for no file of ours
    # but the banner's script module, which never blocks rendering.
    ours = [url for url in requests if "/_consent/static/" in url]
    assert [url.split("/")[-1].split(".")[0] for url in ours] == ["consent"]
    assert ours[0].endswith(".js")
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    commands = "() => window.dataLayer.map((entry) => [entry[0], entry[1]])"
    assert page.evaluate(commands) == [["consent", "default"]]
    page.get_by_role("button", name="Accept all").click()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    page.wait_for_function("() => window.gatedRuns === 1")
    page.reload()
    page.wait_for_function("() => window.gatedRuns === 1")
    assert page.evaluate(commands) == [["consent", "default"], ["consent", "update"]]
    assert [e for e in errors if "Content Security Policy" in e] == []


def test_without_a_nonce_no_empty_nonce_attribute_and_no_stylesheet_blocks(
    servers: Servers, page: Page
) -> None:
    response = page.goto(f"{servers.pages}/front/plain")
    assert response is not None
    html = response.text()
    assert "nonce" not in html
    assert html.index("data-consent-banner") < html.index("Skip to content")
    # The only parser-inserted stylesheet is for JavaScript off; consent.js links it.
    assert html.count('rel="stylesheet"') == 1
    assert html.index('rel="stylesheet"') > html.index("<noscript>")
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    links = "() => [...document.querySelectorAll('link[rel=stylesheet]')].map((l) => l.href)"
    [link] = page.evaluate(links)
    assert "/_consent/static/consent." in link


@pytest.mark.parametrize("path", ["/", "/articles/us-japan-joint-command-upgrade"])
def test_on_the_example_site_the_first_tab_lands_in_the_banner(
    servers: Servers, page: Page, path: str
) -> None:
    page.goto(servers.site + path)
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    assert tabs_to_banner(page) == 1
