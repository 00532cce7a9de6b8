"""The flagship's third parties as services: the privacy page is the cookie declaration,
and a visitor allows one video service without the other, with JavaScript off."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent import Category, ConsentSettings
from consent.declaration import DeclaredCookie, cookie_declaration
from examples.article_site import app as site_app
from examples.article_site.articles import ARTICLES
from examples.article_site.cookie_policy import build_consent_settings
from examples.article_site.thirdparty import create_tracker_app

TRACKER = "http://127.0.0.2:8001"
TRAM = "/articles/council-approves-eastside-tram"  # a Harbourton Video film
MARKET = "/articles/quay-street-saturday-market"  # a Vistaline film
US_JAPAN = "/articles/us-japan-joint-command-upgrade"


def declared_settings(tracker_origin: str = "") -> ConsentSettings:
    return build_consent_settings(
        secret_key="DEMO-ONLY-insecure-secret-key-set-CONSENT_SECRET_KEY",
        log_url=None,
        tracker_origin=tracker_origin,
    )


class CookieTables(HTMLParser):
    """The privacy page's cookie tables: each row's cells, by category and service."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, str, tuple[str, ...]]] = []
        self.services: dict[str, list[str]] = {}
        self._category = ""
        self._service = ""
        self._cells: list[str] | None = None
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and "data-declared-category" in attributes:
            self._category = attributes["data-declared-category"] or ""
        elif tag == "tbody" and self._category:
            self._service = attributes.get("data-declared-service") or ""
            if self._service:
                self.services.setdefault(self._category, []).append(self._service)
        elif tag == "tr" and "data-declared-cookie" in attributes:
            self._cells = []
        elif tag in ("th", "td") and self._cells is not None:
            self._cells.append("")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self._in_cell = False
        elif tag == "table":
            self._category = ""
        elif tag == "tr" and self._cells is not None:
            self.rows.append((self._category, self._service, tuple(self._cells)))
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._cells and self._in_cell:
            self._cells[-1] += data


def cookie_tables(html: str) -> CookieTables:
    parser = CookieTables()
    parser.feed(html)
    return parser


def shown(cookie: DeclaredCookie) -> tuple[str, ...]:
    """A declared cookie as the privacy page words its row."""
    return (
        cookie.name,
        cookie.provider or "This site",
        " ".join(cookie.purpose.split()),
        cookie.retention or "Not stated",
        "Third party" if cookie.party == "third" else "First party",
    )


def normalised(rows: list[tuple[str, str, tuple[str, ...]]]) -> list[tuple[Any, ...]]:
    """The rows with white space as a browser shows it."""
    return [(c, s, tuple(" ".join(cell.split()) for cell in cells)) for c, s, cells in rows]


@pytest.mark.parametrize("tracker_origin", ["", TRACKER])
def test_privacy_page_shows_every_row_of_the_declaration(tracker_origin: str) -> None:
    declaration = cookie_declaration(declared_settings(tracker_origin), "en")
    expected = [
        (category.key, "", shown(cookie))
        for category in declaration.categories
        for cookie in category.cookies
    ] + [
        (category.key, service.key, shown(cookie))
        for category in declaration.categories
        for service in category.services
        for cookie in service.cookies
    ]
    client = TestClient(site_app.create_app(log_url=None, tracker_origin=tracker_origin))

    tables = cookie_tables(client.get("/privacy").text)

    assert sorted(normalised(tables.rows)) == sorted(expected)
    assert tables.services == {
        category.key: [service.key for service in category.services]
        for category in declaration.categories
        if category.services
    }


def test_the_declaration_has_the_third_parties_as_services() -> None:
    declaration = cookie_declaration(declared_settings(TRACKER), "en")

    services = {s.key: s for category in declaration.categories for s in category.services}

    assert {c.key: [s.key for s in c.services] for c in declaration.categories} == {
        "necessary": [],
        "preferences": [],
        "analytics": ["quayside-metrics"],
        "marketing": ["lanternfish-ads"],
        "media": ["harbourton-video", "vistaline"],
    }
    assert services["harbourton-video"].hosts == ("127.0.0.2",)
    assert services["vistaline"].hosts == ("127.0.0.2",)
    # The site's own cookies stay in their category, described by it.
    [analytics] = [c for c in declaration.categories if c.key == "analytics"]
    assert [(c.name, c.purpose) for c in analytics.cookies] == [
        ("site_analytics", analytics.description)
    ]


def test_privacy_page_names_each_service_and_its_provider() -> None:
    client = TestClient(site_app.create_app(log_url=None, tracker_origin=TRACKER))

    html = client.get("/privacy").text

    for name, provider, key in (
        ("Quayside Metrics", "Quayside Metrics Ltd.", "quayside-metrics"),
        ("Lanternfish Ads", "Lanternfish Advertising Ltd.", "lanternfish-ads"),
        ("Harbourton Video", "Harbourton Video Ltd.", "harbourton-video"),
        ("Vistaline", "Vistaline Media B.V.", "vistaline"),
    ):
        assert f'{name}, by {provider} (<a href="{TRACKER}/privacy/{key}">' in html


