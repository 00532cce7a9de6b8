"""Through a real Varnish: one cached page, each visitor their own consent state.

Varnish runs with the project's ``docs/varnish/site.vcl`` and what ``consent
vcl`` prints for the origin's settings (``tests/cache/servers.py``). A response
served from the cache says so in ``X-Varnish`` (two numbers: this request, and
the one that stored the object).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import httpx2
import pytest

from consent.settings import CacheMode
from tests.cache.conftest import Stack, StackFactory

ARTICLES = [
    "/articles/council-approves-eastside-tram",
    "/articles/science-of-sleep",
    "/articles/us-japan-joint-command-upgrade",
]
BROWSER = {"sec-fetch-dest": "document", "accept-language": "en-GB,en;q=0.9"}
MODES: list[CacheMode] = ["esi", "shared"]


@pytest.fixture(params=MODES)
def site(request: pytest.FixtureRequest, stacks: StackFactory) -> Stack:
    return stacks("site", request.param)


class Visitor:
    """One browser: its own cookie jar, talking to Varnish."""

    def __init__(self, stack: Stack, **cookies: str) -> None:
        self.stack = stack
        self.client = httpx2.Client(
            base_url=stack.url, headers=BROWSER, cookies=cookies, timeout=15
        )

    def get(self, path: str) -> httpx2.Response:
        return self.client.get(path)

    def decide(self, action: str, next_url: str = "/") -> httpx2.Response:
        """A decision as the banner's form sends it, JavaScript off."""
        fields = {"action": action, "next": next_url, "mechanism": "banner", "locale": "en"}
        response = self.client.post("/_consent", data=fields, headers={"origin": self.stack.url})
        assert response.status_code == 303, response.text
        return response


@pytest.fixture
def visitors(site: Stack) -> Iterator[dict[str, Visitor]]:
    made = {"undecided": Visitor(site), "accepted": Visitor(site), "rejected": Visitor(site)}
    made["accepted"].decide("accept_all")
    made["rejected"].decide("reject_all")
    yield made
    for visitor in made.values():
        visitor.client.close()


def from_cache(response: httpx2.Response) -> bool:
    return len(response.headers["x-varnish"].split()) == 2


def case(path: str, name: str) -> str:
    """A URL of its own for one test, so that it starts from an empty cache entry."""
    return f"{path}?case={re.sub(r'[^A-Za-z0-9_-]', '-', name)}"


def shown_state(body: str) -> str:
    """What an ESI page shows its visitor: the banner, or the control (with withdraw)."""
    assert "<esi:include" not in body
    if "data-consent-banner" in body:
        return "undecided"
    withdraw = re.search(r"<form[^>]*data-consent-withdraw( hidden)?", body)
    assert withdraw is not None
    return "rejected" if withdraw.group(1) else "accepted"


def test_one_cached_page_serves_each_visitor_their_own_state(
    site: Stack, visitors: dict[str, Visitor], request: pytest.FixtureRequest
) -> None:
    url = case(ARTICLES[0], request.node.name)
    responses = {}
    for name in ("undecided", "accepted", "rejected", "undecided"):
        responses[name] = response = visitors[name].get(url)
        assert response.status_code == 200
        assert "cookie" not in response.headers["vary"].lower()
        assert "set-cookie" not in response.headers
    # The first asked for it; everyone after got the stored page.
    assert from_cache(responses["accepted"])
    assert from_cache(responses["rejected"])
    assert from_cache(responses["undecided"])
    if site.mode == "esi":
        for name, response in responses.items():
            assert shown_state(response.text) == name
    else:
        # One page for everyone, the banner in it: consent-state.js, first in <head>,
        # tells a decided visitor's browser to hide it (tests/cache/test_in_chromium.py).
        bodies = {response.text for response in responses.values()}
        assert len(bodies) == 1
        body = bodies.pop()
        assert re.search(r'<head>\s*<script src="/_consent/static/consent-state\.', body)
        assert "data-consent-banner" in body


