"""The banner in real headless Chromium, against the article site and a strict-CSP page.

Third-party scripts, the pixel and the video come from a second loopback origin
(127.0.0.2), so "no request before consent" is checked against a real server.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Request, Route, expect

from consent.settings import bundled_locales
from tests.browser.conftest import TRACKER_HOST, Servers

ARTICLE = "/articles/us-japan-joint-command-upgrade"
VIDEO_ARTICLE = "/articles/council-approves-eastside-tram"
OTHER_ARTICLE = "/articles/science-of-sleep"
NECESSARY = {"session", "consent"}


def tracker_requests(page: Page) -> list[str]:
    seen: list[str] = []

    def record(request: Request) -> None:
        if TRACKER_HOST in request.url:
            seen.append(request.url)

    page.on("request", record)
    return seen


def cookie_names(context: BrowserContext) -> set[str]:
    return {cookie["name"] for cookie in context.cookies()}


def demo_runs(page: Page) -> dict[str, int]:
    runs = page.evaluate("() => window.__consentDemo || {}")
    return {key: int(value) for key, value in runs.items()}


def test_nothing_non_essential_before_consent(
    servers: Servers, page: Page, context: BrowserContext
) -> None:
    requests = tracker_requests(page)
    page.goto(servers.site + VIDEO_ARTICLE)
    page.wait_for_load_state("networkidle")
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    assert requests == []
    assert cookie_names(context) <= NECESSARY
    assert demo_runs(page) == {}


def test_reject_keeps_everything_off(servers: Servers, page: Page, context: BrowserContext) -> None:
    requests = tracker_requests(page)
    page.goto(servers.site + ARTICLE)
    page.get_by_role("button", name="Reject all").click()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    expect(page.locator("[data-consent-settings]")).to_be_visible()
    page.goto(servers.site + OTHER_ARTICLE)
    page.wait_for_load_state("networkidle")
    assert requests == []
    assert cookie_names(context) <= NECESSARY
    assert "consent" in cookie_names(context)
    # No cookie wall: the article is there in full.
    expect(page.locator("article p").first).to_be_visible()


def test_accept_runs_scripts_once_without_reload_then_from_the_first_byte(
    servers: Servers, page: Page, context: BrowserContext
) -> None:
    requests = tracker_requests(page)
    page.goto(servers.site + ARTICLE)
    page.evaluate("() => { window.__sameDocument = true; }")
    page.get_by_role("button", name="Accept all").click()
    page.wait_for_function("() => window.__consentDemo && window.__consentDemo.adsRuns === 1")
    assert page.evaluate("() => window.__sameDocument") is True
    assert demo_runs(page) == {"analyticsRuns": 1, "adsRuns": 1}
    assert any(url.endswith("/analytics.js") for url in requests)
    assert any(url.endswith("/pixel.gif") for url in requests)
    assert {"_ga", "_fbp"} <= cookie_names(context)

    response = page.goto(servers.site + OTHER_ARTICLE)
    assert response is not None
    html = response.text()
    assert 'type="text/plain" data-consent-category="analytics"' not in html
    page.wait_for_function("() => window.__consentDemo && window.__consentDemo.adsRuns === 1")
    assert demo_runs(page) == {"analyticsRuns": 1, "adsRuns": 1}
    assert "site_analytics" in cookie_names(context)  # HttpOnly, set by the server


def test_gated_video_shows_a_placeholder_that_allows_its_category(
    servers: Servers, page: Page
) -> None:
    requests = tracker_requests(page)
    page.goto(servers.site + VIDEO_ARTICLE)
    placeholder = page.locator("[data-consent-placeholder=harbourton-video]")
    expect(placeholder).to_be_visible()
    assert requests == []
    placeholder.get_by_role("button").click()
    expect(page.locator("iframe[data-consent-category=media]")).to_have_attribute(
        "src", servers.tracker + "/video.html"
    )
    expect(placeholder).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert any(url.endswith("/video.html") for url in requests)
    assert not any(url.endswith("/analytics.js") for url in requests)


def test_withdrawal_removes_the_cookies_at_once(
    servers: Servers, page: Page, context: BrowserContext
) -> None:
    page.goto(servers.site + ARTICLE)
    page.get_by_role("button", name="Accept all").click()
    page.wait_for_function("() => window.__consentDemo && window.__consentDemo.analyticsRuns === 1")
    page.goto(servers.site + OTHER_ARTICLE)
    assert {"_ga", "site_analytics"} <= cookie_names(context)
    page.locator("[data-consent-settings] [data-consent-action=preferences]").click()
    dialog = page.locator("dialog.consent-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Analytics").uncheck()
    dialog.get_by_role("button", name="Save my choices").click()
    expect(dialog).to_be_hidden()
    names = cookie_names(context)
    assert "_ga" not in names
    assert "site_analytics" not in names
    assert "_fbp" in names


def test_withdrawal_takes_one_click(servers: Servers, page: Page, context: BrowserContext) -> None:
    page.goto(servers.site + ARTICLE)
    page.get_by_role("button", name="Accept all").click()
    withdraw = page.locator("[data-consent-action=withdraw]")
    expect(withdraw).to_be_visible()
    page.wait_for_function("() => window.__consentDemo && window.__consentDemo.adsRuns === 1")
    withdraw.click()
    expect(withdraw).to_be_hidden()
    assert cookie_names(context) <= NECESSARY


def test_withdrawal_in_the_page_expires_cookies_by_their_globs(
    servers: Servers, page: Page, context: BrowserContext
) -> None:
    page.goto(servers.site + ARTICLE)
    page.get_by_role("button", name="Accept all").click()
    withdraw = page.locator("[data-consent-action=withdraw]")
    expect(withdraw).to_be_visible()
    # "_ga_*" is an analytics glob; "_gax" matches none of the site's globs.
    page.evaluate("() => { document.cookie = '_ga_G123=1; path=/'; document.cookie = '_gax=1'; }")
    assert {"_ga_G123", "_gax"} <= cookie_names(context)

    def without_set_cookie(route: Route) -> None:
        # The server expires refused cookies in its answer too: here only the page may.
        # (Not through route.fetch(), which would store the answer's cookies itself.)
        request = route.request
        forwarded = urllib.request.Request(
            request.url,
            data=request.post_data_buffer,
            headers=request.all_headers(),
            method=request.method,
        )
        with urllib.request.urlopen(forwarded) as answer:
            headers = {k: v for k, v in answer.headers.items() if k.lower() != "set-cookie"}
            route.fulfill(status=answer.status, headers=headers, body=answer.read())

    page.route("**/_consent", without_set_cookie)
    withdraw.click()
    expect(withdraw).to_be_hidden()
    names = cookie_names(context)
    assert "_ga_G123" not in names
    assert "_gax" in names


def test_without_javascript_every_action_works(servers: Servers, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(servers.site + ARTICLE)
        page.get_by_role("button", name="Reject all").click()
        expect(page).to_have_url(servers.site + ARTICLE)
        expect(page.locator("[data-consent-banner]")).to_have_count(0)
        page.get_by_role("link", name="Cookie settings", exact=True).click()
        expect(page).to_have_url(servers.site + "/_consent/preferences?next=" + ARTICLE)
        page.get_by_label("Analytics").check()
        page.get_by_role("button", name="Save my choices").click()
        expect(page).to_have_url(servers.site + ARTICLE)
        html = page.content()
        assert 'type="text/plain" data-consent-category="analytics"' not in html
        assert "site_analytics" in cookie_names(context)
        page.get_by_role("link", name="Cookie settings", exact=True).click()
        page.get_by_role("button", name="Accept all").click()
        expect(page).to_have_url(servers.site + ARTICLE)
        assert "_fbp" not in cookie_names(context)  # set by a script, and scripts are off
    finally:
        context.close()


def tab_to(page: Page, selector: str, limit: int = 400) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            "(s) => document.activeElement && document.activeElement.matches(s)", selector
        ):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_alone_reaches_and_operates_every_control(
    servers: Servers, page: Page, context: BrowserContext
) -> None:
    page.goto(servers.site + ARTICLE)
    for action in ("reject_all", "accept_all", "preferences"):
        tab_to(page, f"[data-consent-banner] [data-consent-action={action}]")
    page.keyboard.press("Enter")
    dialog = page.locator("dialog.consent-dialog")
    expect(dialog).to_be_visible()
    inside = (
        "() => document.querySelector('dialog.consent-dialog').contains(document.activeElement)"
    )
    assert page.evaluate(inside)
    for _ in range(15):
        page.keyboard.press("Tab")
        assert page.evaluate(inside), "focus left the open dialog"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    opener = "[data-consent-banner] [data-consent-action=preferences]"
    assert page.evaluate("(s) => document.activeElement.matches(s)", opener)
    assert "consent" not in cookie_names(context)  # closing decided nothing
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # Accept all
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    assert "consent" in cookie_names(context)


def serious(results: object) -> list[str]:
    violations = results.response["violations"]  # type: ignore[attr-defined]
    return [f"{v['id']}: {v['help']}" for v in violations if v["impact"] in ("serious", "critical")]


def assert_banner_and_preferences_pass_axe(page: Page, site: str) -> None:
    """The open page's banner, its preferences dialog and the preferences page: axe clean."""
    axe = Axe()
    assert serious(axe.run(page, context="[data-consent-root]")) == []
    page.locator("[data-consent-banner] [data-consent-action=preferences]").click()
    expect(page.locator("dialog.consent-dialog")).to_be_visible()
    assert serious(axe.run(page, context="dialog.consent-dialog")) == []
    page.goto(site + "/_consent/preferences")
    assert serious(axe.run(page)) == []


