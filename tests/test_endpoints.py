"""The middleware's own endpoints: decisions, preferences, assets, gpc.json."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consent import Category, ConsentMiddleware
from consent.cookie import ConsentCookie
from consent.forms import MAX_DECISION_BYTES
from consent.log import MemoryConsentLog
from tests.asgi import call, http_scope
from tests.conftest import make_settings

SETTINGS = make_settings(necessary_cookies=["session"])


async def home(request: Request) -> Response:
    return HTMLResponse("<html><body>home</body></html>")


HOME_APP = Starlette(routes=[Route("/", home)])


def make_client(
    log: MemoryConsentLog | None = None, **overrides: Any
) -> tuple[TestClient, MemoryConsentLog]:
    log = log if log is not None else MemoryConsentLog()
    settings = make_settings(necessary_cookies=["session"], **overrides) if overrides else SETTINGS
    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(ConsentMiddleware, settings=settings, log=log)
    return TestClient(app, follow_redirects=False), log


def consent_value(response: Any) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("consent="):
            return str(header.split(";", 1)[0].split("=", 1)[1])
    raise AssertionError("no consent cookie set")


def granted_by(value: str) -> frozenset[str]:
    choice = ConsentCookie(SETTINGS).read(value)
    assert choice is not None
    return choice.granted


# --- decisions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "granted"),
    [
        ({"action": "accept_all"}, {"preferences", "analytics", "marketing"}),
        ({"action": "reject_all"}, set()),
        ({"action": "save", "categories": ["analytics"]}, {"analytics"}),
        ({"action": "save"}, set()),
        ({"action": "save", "categories": ["necessary", "marketing"]}, {"marketing"}),
    ],
)
def test_form_decision_sets_the_cookie_and_goes_back(
    form: dict[str, Any], granted: set[str]
) -> None:
    client, _ = make_client()
    response = client.post("/_consent", data={**form, "next": "/articles/1?page=2"})
    assert response.status_code == 303
    assert response.headers["location"] == "/articles/1?page=2"
    assert response.headers["cache-control"] == "no-store"
    assert granted_by(consent_value(response)) == granted


def test_consent_cookie_attributes() -> None:
    client, _ = make_client()
    accepted = client.post("/_consent", data={"action": "accept_all"})
    header = next(h for h in accepted.headers.get_list("set-cookie") if h.startswith("consent="))
    assert header.endswith("; Max-Age=31536000; Path=/; SameSite=Lax; HttpOnly")
    rejected = client.post("/_consent", data={"action": "reject_all"})
    header = next(h for h in rejected.headers.get_list("set-cookie") if h.startswith("consent="))
    assert "; Max-Age=15724800;" in header


def test_secure_over_https() -> None:
    settings = make_settings()
    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(ConsentMiddleware, settings=settings)
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    response = client.post("/_consent", data={"action": "reject_all"})
    assert response.headers["set-cookie"].endswith("; HttpOnly; Secure")


def test_decision_is_remembered_on_the_next_page() -> None:
    client, _ = make_client()
    client.post("/_consent", data={"action": "reject_all"})
    page = client.get("/")
    assert "data-consent-banner" not in page.text
    assert 'data-consent-action="preferences"' in page.text


def test_json_decision_answers_json_state() -> None:
    client, log = make_client()
    response = client.post("/_consent", json={"action": "save", "categories": ["analytics"]})
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "decided": True,
        "granted": ["analytics", "necessary"],
        "denied": ["marketing", "preferences"],
        "services": [],
        "consent_id": body["consent_id"],
        "revision": 1,
        "gpc": False,
    }
    assert log.events[0].mechanism == "api"


def test_form_asking_for_json_gets_json() -> None:
    client, _ = make_client()
    response = client.post(
        "/_consent", data={"action": "reject_all"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["granted"] == ["necessary"]


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/x",
        "javascript:alert(1)",
        "/\\evil.example",
        "http://testserver.evil.example/",
        "relative/path",
        "",
        "/a\r\nSet-Cookie: x=1",
    ],
)
def test_next_off_site_goes_home(next_url: str) -> None:
    client, _ = make_client()
    response = client.post("/_consent", data={"action": "reject_all", "next": next_url})
    assert response.headers["location"] == "/"


def test_next_on_this_host_is_kept() -> None:
    client, _ = make_client()
    response = client.post(
        "/_consent", data={"action": "reject_all", "next": "http://testserver/news?id=3"}
    )
    assert response.headers["location"] == "/news?id=3"


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"referer": "https://evil.example/page"},
        {"sec-fetch-site": "cross-site", "origin": "http://testserver"},
    ],
)
def test_cross_site_decision_is_refused(headers: dict[str, str]) -> None:
    client, log = make_client()
    response = client.post("/_consent", data={"action": "accept_all"}, headers=headers)
    assert response.status_code == 403
    assert response.headers.get_list("set-cookie") == []
    assert log.events == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://testserver"},
        {"referer": "http://testserver/article"},
        {"sec-fetch-site": "same-site", "origin": "https://www.testserver"},
        {"sec-fetch-site": "same-origin"},
    ],
)
def test_same_site_decision_is_accepted(headers: dict[str, str]) -> None:
    client, _ = make_client()
    response = client.post("/_consent", data={"action": "accept_all"}, headers=headers)
    assert response.status_code == 303


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": {"action": "maybe"}}, 400),
        ({"data": {}}, 400),
        ({"data": {"action": ["accept_all", "reject_all"]}}, 400),
        ({"data": {"action": "save", "categories": ["telemetry"]}}, 400),
        ({"data": {"action": "save", "mechanism": "popup"}}, 400),
        ({"json": {"action": "save", "categories": "analytics"}}, 400),
        ({"json": {"action": 1}}, 400),
        ({"json": ["accept_all"]}, 400),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
        (
            {
                "content": b"action=\xff\xfe",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            400,
        ),
        ({"files": {"f": b"x"}, "data": {"action": "accept_all"}}, 415),
        (
            {
                "content": b"a" * (MAX_DECISION_BYTES + 1),
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            413,
        ),
        (
            {
                "content": b"action=reject_all",
                "headers": {
                    "content-type": "application/x-www-form-urlencoded",
                    "content-length": "x",
                },
            },
            400,
        ),
    ],
)
def test_bad_decision_is_refused_without_a_cookie(kwargs: dict[str, Any], status: int) -> None:
    client, log = make_client()
    response = client.post("/_consent", **kwargs)
    assert response.status_code == status
    assert response.headers.get_list("set-cookie") == []
    assert log.events == []


def test_oversized_body_refused_by_declared_length_before_reading() -> None:
    read: list[bool] = []

    async def receive() -> MutableMapping[str, Any]:
        read.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    middleware = ConsentMiddleware(HOME_APP, SETTINGS, log=MemoryConsentLog())
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/_consent",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-length", b"99999999"),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ],
    }
    asyncio.run(middleware(scope, receive, send))
    assert sent[0]["status"] == 413
    assert read == []


def test_get_on_the_decision_endpoint_is_not_allowed() -> None:
    client, _ = make_client()
    response = client.get("/_consent")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_unknown_path_under_prefix_is_404() -> None:
    client, _ = make_client()
    assert client.get("/_consent/nothing").status_code == 404


# --- GPC ------------------------------------------------------------------------------------


def test_accept_all_under_gpc_does_not_grant_opt_out_categories() -> None:
    client, log = make_client()
    response = client.post("/_consent", data={"action": "accept_all"}, headers={"sec-gpc": "1"})
    assert granted_by(consent_value(response)) == {"preferences", "analytics"}
    assert log.events[0].gpc is True
    assert log.events[0].denied == ("marketing",)


def test_gpc_category_chosen_one_by_one_is_granted() -> None:
    client, _ = make_client()
    response = client.post(
        "/_consent", data={"action": "save", "categories": ["marketing"]}, headers={"sec-gpc": "1"}
    )
    assert granted_by(consent_value(response)) == {"marketing"}
    state = client.post(
        "/_consent",
        json={"action": "save", "categories": ["marketing"]},
        headers={"sec-gpc": "1"},
    ).json()
    assert "marketing" in state["granted"]


def test_gpc_json() -> None:
    client, _ = make_client()
    response = client.get("/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"gpc": True, "lastUpdate": "2026-11-25"}


# --- withdrawal -----------------------------------------------------------------------------


def test_withdrawal_expires_the_withdrawn_categorys_cookies() -> None:
    client, log = make_client()
    client.post("/_consent", data={"action": "accept_all"})
    client.cookies.set("_ga", "GA1.1.1")
    client.cookies.set("session", "abc")
    response = client.post("/_consent", data={"action": "save", "categories": ["marketing"]})
    cookies = response.headers.get_list("set-cookie")
    assert "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/" in cookies
    assert not any(c.startswith("session=") for c in cookies)
    assert [e.action for e in log.events] == ["accept_all", "withdraw"]
    assert log.events[0].consent_id == log.events[1].consent_id


def test_accepting_does_not_expire_the_newly_granted_cookies() -> None:
    client, _ = make_client()
    client.cookies.set("_ga", "GA1.1.1")
    response = client.post("/_consent", data={"action": "accept_all"})
    assert [c for c in response.headers.get_list("set-cookie") if c.startswith("_ga=")] == []


# --- the log --------------------------------------------------------------------------------


def test_each_decision_reaches_the_log() -> None:
    client, log = make_client()
    client.post("/_consent", data={"action": "reject_all", "mechanism": "banner"})
    client.post(
        "/_consent",
        data={"action": "save", "categories": ["analytics"], "mechanism": "preferences"},
    )
    first, second = log.events
    assert (first.action, first.mechanism, first.granted, first.denied) == (
        "reject_all",
        "banner",
        ("necessary",),
        ("analytics", "marketing", "preferences"),
    )
    assert (second.action, second.mechanism, second.granted) == (
        "custom",
        "preferences",
        ("analytics", "necessary"),
    )
    assert first.consent_id == second.consent_id
    assert first.ip is None
    assert first.locale == "en"
    assert re.fullmatch(r"[0-9a-f]{64}", first.notice_hash)
    assert log.notices[first.notice_hash]["categories"][0]["key"] == "preferences"
    assert first.occurred_at.tzinfo is not None


@pytest.mark.parametrize(
    ("log_ip", "client_ip", "logged"),
    [
        ("truncated", "203.0.113.77", "203.0.113.0/24"),
        ("truncated", "2001:db8:abcd:12::1", "2001:db8:abcd::/48"),
        ("truncated", "::ffff:198.51.100.7", "198.51.100.0/24"),
        ("truncated", "not-an-ip", None),
        ("off", "203.0.113.77", None),
    ],
)
def test_ip_is_kept_only_truncated_and_only_when_asked(
    log_ip: str, client_ip: str, logged: str | None
) -> None:
    log = MemoryConsentLog()
    middleware = ConsentMiddleware(HOME_APP, make_settings(log_ip=log_ip), log=log)
    scope = http_scope(
        "/_consent",
        method="POST",
        headers=[(b"content-type", b"application/x-www-form-urlencoded")],
    )
    scope["client"] = (client_ip, 4000)
    call(middleware, scope, b"action=reject_all")
    assert log.events[0].ip == logged


def test_sqlite_log_file_receives_the_event(tmp_path: Path) -> None:
    database = tmp_path / "log.db"
    settings = make_settings(log_url=f"sqlite:///{database}")
    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(ConsentMiddleware, settings=settings)
    client = TestClient(app, follow_redirects=False)
    assert client.post("/_consent", data={"action": "accept_all"}).status_code == 303
    assert client.post("/_consent", data={"action": "reject_all"}).status_code == 303
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT action, granted, notice_hash FROM consent_events ORDER BY seq"
        ).fetchall()
        notices = connection.execute("SELECT notice FROM consent_notices").fetchall()
    assert [row[0] for row in rows] == ["accept_all", "withdraw"]
    assert json.loads(rows[0][1]) == ["analytics", "marketing", "necessary", "preferences"]
    assert len(notices) == 1
    assert json.loads(notices[0][0])["policy_revision"] == 1


# --- preferences page -----------------------------------------------------------------------


def test_preferences_page_works_without_javascript() -> None:
    client, _ = make_client()
    page = client.get("/_consent/preferences?next=/article")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    boxes = re.findall(
        r'<input type="checkbox" [^>]*name="categories" value="(\w+)"([^>]*)>', page.text
    )
    assert [(key, "checked" in rest) for key, rest in boxes] == [
        ("preferences", False),
        ("analytics", False),
        ("marketing", False),
    ]
    assert 'id="consent-category-necessary" checked disabled' in page.text
    assert '<input type="hidden" name="next" value="/article">' in page.text
    # Submitting the page's own form, as a browser without JavaScript does:
    saved = client.post(
        "/_consent",
        data={
            "action": "save",
            "categories": ["analytics"],
            "next": "/article",
            "mechanism": "preferences",
        },
    )
    assert saved.headers["location"] == "/article"
    again = client.get("/_consent/preferences").text
    assert re.search(r'value="analytics" checked', again)
    assert not re.search(r'value="marketing" checked', again)


def test_preferences_page_mentions_gpc() -> None:
    client, _ = make_client()
    page = client.get("/_consent/preferences", headers={"sec-gpc": "1"}).text
    assert "Opt-out request honored" in page


def test_preferences_page_does_not_get_a_banner() -> None:
    client, _ = make_client()
    assert "data-consent-banner" not in client.get("/_consent/preferences").text


# --- assets ---------------------------------------------------------------------------------


def test_stylesheet_is_served_with_a_content_hash() -> None:
    client, _ = make_client()
    url = re.search(r'href="(/_consent/static/consent\.[0-9a-f]{12}\.css)"', client.get("/").text)
    assert url is not None
    response = client.get(url.group(1))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert ".consent-banner" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/_consent/static/consent.css",
        "/_consent/static/../settings.py",
        "/_consent/static/consent.000000000000.css",
    ],
)
def test_unknown_asset_is_404(path: str) -> None:
    client, _ = make_client()
    assert client.get(path).status_code == 404


# --- hostile input --------------------------------------------------------------------------

SAFE_STATUSES = {200, 303, 400, 403, 405, 413, 415}


@hypothesis_settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=2048),
    content_type=st.sampled_from(
        [b"application/x-www-form-urlencoded", b"application/json", b"text/plain", b"", b"\xff"]
    ),
    host=st.binary(max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b),
)
def test_any_decision_body_gets_a_safe_answer(
    body: bytes, content_type: bytes, host: bytes
) -> None:
    middleware = ConsentMiddleware(HOME_APP, SETTINGS, log=MemoryConsentLog())
    scope = http_scope("/_consent", method="POST", headers=[(b"content-type", content_type)])
    scope["headers"][0] = (b"host", host)
    messages = call(middleware, scope, body)
    assert messages[0]["status"] in SAFE_STATUSES


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 8000 + b"]" * 8000,
        b'{"action": "save", "categories": [' + b"[" * 5000 + b"]}",
        b"&".join([b"categories=analytics"] * 100) + b"&action=save",
    ],
    ids=["deep-json", "deep-categories", "many-fields"],
)
def test_pathological_decision_is_a_400(body: bytes) -> None:
    content_type = (
        b"application/json"
        if body.startswith((b"[", b"{"))
        else (b"application/x-www-form-urlencoded")
    )
    scope = http_scope("/_consent", method="POST", headers=[(b"content-type", content_type)])
    messages = call(ConsentMiddleware(HOME_APP, SETTINGS, log=MemoryConsentLog()), scope, body)
    assert messages[0]["status"] == 400


@hypothesis_settings(max_examples=100)
@given(query=st.binary(max_size=300))
def test_any_preferences_query_gets_the_page(query: bytes) -> None:
    scope = http_scope("/_consent/preferences", query=query)
    messages = call(ConsentMiddleware(HOME_APP, SETTINGS), scope)
    assert messages[0]["status"] == 200


# --- withdrawing in one click, and GPC after an earlier "accept all" ---------------------------


def test_settings_control_withdraws_in_one_click() -> None:
    client, log = make_client()
    client.post("/_consent", data={"action": "accept_all"})
    page = client.get("/").text
    form = re.search(r"<form[^>]*data-consent-withdraw>(.*?)</form>", page, re.S)
    assert form is not None
    assert 'value="reject_all" data-consent-action="withdraw"' in form.group(1)
    client.cookies.set("_ga", "GA1.1.1")
    response = client.post("/_consent", data={"action": "reject_all", "next": "/"})
    assert response.status_code == 303
    assert any(c.startswith("_ga=; Max-Age=0") for c in response.headers.get_list("set-cookie"))
    assert [event.action for event in log.events] == ["accept_all", "withdraw"]


def test_withdraw_control_hidden_when_nothing_is_granted() -> None:
    client, _ = make_client()
    client.post("/_consent", data={"action": "reject_all"})
    assert re.search(r"<form[^>]*data-consent-withdraw hidden>", client.get("/").text)


def test_gpc_json_only_where_a_category_is_covered_by_gpc() -> None:
    no_gpc = [Category(key="analytics", title="Analytics", cookies=["_ga"])]
    client, _ = make_client(categories=no_gpc)
    assert client.get("/.well-known/gpc.json").status_code == 404


def test_gpc_signal_after_accept_all_opts_out_once_and_for_good() -> None:
    client, log = make_client()
    client.post("/_consent", data={"action": "accept_all"})
    client.cookies.set("_fbp", "fb.1")
    first = client.get("/", headers={"sec-gpc": "1"})
    cookies = first.headers.get_list("set-cookie")
    assert any(c.startswith("_fbp=; Max-Age=0") for c in cookies)
    reissued = next(c for c in cookies if c.startswith("consent="))
    assert granted_by(reissued.split(";", 1)[0].split("=", 1)[1]) == {"preferences", "analytics"}
    assert [(e.action, e.mechanism, e.gpc) for e in log.events] == [
        ("accept_all", "banner", False),
        ("gpc", "gpc", True),
    ]
    assert log.events[1].denied == ("marketing",)
    client.get("/", headers={"sec-gpc": "1"})
    assert len(log.events) == 2  # recorded once
    state = client.post("/_consent", json={"action": "save", "categories": ["analytics"]}).json()
    assert "marketing" not in state["granted"]


def test_gpc_signal_leaves_a_one_by_one_choice_alone() -> None:
    client, log = make_client()
    client.post("/_consent", data={"action": "save", "categories": ["marketing"]})
    response = client.get("/", headers={"sec-gpc": "1"})
    assert not any(c.startswith("consent=") for c in response.headers.get_list("set-cookie"))
    assert [e.action for e in log.events] == ["custom"]


def test_a_decision_deletes_refused_cookies_at_the_default_path_of_its_page() -> None:
    # A cookie set without Path by /news/2024/article lives at /news/2024.
    client, _ = make_client()
    client.cookies.set("_ga", "GA1.1")
    response = client.post("/_consent", data={"action": "reject_all", "next": "/news/2024/article"})
    deletions = [h for h in response.headers.get_list("set-cookie") if h.startswith("_ga=;")]
    assert any("Path=/news/2024;" in h or h.endswith("Path=/news/2024") for h in deletions)
    assert any("Path=/;" in h or h.endswith("Path=/") for h in deletions)


def test_the_preferences_page_deletes_refused_cookies_at_the_default_path_of_next() -> None:
    client, _ = make_client()
    client.cookies.set("_ga", "GA1.1")
    response = client.get("/_consent/preferences", params={"next": "/news/2024/article"})
    deletions = [h for h in response.headers.get_list("set-cookie") if h.startswith("_ga=;")]
    assert any("Path=/news/2024;" in h or h.endswith("Path=/news/2024") for h in deletions)
