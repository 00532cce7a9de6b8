"""vanilla-cookieconsent 3 and Klaro, the real libraries from npm, in Chromium.

A visitor clicks each library's own banner (accept all, reject all, a choice of
their own); the cookie the library leaves in the browser must read, through
``consent.imports``, as the same choice the library itself reads from it on the next
page (its own API, after a reload), and as the choice that was clicked.

``python -m tests.browser.test_real_managers`` runs the same visits once more and
writes the cookies, with what each library read from them, to ``tests/imports/data/``,
where ``tests/imports/test_readers.py`` checks them without npm or a browser.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from consent.imports import read_cc_cookie, read_klaro
from tests.chromium import chromium
from tests.imports import npm
from tests.imports.test_readers import DATA, expected_choice

PAGES = Path(__file__).parent.parent / "imports" / "pages"
CASES = ("accept_all", "reject_all", "custom")
Capture = dict[str, Any]
"""One visit: ``case``, ``cookie_name``, ``value``, ``expected`` and ``library``."""


@contextmanager
def serve_pages() -> Iterator[str]:
    """The two pages and the libraries' files, on loopback; yields the origin."""
    app = Starlette(
        routes=[
            Mount("/lib/cookieconsent", StaticFiles(directory=npm.package_dir(*npm.COOKIECONSENT))),
            Mount("/lib/klaro", StaticFiles(directory=npm.package_dir(*npm.KLARO))),
            Mount("/", StaticFiles(directory=PAGES)),
        ]
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the pages' server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def cookieconsent_visit(browser: Browser, origin: str, case: str) -> Capture:
    """Click vanilla-cookieconsent's banner; its cookie and what the library reads back."""
    return _visit(browser, origin, "cookieconsent.html", "cc_cookie", _click_cookieconsent, case)


def klaro_visit(browser: Browser, origin: str, case: str) -> Capture:
    """Click Klaro's notice; its cookie and what the library reads back."""
    return _visit(browser, origin, "klaro.html", "klaro", _click_klaro, case)


def _visit(
    browser: Browser,
    origin: str,
    path: str,
    cookie_name: str,
    click: Callable[[Page, str], None],
    case: str,
) -> Capture:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{origin}/{path}")
        click(page, case)
        page.wait_for_function(f"document.cookie.includes('{cookie_name}=')")
        (value,) = [c["value"] for c in context.cookies() if c["name"] == cookie_name]
        # The library's own reading of its cookie, as the next page load makes it.
        page.reload()
        expected = (_cookieconsent_reads if cookie_name == "cc_cookie" else _klaro_reads)(page)
    finally:
        context.close()
    name, version = npm.COOKIECONSENT if cookie_name == "cc_cookie" else npm.KLARO
    return {
        "case": case,
        "cookie_name": cookie_name,
        "value": value,
        "expected": expected,
        "library": f"{name}@{version}",
    }


def _click_cookieconsent(page: Page, case: str) -> None:
    banner = page.locator("#cc-main .cm")
    if case == "accept_all":
        banner.get_by_role("button", name="Accept all").click()
    elif case == "reject_all":
        banner.get_by_role("button", name="Reject all").click()
    else:  # analytics, with Google Analytics but not Hotjar
        banner.get_by_role("button", name="Manage preferences").click()
        preferences = page.locator("#cc-main .pm")
        preferences.get_by_role("button", name="Analytics", exact=True).click()
        preferences.get_by_role("checkbox", name="Google Analytics").check()
        preferences.get_by_role("button", name="Save preferences").click()


def _cookieconsent_reads(page: Page) -> dict[str, Any]:
    read: dict[str, Any] = page.evaluate(
        """async () => {
            await window.consentReady;
            const preferences = CookieConsent.getUserPreferences();
            const cookie = CookieConsent.getCookie();
            return {
                valid: CookieConsent.validConsent(),
                accepted: preferences.acceptedCategories,
                refused: preferences.rejectedCategories,
                services: preferences.acceptedServices,
                decided_at: cookie.lastConsentTimestamp,
                revision: cookie.revision,
                foreign_id: cookie.consentId,
            };
        }"""
    )
    assert read.pop("valid") is True, "the library does not honour its own cookie"
    return _sorted(read)


def _click_klaro(page: Page, case: str) -> None:
    notice = page.locator("#klaro-cookie-notice")
    if case == "accept_all":
        notice.get_by_role("button", name="Accept all").click()
    elif case == "reject_all":
        notice.get_by_role("button", name="I decline").click()
    else:  # Google Analytics, not YouTube (the session service is required)
        notice.get_by_text("Let me choose").click()
        modal = page.locator("#klaro .cm-modal")
        modal.locator("label[for=service-item-google-analytics]").click()
        modal.get_by_role("button", name="Accept selected").click()


def _klaro_reads(page: Page) -> dict[str, Any]:
    page.wait_for_function("window.klaro && window.klaro.getManager")
    manager: dict[str, Any] = page.evaluate(
        "() => ({confirmed: klaro.getManager().confirmed, consents: klaro.getManager().consents})"
    )
    assert manager["confirmed"] is True, "Klaro does not take its own cookie for a decision"
    consents: dict[str, bool] = manager["consents"]
    return _sorted(
        {
            "accepted": [service for service, given in consents.items() if given],
            "refused": [service for service, given in consents.items() if not given],
            "services": {},
            "decided_at": None,
            "revision": None,
            "foreign_id": None,
        }
    )


def _sorted(read: dict[str, Any]) -> dict[str, Any]:
    """Lists in a stable order, so that the data files change only when the facts do."""
    return {
        **read,
        "accepted": sorted(read["accepted"]),
        "refused": sorted(read["refused"]),
        "services": {key: sorted(names) for key, names in sorted(read["services"].items())},
    }


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    with serve_pages() as served:
        yield served


@pytest.mark.parametrize("case", CASES)
def test_cookieconsent_cookie_reads_as_the_library_reads_it(
    browser: Browser, origin: str, case: str
) -> None:
    clicked_at = datetime.now(UTC).replace(microsecond=0)
    visit = cookieconsent_visit(browser, origin, case)
    choice = read_cc_cookie(visit["value"])
    assert choice is not None
    assert choice == expected_choice("cc_cookie", visit["expected"])
    assert choice.decided_at is not None
    assert clicked_at <= choice.decided_at
    assert choice.revision == 2  # the page's configuration
    services = {category: set(names) for category, names in choice.services.items()}
    assert (set(choice.accepted), set(choice.refused), services) == {
        "accept_all": (
            {"necessary", "analytics", "ads"},
            set(),
            {"necessary": set(), "analytics": {"ga", "hotjar"}, "ads": set()},
        ),
        "reject_all": (
            {"necessary"},
            {"analytics", "ads"},
            {"necessary": set(), "analytics": set(), "ads": set()},
        ),
        "custom": (
            {"necessary", "analytics"},
            {"ads"},
            {"necessary": set(), "analytics": {"ga"}, "ads": set()},
        ),
    }[case]


@pytest.mark.parametrize("case", CASES)
def test_klaro_cookie_reads_as_the_library_reads_it(
    browser: Browser, origin: str, case: str
) -> None:
    visit = klaro_visit(browser, origin, case)
    choice = read_klaro(visit["value"])
    assert choice is not None
    assert choice == expected_choice("klaro", visit["expected"])
    assert (set(choice.accepted), set(choice.refused)) == {
        "accept_all": ({"google-analytics", "youtube", "session"}, set()),
        "reject_all": ({"session"}, {"google-analytics", "youtube"}),
        "custom": ({"google-analytics", "session"}, {"youtube"}),
    }[case]


def capture() -> None:
    """Write one visit per case and manager to ``tests/imports/data/``."""
    with serve_pages() as served, chromium() as browser:
        for manager, visit in (("cc_cookie", cookieconsent_visit), ("klaro", klaro_visit)):
            visits = [visit(browser, served, case) for case in CASES]
            (DATA / f"{manager}.json").write_text(json.dumps(visits, indent=2) + "\n")
            print(f"wrote {DATA / f'{manager}.json'}", file=sys.stderr)


if __name__ == "__main__":
    capture()