def test_banner_and_preferences_pass_axe(servers: Servers, page: Page) -> None:
    page.goto(servers.site + ARTICLE)
    assert_banner_and_preferences_pass_axe(page, servers.site)


@pytest.mark.parametrize("locale", sorted(bundled_locales()))
def test_each_locale_renders(servers: Servers, browser: Browser, locale: str) -> None:
    context = browser.new_context(locale=locale)
    try:
        page = context.new_page()
        page.goto(servers.site + ARTICLE)
        banner = page.locator("[data-consent-banner]")
        expect(banner).to_have_attribute("lang", locale)
        texts = bundled_locales()[locale]["texts"]
        expect(banner.get_by_role("button", name=texts["accept_all"])).to_be_visible()
        expect(banner.get_by_role("button", name=texts["reject_all"])).to_be_visible()
    finally:
        context.close()


def test_gpc_is_honoured_in_the_page(servers: Servers, browser: Browser) -> None:
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"})
    try:
        page = context.new_page()
        page.goto(servers.site + ARTICLE)
        expect(page.locator("[data-consent-gpc]")).to_contain_text("Opt-out request honored")
        assert page.locator("dialog").count() == 0  # no extra pop-up
        page.get_by_role("button", name="Accept all").click()
        page.wait_for_function(
            "() => window.__consentDemo && window.__consentDemo.analyticsRuns === 1"
        )
        page.wait_for_timeout(300)
        assert "adsRuns" not in demo_runs(page)
    finally:
        context.close()