def test_privacy_page_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    def with_a_poll_cookie(**options: Any) -> ConsentSettings:
        settings = build_consent_settings(**options)
        categories = tuple(
            Category(**{**c.model_dump(), "cookies": (*c.cookies, "reader_poll")})
            if c.key == "preferences"
            else c
            for c in settings.categories
        )
        return settings.model_copy(update={"categories": categories})

    monkeypatch.setattr(site_app, "build_consent_settings", with_a_poll_cookie)
    client = TestClient(site_app.create_app(log_url=None))

    rows = cookie_tables(client.get("/privacy").text).rows

    assert [cells[0] for category, _, cells in rows if category == "preferences"] == [
        "theme",
        "reader_poll",
    ]


def test_privacy_page_links_to_the_declaration_in_the_visitors_language() -> None:
    client = TestClient(site_app.create_app(log_url=None))

    html = client.get("/privacy").text
    policy = client.get("/_consent/policy", headers={"accept-language": "de"})

    assert '<a href="/_consent/policy">The same declaration in your' in html
    assert policy.status_code == 200
    assert '<html lang="de"' in policy.text
    assert 'data-consent-declared-service="harbourton-video"' in policy.text


SERVICES = ("quayside-metrics", "lanternfish-ads", "harbourton-video", "vistaline")


@pytest.mark.parametrize("key", SERVICES)
def test_each_service_privacy_policy_is_a_page_of_the_tracker(key: str) -> None:
    [url] = [
        s.privacy_policy_url
        for c in declared_settings(TRACKER).categories
        for s in c.services
        if s.key == key
    ]

    response = TestClient(create_tracker_app()).get(url.removeprefix(TRACKER))

    assert response.status_code == 200
    assert "privacy policy</h1>" in response.text


def test_video_articles_name_a_declared_video_service() -> None:
    [media] = [c for c in declared_settings().categories if c.key == "media"]
    client = TestClient(site_app.create_app(log_url=None))

    embedded = {}
    for article in ARTICLES:
        if article.video is not None:
            frames = gated(client.get(f"/articles/{article.slug}").text, "iframe")
            [frame] = frames
            embedded[article.slug] = frame.get("data-consent-service")

    assert embedded == {
        "council-approves-eastside-tram": "harbourton-video",
        "quay-street-saturday-market": "vistaline",
    }
    assert set(embedded.values()) == {s.key for s in media.services}


class Gated(HTMLParser):
    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == self.tag and "data-consent-category" in attributes:
            self.found.append(attributes)


def gated(html: str, tag: str) -> list[dict[str, str | None]]:
    parser = Gated(tag)
    parser.feed(html)
    return parser.found


class PreferencesForm(HTMLParser):
    """The fields a browser with JavaScript off sends from the preferences page's form."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.hidden: list[tuple[str, str]] = []
        self.boxes: dict[str, tuple[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = attributes["action"]
        elif tag == "input" and attributes.get("type") == "hidden":
            self.hidden.append((attributes["name"], attributes["value"]))
        elif tag == "input" and attributes.get("type") == "checkbox" and "name" in attributes:
            self.boxes[attributes["id"]] = (attributes["name"], attributes["value"])


def save_on_preferences_page(client: TestClient, next_path: str, *box_ids: str) -> None:
    """Tick ``box_ids`` on the preferences page and press "Save my choices"."""
    form = PreferencesForm()
    form.feed(client.get(f"/_consent/preferences?next={next_path}").text)
    fields = [*form.hidden, *(form.boxes[box] for box in box_ids), ("action", "save")]

    response = client.post(
        form.action,
        content="&".join(f"{name}={value}" for name, value in fields),
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"] == next_path


def test_allowing_one_video_service_without_javascript_makes_only_its_embed_live() -> None:
    client = TestClient(site_app.create_app(log_url=None))
    save_on_preferences_page(client, TRAM, "consent-service-harbourton-video")

    [tram] = gated(client.get(TRAM).text, "iframe")
    [market] = gated(client.get(MARKET).text, "iframe")

    assert tram["src"] == "/thirdparty/video.html"
    assert "src" not in market
    assert market["data-src"] == "/thirdparty/vistaline.html"


def test_allowing_the_video_category_makes_every_embed_live() -> None:
    client = TestClient(site_app.create_app(log_url=None))
    save_on_preferences_page(client, TRAM, "consent-category-media")

    frames = [gated(client.get(path).text, "iframe") for path in (TRAM, MARKET)]

    assert [frame["src"] for [frame] in frames] == [
        "/thirdparty/video.html",
        "/thirdparty/vistaline.html",
    ]


def test_privacy_page_shows_the_services_allowed_one_by_one() -> None:
    client = TestClient(site_app.create_app(log_url=None))
    save_on_preferences_page(client, "/privacy", "consent-service-harbourton-video")

    html = client.get("/privacy").text

    assert "<strong>Embedded videos</strong>: Harbourton Video allowed, Vistaline refused" in html
    assert "<strong>Analytics</strong>: refused" in html


def test_the_measurement_service_alone_leaves_the_sites_own_visitor_cookie_off() -> None:
    client = TestClient(site_app.create_app(log_url=None))
    save_on_preferences_page(client, US_JAPAN, "consent-service-quayside-metrics")

    response = client.get(US_JAPAN)

    scripts = gated(response.text, "script")
    [script] = [s for s in scripts if s["data-consent-category"] == "analytics"]
    assert "type" not in script  # the measurement script runs
    set_cookies = response.headers.get_list("set-cookie")
    assert not any(header.startswith("site_analytics=") for header in set_cookies)
