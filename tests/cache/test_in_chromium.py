"""Through a real Varnish, in real Chromium: one stored page, each visitor their own state.

Every request goes to Varnish (``tests/cache/servers.py``); a navigation that
the cache answered says so in ``X-Varnish`` (two numbers). Each test asks for
URLs of its own (``?case=...``), so that it starts from an empty cache entry.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, Route, expect

from consent.settings import CacheMode
from tests.cache.conftest import StackFactory
from tests.chromium import chromium

pytestmark = pytest.mark.browser

ARTICLES = [
    "/articles/council-approves-eastside-tram",
    "/articles/science-of-sleep",
    "/articles/us-japan-joint-command-upgrade",
]
BANNER = "[data-consent-banner]"
SETTINGS = "[data-consent-settings]"
WITHDRAW = "[data-consent-withdraw]"
ROOT_PLACE = """() => {
  const root = document.querySelector("[data-consent-root]");
  return root === document.body.firstElementChild ? "first"
    : root === document.body.lastElementChild ? "last" : "elsewhere";
}"""
FRAME_SAMPLER = """(() => {
  if (window !== window.top) return;
  /* One sample per animation frame, from the first: is the document marked, is the banner shown? */
  const frames = (window.consentFrames = []);
  const sample = () => {
    const banner = document.querySelector("[data-consent-banner]");
    const control = document.querySelector("[data-consent-settings]");
    const style = control && getComputedStyle(control);
    frames.push({
      decided: document.documentElement.hasAttribute("data-consent-decided"),
      banner: banner ? getComputedStyle(banner).display : null,
      control: style && style.display !== "none" ? style.position : null,
    });
    if (frames.length < 2000) requestAnimationFrame(sample);
  };
  requestAnimationFrame(sample);
  window.layoutShifts = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.layoutShifts.push(entry.value);
  }).observe({ type: "layout-shift", buffered: true });
})();"""
CONSENT_COMMANDS = "() => window.dataLayer.map((entry) => [entry[0], entry[1], entry[2] ?? null])"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@contextmanager
def visitor(browser: Browser, *, javascript: bool = True) -> Iterator[Page]:
    """A fresh browser profile (its own cookie jar) and its one tab."""
    context = browser.new_context(java_script_enabled=javascript)
    try:
        yield context.new_page()
    finally:
        context.close()


def case(path: str, request: pytest.FixtureRequest) -> str:
    """A path and query of this test's own."""
    return f"{path}?case={re.sub(r'[^A-Za-z0-9_-]', '-', request.node.name)}"


def from_cache(response: Response | None) -> bool:
    assert response is not None
    return len(response.headers["x-varnish"].split()) == 2


def csp_errors(page: Page) -> list[str]:
    """The console's Content Security Policy errors, as they come."""
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            errors.append(message.text)

    page.on("console", record)
    return errors


def cookies(page: Page) -> dict[str, str]:
    return {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}


def granted_in_cookie(page: Page) -> list[str]:
    """The categories the consent cookie grants (``1.id.revision.how.granted.time.sig``)."""
    parts = cookies(page)["consent"].split(".")
    return [key for key in parts[4].split("~") if key]


def submit_and_follow(page: Page, button: str, origin: str, path: str) -> None:
    """Click a banner button with JavaScript off: a real form post through the cache,
    answered 303 back to ``path``, which then comes from the cache."""
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=button).click()
    landed = navigation.value
    assert landed is not None
    post = landed.request.redirected_from
    assert post is not None
    answer = post.response()
    assert answer is not None
    assert (answer.request.method, answer.url) == ("POST", origin + "/_consent")
    assert (answer.status, answer.headers["location"]) == (303, path)
    assert landed.url == origin + path
    assert from_cache(landed)


def expect_undecided(page: Page) -> None:
    expect(page.locator(BANNER)).to_be_visible()
    expect(page.locator(SETTINGS)).to_be_hidden()


def expect_decided(page: Page, *, withdrawable: bool) -> None:
    expect(page.locator(BANNER)).to_have_count(0)
    settings = page.locator(SETTINGS).get_by_role("link", name="Cookie settings")
    expect(settings).to_be_visible()
    withdraw = page.locator(WITHDRAW)
    if withdrawable:
        expect(withdraw).to_be_visible()
    else:
        expect(withdraw).to_be_hidden()


# cache_mode "esi": Varnish puts each visitor's fragment into the stored page.


def test_esi_one_stored_page_shows_the_banner_and_the_settings_control(
    stacks: StackFactory, browser: Browser, request: pytest.FixtureRequest
) -> None:
    url = stacks("site", "esi").url + case(ARTICLES[0], request)
    with visitor(browser) as page:
        assert not from_cache(page.goto(url))
        expect_undecided(page)
        assert page.evaluate(ROOT_PLACE) == "first"
        page.evaluate("() => { window.sameDocument = true; }")
        page.get_by_role("button", name="Accept all").click()
        expect_decided(page, withdrawable=True)
        assert page.evaluate("() => window.sameDocument") is True
        assert from_cache(page.reload())
        expect_decided(page, withdrawable=True)
        # "Cookie settings" comes last in the focus order, wherever the fragment was.
        assert page.evaluate(ROOT_PLACE) == "last"
    with visitor(browser) as page:
        assert from_cache(page.goto(url))
        expect_undecided(page)


# cache_mode "shared": one page for everyone; consent-state.js marks a decided visitor's.