def test_strict_csp_page_works_without_csp_errors(servers: Servers, page: Page) -> None:
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.goto(servers.strict + "/")
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    commands = "() => window.dataLayer.map((entry) => [entry[0], entry[1]])"
    assert page.evaluate(commands) == [["consent", "default"]]
    page.get_by_role("button", name="Accept all").click()
    expect(page.locator("#ran")).to_have_text("ran")
    assert page.evaluate(commands) == [["consent", "default"], ["consent", "update"]]
    update = page.evaluate("() => window.dataLayer[1][2]")
    assert update["analytics_storage"] == "granted"
    page.reload()
    expect(page.locator("#ran")).to_have_text("ran")
    assert page.evaluate(commands) == [["consent", "default"], ["consent", "update"]]
    assert [e for e in errors if "Content Security Policy" in e] == []


def test_accept_and_reject_are_the_same_size(servers: Servers, page: Page) -> None:
    for width in (1280, 375, 320):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(servers.site + ARTICLE)
        accept = page.locator("[data-consent-action=accept_all]").bounding_box()
        reject = page.locator("[data-consent-action=reject_all]").bounding_box()
        assert accept is not None
        assert reject is not None
        assert (round(accept["width"]), round(accept["height"])) == (
            round(reject["width"]),
            round(reject["height"]),
        )
        overflow = page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
        assert overflow is False, f"horizontal scroll at {width}px"


SHOTS = [
    (name, width, height, scheme)
    for name, width, height in (("desktop", 1280, 800), ("mobile", 375, 740))
    for scheme in ("light", "dark")
]


@pytest.mark.parametrize(("name", "width", "height", "scheme"), SHOTS)
def test_screenshots(
    servers: Servers,
    browser: Browser,
    tmp_path: Path,
    name: str,
    width: int,
    height: int,
    scheme: str,
) -> None:
    out = Path(os.environ.get("SCREENSHOTS_DIR", tmp_path))
    context = browser.new_context(
        viewport={"width": width, "height": height},
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    try:
        page = context.new_page()
        page.goto(servers.site + ARTICLE)
        banner_path = out / f"banner-{name}-{scheme}.png"
        page.screenshot(path=banner_path)
        page.locator("[data-consent-banner] [data-consent-action=preferences]").click()
        expect(page.locator("dialog.consent-dialog")).to_be_visible()
        preferences_path = out / f"preferences-{name}-{scheme}.png"
        page.screenshot(path=preferences_path)
        for path in (banner_path, preferences_path):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        context.close()
