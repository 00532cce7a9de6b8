"""The cookie declaration: ``/_consent/policy`` and ``/_consent/policy.json``."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.testclient import TestClient

from consent import Category, ConsentMiddleware
from consent.category import bundled_locales
from consent.declaration import cookie_declaration
from consent.service import Service
from tests.conftest import make_settings

YOUTUBE = Service(
    key="youtube",
    name="YouTube",
    provider="Google Ireland Ltd.",
    description="Plays the videos in articles.",
    cookies=["YSC", "VISITOR_INFO1_LIVE"],
    hosts=["www.youtube-nocookie.com"],
    retention="6 months",
    privacy_policy_url="https://policies.google.com/privacy",
    descriptions={"de": "Spielt die Videos in Artikeln ab."},
)
CATEGORIES = [
    Category(key="analytics", title="Analytics", cookies=["_ga", "_ga_*"], services=["hotjar"]),
    Category(
        key="media",
        title="Videos",
        titles={"de": "Videos"},
        description="Embedded videos.",
        services=[YOUTUBE],
    ),
    Category(key="preferences", title="Preferences"),
]


def client() -> TestClient:
    settings = make_settings(categories=CATEGORIES, necessary_cookies=["session"])
    return TestClient(ConsentMiddleware(Starlette(), settings))


def declaration(**params: str) -> dict[str, Any]:
    response = client().get("/_consent/policy.json", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data: dict[str, Any] = response.json()
    return data


def rows(page: str, section: str) -> list[list[str]]:
    """The cookie rows of one category's or service's section, cell texts."""
    found = re.search(rf'data-consent-declared-{section}".*?</table>', page, re.S)
    assert found is not None, section
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell))
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
        ]
        for row in re.findall(r"<tr data-consent-cookie[^>]*>(.*?)</tr>", found.group(0))
    ]


def test_the_json_lists_every_category_with_services_and_cookies() -> None:
    data = declaration()
    assert data["locale"] == "en"
    assert [c["key"] for c in data["categories"]] == [
        "necessary",
        "analytics",
        "media",
        "preferences",
    ]
    necessary, analytics, media, preferences = data["categories"]
    assert necessary["always_on"] is True
    assert [c["name"] for c in necessary["cookies"]] == ["consent", "session"]
    # The site's own declaration, completed by the catalogue where it knows the name.
    ga = analytics["cookies"][0]
    assert ga["name"] == "_ga"
    assert ga["pattern"] is False
    assert ga["provider"] == "Google"
    assert ga["retention"] == "2 years"
    assert analytics["cookies"][1]["pattern"] is True
    hotjar = analytics["services"][0]
    assert hotjar["key"] == "hotjar"
    assert any(c["name"] == "_hjSessionUser_*" and c["pattern"] for c in hotjar["cookies"])
    youtube = media["services"][0]
    assert youtube["provider"] == "Google Ireland Ltd."
    assert youtube["privacy_policy_url"] == "https://policies.google.com/privacy"
    ysc = next(c for c in youtube["cookies"] if c["name"] == "YSC")
    # Set by the embed's host, not the site.
    assert ysc["party"] == "third"
    assert preferences["cookies"] == []
    assert preferences["services"] == []


def test_session_retention_is_worded_for_the_visitor() -> None:
    data = declaration()
    hotjar = data["categories"][1]["services"][0]
    retentions = {c["retention"] for c in hotjar["cookies"]}
    assert "Until you close the browser" in retentions
    assert not {"session", "Session"} & retentions


def test_the_page_shows_a_table_per_section_in_the_visitors_language() -> None:
    response = client().get("/_consent/policy", headers={"accept-language": "de-DE,de;q=0.9"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["vary"] == "Accept-Language"
    assert response.headers["cache-control"].startswith("public")
    page = response.text
    texts = bundled_locales()["de"]["texts"]
    assert '<html lang="de" dir="ltr">' in page
    assert f"<h1>{texts['policy_title']}</h1>" in html.unescape(page)
    assert texts["column_provider"] in html.unescape(page)
    youtube = rows(page, 'service="youtube')
    assert youtube[0][:2] == ["YSC", "Google Ireland Ltd."]
    assert youtube[0][4] == texts["third_party"]
    # The site's own words in German, where it gave them.
    assert "Spielt die Videos in Artikeln ab." in page
    necessary = rows(page, 'category="necessary')
    assert necessary[0][0] == "consent"
    assert necessary[0][3] == texts["retention_consent"]


@pytest.mark.parametrize("locale", sorted(bundled_locales()))
def test_every_bundled_language_has_the_page(locale: str) -> None:
    page = client().get("/_consent/policy", params={"locale": locale}).text
    texts = bundled_locales()[locale]["texts"]
    assert f'<html lang="{locale}" dir="{bundled_locales()[locale]["dir"]}">' in page
    for key in ("policy_title", "column_cookie", "column_purpose", "column_retention"):
        assert texts[key] in html.unescape(page), key
    assert declaration(locale=locale)["locale"] == locale


def test_an_unknown_locale_parameter_falls_back_to_the_visitors_language() -> None:
    response = client().get(
        "/_consent/policy.json?locale=xx-<script>", headers={"accept-language": "fr"}
    )
    assert response.json()["locale"] == "fr"


def test_the_banner_and_the_preferences_link_to_it() -> None:
    settings = make_settings(categories=CATEGORIES)
    page = HTMLResponse("<html><body><p>x</p></body></html>")
    banner = TestClient(ConsentMiddleware(page, settings)).get("/").text
    assert '<a href="/_consent/policy">' in banner
    preferences = client().get("/_consent/preferences").text
    assert '<a href="/_consent/policy">' in preferences


def test_only_get_and_head() -> None:
    assert client().post("/_consent/policy").status_code == 405
    assert client().head("/_consent/policy.json").status_code == 200


def test_a_site_can_build_the_declaration_for_its_own_page() -> None:
    settings = make_settings(categories=CATEGORIES, necessary_cookies=["session"])
    german = cookie_declaration(settings, "de")
    assert german.locale == "de"
    assert [c.key for c in german.categories] == ["necessary", "analytics", "media", "preferences"]
    assert german.categories[2].services[0].description == "Spielt die Videos in Artikeln ab."
    with pytest.raises(ValueError, match="'xx' is not one of"):
        cookie_declaration(settings, "xx")