def frames(page: Page) -> list[dict[str, Any]]:
    """The frame sampler's samples, once the page has settled for 20 more frames."""
    seen = int(page.evaluate("() => window.consentFrames.length"))
    page.wait_for_function(f"() => window.consentFrames.length > {seen + 20}")
    samples: list[dict[str, Any]] = page.evaluate("() => window.consentFrames")
    return samples


def slow_down(route: Route) -> None:
    """Answer 300 ms late, with what Varnish answers."""
    answer = route.fetch()
    time.sleep(0.3)
    route.fulfill(response=answer)


def test_shared_a_decided_visitor_never_sees_the_banner_in_any_frame(
    stacks: StackFactory, browser: Browser, request: pytest.FixtureRequest
) -> None:
    url = stacks("site", "shared").url + case(ARTICLES[2], request)
    context = browser.new_context()
    try:
        context.add_init_script(FRAME_SAMPLER)
        # The marking script arrives late (routing also keeps it out of the browser's
        # cache): the first frame must wait for it all the same.
        context.route("**/_consent/static/consent-state.*", slow_down)
        # So does the stylesheet: the control is never shown before it is styled.
        context.route("**/_consent/static/consent.*.css", slow_down)
        page = context.new_page()
        page.goto(url)
        expect_undecided(page)
        undecided = frames(page)
        # The sampler sees what a visitor sees: an undecided one gets the banner.
        assert undecided[0]["decided"] is False
        assert "flex" in {sample["banner"] for sample in undecided}
        page.get_by_role("button", name="Accept all").click()
        expect_decided(page, withdrawable=True)
        assert from_cache(page.reload())
        expect_decided(page, withdrawable=True)
        decided = frames(page)
        assert decided[0]["decided"] is True  # marked before the first frame
        assert {sample["banner"] for sample in decided} <= {None, "none"}
        assert {sample["control"] for sample in decided} == {None, "fixed"}
        assert page.evaluate("() => window.layoutShifts") == []
    finally:
        context.close()


# Both modes: a strict CSP, JavaScript off, and visitors side by side.


@pytest.mark.parametrize("mode", ["esi", "shared"])
def test_strict_csp_gated_script_and_consent_mode_from_the_cache(
    stacks: StackFactory, browser: Browser, request: pytest.FixtureRequest, mode: CacheMode
) -> None:
    url = stacks("strict", mode).url + case("/", request)
    with visitor(browser) as page:
        errors = csp_errors(page)
        page.goto(url)
        expect_undecided(page)
        assert page.evaluate(CONSENT_COMMANDS)[1:] == []
        page.get_by_role("button", name="Accept all").click()
        expect(page.locator("#ran")).to_have_text("ran 1")
        assert from_cache(page.reload())
        expect_decided(page, withdrawable=True)
        expect(page.locator("#ran")).to_have_text("ran 1")
        commands = page.evaluate(CONSENT_COMMANDS)
        assert [command[:2] for command in commands] == [
            ["consent", "default"],
            ["consent", "update"],
        ]
        assert commands[1][2]["analytics_storage"] == "granted"
        page.wait_for_load_state("networkidle")
        expect(page.locator("#ran")).to_have_text("ran 1")
        assert errors == []


@pytest.mark.parametrize("mode", ["esi", "shared"])
def test_javascript_off_the_banner_forms_post_through_the_cache(
    stacks: StackFactory, browser: Browser, request: pytest.FixtureRequest, mode: CacheMode
) -> None:
    stack = stacks("site", mode)
    path = case(ARTICLES[1], request)
    with visitor(browser, javascript=False) as page:
        assert not from_cache(page.goto(stack.url + path))
        expect_undecided(page)
        submit_and_follow(page, "Accept all", stack.url, path)
        assert granted_in_cookie(page) == ["analytics", "marketing", "media", "preferences"]
        if mode == "esi":
            expect_decided(page, withdrawable=True)
        else:
            # Documented: with no script to read the choice, the cached page shows the banner.
            expect_undecided(page)
        # The decided visitor's control withdraws in one click, as the banner's Reject.
        refuse = "Withdraw consent" if mode == "esi" else "Reject all"
        submit_and_follow(page, refuse, stack.url, path)
        assert granted_in_cookie(page) == []
        if mode == "esi":
            expect_decided(page, withdrawable=False)
        else:
            expect_undecided(page)
        assert "site_analytics" not in cookies(page)


@pytest.mark.parametrize("mode", ["esi", "shared"])
def test_two_visitors_alternating_each_keep_their_own_state(
    stacks: StackFactory, browser: Browser, request: pytest.FixtureRequest, mode: CacheMode
) -> None:
    stack = stacks("site", mode)
    urls = [stack.url + case(path, request) for path in ARTICLES]
    with visitor(browser) as accepted, visitor(browser) as undecided:
        accepted.goto(stack.url + case("/", request))
        accepted.get_by_role("button", name="Accept all").click()
        expect_decided(accepted, withdrawable=True)
        answers: list[bool] = []
        for round_ in range(2):
            for url in urls:
                order = (undecided, accepted) if round_ == 0 else (accepted, undecided)
                for page in order:
                    answers.append(from_cache(page.goto(url)))
                    if page is accepted:
                        expect_decided(page, withdrawable=True)
                    else:
                        expect_undecided(page)
        # The undecided visitor asked first for each page; every later answer came from the cache.
        assert answers == [False, True] * 3 + [True] * 6