@pytest.mark.parametrize("site", ["esi"], indirect=True)
def test_visitors_states_never_cross(
    site: Stack, visitors: dict[str, Visitor], request: pytest.FixtureRequest
) -> None:
    # (Shared mode sends every visitor the same bytes: the test above.)
    seen: dict[str, set[str]] = {name: set() for name in visitors}
    for round_ in range(3):
        for path in ARTICLES:
            for name, visitor in visitors.items():
                response = visitor.get(case(path, f"{request.node.name}-{round_ % 2}"))
                seen[name].add(shown_state(response.text))
                granted = re.search(r'data-consent-granted="([^"]*)"', response.text)
                assert granted is not None
                expected = {
                    "accepted": "analytics harbourton-video lanternfish-ads marketing media "
                    "preferences quayside-metrics vistaline"
                }
                assert granted.group(1) == expected.get(name, "")
    assert seen == {name: {name} for name in visitors}


def test_after_reject_no_tracker_cookie_through_the_cache(
    site: Stack, visitors: dict[str, Visitor], request: pytest.FixtureRequest
) -> None:
    rejected = visitors["rejected"]
    rejected.client.cookies.set("_ga", "GA1.2.111.222")
    first = rejected.get(case(ARTICLES[1], request.node.name))  # a miss: the origin answers
    assert not from_cache(first)
    cookies = first.headers.get_list("set-cookie")
    assert not any(c.startswith("site_analytics=") for c in cookies)
    # The refused cookie the browser sent is expired, and so the answer is not stored.
    assert any(c.startswith("_ga=") and "Max-Age=0" in c for c in cookies), cookies
    assert "cookie" in first.headers["vary"].lower()
    second = visitors["undecided"].get(case(ARTICLES[1], request.node.name))
    assert "set-cookie" not in second.headers
    again = rejected.get(case(ARTICLES[1], request.node.name))
    assert not any(c.startswith("site_analytics=") for c in again.headers.get_list("set-cookie"))
    assert "site_analytics" not in rejected.client.cookies


def test_a_page_that_sets_a_cookie_is_not_stored(
    site: Stack, visitors: dict[str, Visitor], request: pytest.FixtureRequest
) -> None:
    url = case(ARTICLES[2], request.node.name)
    accepted = visitors["accepted"].get(url)  # a miss: the granted analytics cookie is set
    assert any(c.startswith("site_analytics=") for c in accepted.headers.get_list("set-cookie"))
    other = visitors["undecided"].get(url)
    assert not from_cache(other)
    assert "set-cookie" not in other.headers
    assert from_cache(visitors["rejected"].get(url))


def test_fragments_are_never_stored(site: Stack, visitors: dict[str, Visitor]) -> None:
    for _ in range(2):
        for name, visitor in visitors.items():
            fragment = visitor.get("/_consent/fragment/body?next=/articles/science-of-sleep")
            assert fragment.headers["cache-control"] == "private, no-store"
            assert not from_cache(fragment)
            assert shown_state(fragment.text) == name
            assert 'name="next" value="/articles/science-of-sleep"' in fragment.text


def test_javascript_off_every_decision_works_and_is_logged(
    site: Stack, request: pytest.FixtureRequest
) -> None:
    url = case(ARTICLES[0], request.node.name)
    reader = Visitor(site)
    before = logged_events(site)
    assert "data-consent-banner" in reader.get(url).text
    answer = reader.decide("accept_all", next_url=url)
    assert answer.headers["location"] == url
    consent = [c for c in answer.headers.get_list("set-cookie") if c.startswith("consent=")]
    # One page for everyone needs the browser to read the choice: no HttpOnly then.
    assert ("HttpOnly" in consent[0]) is (site.mode == "esi")
    page = reader.get(url)
    if site.mode == "esi":
        assert shown_state(page.text) == "accepted"
    reader.decide("reject_all", next_url=url)
    if site.mode == "esi":
        assert shown_state(reader.get(url).text) == "rejected"
    actions = [event["action"] for event in logged_events(site)[len(before) :]]
    assert actions == ["accept_all", "withdraw"]  # refusing what was given withdraws it


def logged_events(stack: Stack) -> list[dict[str, object]]:
    assert stack.log_url is not None
    output = subprocess.run(
        [sys.executable, "-m", "consent.cli", "log", "--db", stack.log_url, "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [json.loads(line) for line in output.splitlines() if line.strip()]
