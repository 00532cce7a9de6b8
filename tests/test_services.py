"""Services: named third parties inside categories, each one a visitor can allow alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consent import Category, ConsentMiddleware, ConsentSettings, get_consent
from consent.log import MemoryConsentLog
from consent.service import Service
from tests.conftest import make_settings
from tests.test_banner import consent_mode_state

YOUTUBE = Service(
    key="youtube",
    name="YouTube",
    provider="Google Ireland Ltd.",
    cookies=["YSC", "VISITOR_INFO1_LIVE"],
    hosts=["www.youtube-nocookie.com"],
    retention="6 months",
    privacy_policy_url="https://policies.google.com/privacy",
)
VIMEO = Service(key="vimeo", name="Vimeo", provider="Vimeo.com, Inc.", cookies=["vuid"])
CATEGORIES = [
    Category(key="analytics", title="Analytics", cookies=["_ga"], services=["hotjar"]),
    Category(key="media", title="Videos", services=[YOUTUBE, VIMEO]),
]
PAGE = (
    "<html><head></head><body><h1>Article</h1>"
    '<iframe data-consent-category="media" data-consent-service="youtube"'
    ' data-src="https://www.youtube-nocookie.com/embed/x" title="a"></iframe>'
    '<iframe data-consent-category="media" data-consent-service="vimeo"'
    ' data-src="https://player.vimeo.com/video/1" title="b"></iframe>'
    "</body></html>"
)


def app() -> Starlette:
    async def page(request: Request) -> Response:
        response = HTMLResponse(PAGE)
        for name in ("YSC", "vuid", "_hjSessionUser_1"):
            response.set_cookie(name, "1")
        return response

    async def state(request: Request) -> Response:
        consent = get_consent(request)
        return JSONResponse(
            {
                "granted": sorted(consent.granted),
                "services": sorted(consent.services),
                "youtube": consent.allows("youtube"),
                "vimeo": consent.allows("vimeo"),
                "media": consent.allows("media"),
                "cookies": sorted(request.cookies),
            }
        )

    return Starlette(routes=[Route("/", page), Route("/state", state)])


def client(**overrides: object) -> TestClient:
    settings = make_settings(categories=CATEGORIES, **overrides)
    return TestClient(ConsentMiddleware(app(), settings), follow_redirects=False)


def decide(test_client: TestClient, **fields: object) -> httpx2.Response:
    response = test_client.post(
        "/_consent", data={"next": "/", **fields}, headers={"origin": "http://testserver"}
    )
    assert response.status_code == 303, response.text
    return response


def set_cookie_names(response: httpx2.Response) -> set[str]:
    return {value.split("=", 1)[0] for value in response.headers.get_list("set-cookie")}


def test_a_catalogue_name_becomes_its_service() -> None:
    settings = make_settings(categories=CATEGORIES)
    hotjar = settings.categories[0].services[0]
    assert hotjar.key == "hotjar"
    assert "_hjSessionUser_*" in hotjar.cookies
    # A category's cookies are its own, then its services'.
    assert settings.categories[0].all_cookies[0] == "_ga"
    assert "_hjSessionUser_*" in settings.categories[0].all_cookies


@pytest.mark.parametrize(
    ("categories", "message"),
    [
        (
            [
                Category(key="media", title="M"),
                Category(key="b", title="B", services=[VIMEO.model_copy(update={"key": "media"})]),
            ],
            "'media'",
        ),
        (
            [
                Category(key="a", title="A", services=[VIMEO]),
                Category(key="b", title="B", services=[VIMEO]),
            ],
            "'vimeo' is in both 'a' and 'b'",
        ),
        (
            [
                Category(
                    key="a",
                    title="A",
                    services=[VIMEO, YOUTUBE.model_copy(update={"cookies": ("vuid",)})],
                )
            ],
            "'vuid' is in both services 'vimeo' and 'youtube'",
        ),
        (
            [
                Category(key="a", title="A", cookies=["YSC"]),
                Category(key="b", title="B", services=[YOUTUBE]),
            ],
            "'YSC'",
        ),
    ],
)
def test_bad_services_fail_at_start_up_naming_them(
    categories: list[Category] | None, message: str
) -> None:
    with pytest.raises(ValidationError) as error:
        make_settings(categories=categories)
    assert message in str(error.value)


def test_an_unknown_catalogue_name_fails_at_start_up_with_the_closest() -> None:
    with pytest.raises(ValidationError) as error:
        make_settings(categories=[{"key": "a", "title": "A", "services": ["hotjr"]}])
    message = str(error.value)
    assert "categories.0.services" in message
    assert "no service 'hotjr' in the cookie catalogue; did you mean 'hotjar'?" in message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"key": "YouTube", "name": "Y"}, "key"),
        ({"key": "y", "name": "Y", "hosts": ["https://youtube.com/"]}, "is not a host name"),
        ({"key": "y", "name": "Y", "cookies": ["bad name"]}, "is not a cookie name"),
        ({"key": "y", "name": "Y", "privacy_policy_url": "javascript:alert(1)"}, "http(s) URL"),
        ({"key": "y", "name": "Y", "google_consent_types": ["ads"]}, "unknown Consent Mode"),
    ],
)
def test_a_bad_service_names_its_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as error:
        Service.model_validate(fields)
    assert message in str(error.value)


def test_allowing_one_service_allows_it_alone() -> None:
    test_client = client()
    decide(test_client, action="save", services=["youtube"])
    state = test_client.get("/state").json()
    assert state["granted"] == ["necessary"]
    assert state["services"] == ["youtube"]
    assert (state["youtube"], state["vimeo"], state["media"]) == (True, False, False)
    page = test_client.get("/")
    # Its cookies pass, the other service's do not.
    assert set_cookie_names(page) == {"YSC"}
    # Its embed is live from the first byte; the other's stays inert.
    assert (
        'data-consent-service="youtube" data-src="https://www.youtube-nocookie.com/embed/x" src="https://www.youtube-nocookie.com/embed/x"'
        in page.text
    )
    assert 'src="https://player.vimeo.com/video/1"' not in page.text.replace("data-src", "")


def test_a_granted_category_allows_all_its_services() -> None:
    test_client = client()
    decide(test_client, action="save", categories=["media"])
    state = test_client.get("/state").json()
    assert state["services"] == ["vimeo", "youtube"]
    assert set_cookie_names(test_client.get("/")) == {"YSC", "vuid"}


def test_refused_service_cookies_are_hidden_and_expired() -> None:
    test_client = client()
    decide(test_client, action="save", services=["youtube"])
    test_client.cookies.set("vuid", "old")
    test_client.cookies.set("YSC", "kept")
    state = test_client.get("/state").json()
    assert "vuid" not in state["cookies"]
    assert "YSC" in state["cookies"]


def test_undecided_visitors_get_no_service() -> None:
    test_client = client()
    assert test_client.get("/state").json()["services"] == []
    assert set_cookie_names(test_client.get("/")) == set()


def test_accept_all_allows_every_service_and_reject_all_none() -> None:
    test_client = client()
    decide(test_client, action="accept_all")
    assert test_client.get("/state").json()["services"] == ["hotjar", "vimeo", "youtube"]
    decide(test_client, action="reject_all")
    assert test_client.get("/state").json()["services"] == []


def test_the_cookie_stays_under_200_bytes_with_30_services() -> None:
    services = [Service(key=f"service-number-{n:02}", name=f"S{n}") for n in range(30)]
    categories = [Category(key="embeds", title="Embeds", services=services)]
    test_client = TestClient(
        ConsentMiddleware(app(), make_settings(categories=categories)), follow_redirects=False
    )
    response = decide(test_client, action="save", services=[s.key for s in services[:29]])
    value = test_client.cookies["consent"]
    assert len(value) < 200, value
    assert set_cookie_names(response) >= {"consent"}
    assert test_client.get("/state").json()["services"] == [s.key for s in services[:29]]


def test_a_changed_list_of_services_forgets_choices_made_one_by_one() -> None:
    test_client = client()
    decide(test_client, action="save", categories=["analytics"], services=["youtube"])
    value = test_client.cookies["consent"]
    changed = [CATEGORIES[0], Category(key="media", title="Videos", services=[YOUTUBE])]
    other = TestClient(ConsentMiddleware(app(), make_settings(categories=changed)))
    other.cookies.set("consent", value)
    state = other.get("/state").json()
    assert state["granted"] == ["analytics", "necessary"]
    assert state["services"] == ["hotjar"]


@pytest.mark.parametrize(
    "fields",
    [{"action": "save", "services": ["nope"]}, {"action": "save", "services": ["media"]}],
)
def test_an_unknown_service_is_refused(fields: dict[str, object]) -> None:
    response = client().post(
        "/_consent", data={"next": "/", **fields}, headers={"origin": "http://testserver"}
    )
    assert response.status_code == 400


def test_json_decisions_take_services() -> None:
    test_client = client()
    response = test_client.post(
        "/_consent",
        json={"action": "save", "categories": [], "services": ["vimeo"]},
        headers={"origin": "http://testserver"},
    )
    assert response.status_code == 200
    assert response.json()["services"] == ["vimeo"]
    bad = test_client.post("/_consent", json={"action": "save", "services": "vimeo"})
    assert bad.status_code == 400


def test_the_preferences_page_lists_each_service_with_its_box() -> None:
    test_client = client()
    decide(test_client, action="save", services=["youtube"])
    page = test_client.get("/_consent/preferences").text
    boxes = re.findall(r'<input type="checkbox" id="consent-service-([a-z-]+)"[^>]*>', page)
    assert boxes == ["hotjar", "youtube", "vimeo"]
    assert re.search(r'id="consent-service-youtube" name="services" value="youtube" checked', page)
    assert not re.search(r'id="consent-service-vimeo"[^>]* checked', page)
    assert "Google Ireland Ltd." in page
    assert 'data-consent-services="media"' in page


def test_the_readme_example_builds_its_settings() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Services, the cookie catalogue", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None
    namespace: dict[str, object] = {}
    exec(block.group(1), namespace)  # noqa: S102 - the README's own example
    settings = namespace["settings"]
    assert isinstance(settings, ConsentSettings)
    assert settings.service_categories == {
        "google-analytics": "analytics",
        "hotjar": "analytics",
        "youtube": "media",
    }


def test_a_service_allowed_alone_grants_its_consent_mode_types() -> None:
    maps = Service(
        key="maps", name="Maps", cookies=["NID"], google_consent_types=["functionality_storage"]
    )
    categories = [*CATEGORIES, Category(key="embeds", title="Embeds", services=[maps])]

    async def page(scope: Any, receive: Any, send: Any) -> None:
        await HTMLResponse("<html><head><title>t</title></head><body></body></html>")(
            scope, receive, send
        )

    test_client = TestClient(
        ConsentMiddleware(page, make_settings(categories=categories)), follow_redirects=False
    )
    decide(test_client, action="save", services=["maps"])
    state = consent_mode_state(test_client.get("/").text)
    assert state["update"]["functionality_storage"] == "granted"
    assert state["update"]["analytics_storage"] == "denied"
    decide(test_client, action="save", services=["youtube"])
    assert consent_mode_state(test_client.get("/").text)["update"]["functionality_storage"] == (
        "denied"
    )


def test_the_log_records_the_services_each_decision_allows() -> None:
    log = MemoryConsentLog()
    settings = make_settings(categories=CATEGORIES)
    test_client = TestClient(ConsentMiddleware(app(), settings, log=log), follow_redirects=False)
    decide(test_client, action="save", categories=["analytics"], services=["youtube"])
    decide(test_client, action="accept_all")
    decide(test_client, action="save", services=["vimeo"])
    assert [(e.action, e.services) for e in log.events] == [
        ("custom", ("hotjar", "youtube")),
        ("accept_all", ("hotjar", "vimeo", "youtube")),
        ("withdraw", ("vimeo",)),
    ]
