"""The Django and Flask examples through the real middleware, in process over ASGI.

Both sites are checked for what a browser receives (banner, gated script, cookies,
the choice read in a view and in a template); then what each framework adds: the
Django context processor and settings, and what a WSGI view can and cannot read.
"""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIRequest  # type: ignore[import-untyped]
from django.template import engines  # type: ignore[import-untyped]
from django.test import RequestFactory  # type: ignore[import-untyped]
from flask import Flask, Response, request
from starlette.testclient import TestClient
from starlette.types import ASGIApp
from werkzeug.test import EnvironBuilder

from consent import ConsentState
from consent.django import consent_state as django_consent_state
from consent.django import context_processor
from consent.log import count_events
from consent.wsgi import consent_state as wsgi_consent_state
from examples.django_newsroom.newsroom.asgi import create_application as create_newsroom
from examples.flask_journal.app import consent_settings, create_flask_app, serve_over_asgi
from examples.flask_journal.app import create_app as create_journal
from tests.asgi import body_of, call, header_values, http_scope

EXAMPLES = Path(__file__).parent.parent.parent / "examples"
FACTORIES: dict[str, Callable[..., ASGIApp]] = {
    "django_newsroom": create_newsroom,
    "flask_journal": create_journal,
}
INERT_ANALYTICS = re.compile(r'<script type="text/plain" data-consent-category="analytics" src=')
LIVE_ANALYTICS = re.compile(r'<script\s+data-consent-category="analytics" src="/static/')
SECRET = "test-secret-key-that-is-long-enough-0123456789"
Site = tuple[TestClient, dict[str, str]]


def example_config(name: str) -> dict[str, str]:
    with (EXAMPLES / name / "example.toml").open("rb") as file:
        return tomllib.load(file)


@pytest.fixture(params=sorted(FACTORIES))
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    """A fresh client of one example, and that example's example.toml."""
    name: str = request.param
    with TestClient(FACTORIES[name](log_url=None), follow_redirects=False) as client:
        yield client, example_config(name)


def decide(client: TestClient, action: str, categories: tuple[str, ...] = ()) -> None:
    response = client.post("/_consent", data={"action": action, "categories": list(categories)})
    assert response.status_code == 303


def set_cookies(response: Any, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


def test_undecided_visitor_gets_banner_inert_script_and_no_analytics_cookie(site: Site) -> None:
    client, config = site
    response = client.get(config["article"])

    assert response.status_code == 200
    assert "data-consent-banner" in response.text
    assert INERT_ANALYTICS.search(response.text)
    assert 'data-analytics-note="off"' in response.text
    assert set_cookies(response, config["analytics_cookie"]) == []


def test_session_cookie_is_set_before_any_choice(site: Site) -> None:
    client, config = site
    response = client.get(config["session_path"])

    [header] = set_cookies(response, config["session_cookie"])
    assert "Max-Age=0" not in header


def test_accept_all_passes_the_cookie_runs_the_script_and_tells_the_template(site: Site) -> None:
    client, config = site
    decide(client, "accept_all")
    response = client.get(config["article"])

    [header] = set_cookies(response, config["analytics_cookie"])
    assert "Max-Age=0" not in header
    assert LIVE_ANALYTICS.search(response.text)
    assert 'data-analytics-note="on">You allowed analytics' in response.text
    assert "data-consent-banner" not in response.text


def test_a_granted_cookie_the_browser_holds_reaches_the_view(site: Site) -> None:
    client, config = site
    decide(client, "accept_all")
    client.cookies.set(config["analytics_cookie"], "held-visitor-id-0123456789")
    response = client.get(config["article"])

    # The view keeps a visitor ID it can read: the cookie got through to the framework.
    [header] = set_cookies(response, config["analytics_cookie"])
    assert header.startswith(f"{config['analytics_cookie']}=held-visitor-id-0123456789;")


def test_reject_all_blocks_and_expires_the_analytics_cookie(site: Site) -> None:
    client, config = site
    decide(client, "reject_all")
    client.cookies.set(config["analytics_cookie"], "held-visitor-id-0123456789")
    response = client.get(config["article"])

    headers = set_cookies(response, config["analytics_cookie"])
    assert headers
    assert all("Max-Age=0" in header for header in headers)
    assert INERT_ANALYTICS.search(response.text)
    assert 'data-analytics-note="off"' in response.text


@pytest.mark.parametrize(
    ("action", "categories", "expected"),
    [
        (None, (), (False, ["necessary"], False)),
        ("reject_all", (), (True, ["necessary"], False)),
        ("save", ("analytics",), (True, ["analytics", "necessary"], True)),
    ],
)
def test_the_view_reads_the_choice(
    site: Site, action: str | None, categories: tuple[str, ...], expected: tuple[object, ...]
) -> None:
    client, config = site
    if action is not None:
        decide(client, action, categories)

    found = client.get(config["state"]).json()
    assert (found["decided"], found["granted"], found["analytics"]) == expected


def test_every_template_reads_the_choice(site: Site) -> None:
    client, _config = site
    decide(client, "save", ("analytics", "preferences"))

    assert "Your cookie choice: analytics, necessary, preferences." in client.get("/").text


def test_content_length_is_corrected_for_the_banner(site: Site) -> None:
    client, config = site
    response = client.get(config["article"])

    assert "data-consent-banner" in response.text
    assert int(response.headers["content-length"]) == len(response.content)


def test_newsletter_form_is_protected_by_the_session(site: Site) -> None:
    client, _config = site
    page = client.get("/").text
    [token_name, token] = re.findall(r'name="(\w*csrf\w*)" value="([^"]+)"', page)[0]

    refused = client.post("/newsletter", data={"email": "reader@example.org"})
    accepted = client.post("/newsletter", data={"email": "reader@example.org", token_name: token})

    assert refused.status_code in (400, 403)
    assert accepted.status_code in (302, 303)
    assert "You are signed up as <strong>reader@example.org</strong>" in client.get("/").text


# --- Django ------------------------------------------------------------------------------


def asgi_request(state: ConsentState | None) -> Any:
    """A real Django ASGIRequest, its scope carrying ``state`` as the middleware leaves it."""
    scope = http_scope("/")
    if state is not None:
        scope["consent"] = state
    return ASGIRequest(scope, io.BytesIO())


GRANTED = frozenset({"analytics", "necessary"})
ANALYTICS_ONLY = ConsentState(decided=True, granted=GRANTED, consent_id="c1", gpc=True, revision=1)


def test_django_context_processor_exposes_the_state() -> None:
    consent = context_processor(asgi_request(ANALYTICS_ONLY))["consent"]

    assert consent.decided is True
    assert consent.granted == ("analytics", "necessary")
    assert consent.allows["analytics"] is True
    assert consent.allows["marketing"] is False
    assert (consent.gpc, consent.regime, consent.consent_id) == (True, "opt-in", "c1")
    assert consent.state is ANALYTICS_ONLY


def test_django_template_looks_allows_up_by_key() -> None:
    template = engines["django"].from_string(
        "{% if consent.allows.analytics %}on{% else %}off{% endif %}"
        "/{% if consent.allows.marketing %}on{% else %}off{% endif %}"
        "/{{ consent.granted|join:',' }}"
    )

    assert template.render({}, asgi_request(ANALYTICS_ONLY)) == "on/off/analytics,necessary"


def test_django_consent_state_needs_the_asgi_application() -> None:
    with pytest.raises(RuntimeError, match="ASGI application"):
        django_consent_state(RequestFactory().get("/"))  # a WSGIRequest: no scope


def test_django_consent_state_needs_the_middleware() -> None:
    with pytest.raises(RuntimeError, match="add ConsentMiddleware"):
        django_consent_state(asgi_request(None))


def test_django_refuses_unknown_hosts() -> None:
    client = TestClient(create_newsroom(log_url=None))

    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:8000"}).status_code == 200


def test_importing_the_django_example_leaves_logging_alone() -> None:
    # Django's settings and set-up are per process: run the import in a fresh one.
    probe = (
        "import logging\nclosed = []\n"
        "class Probe(logging.Handler):\n    def close(self): closed.append(self)\n"
        "logging.getLogger('probe').addHandler(Probe())\n"
        "import examples.django_newsroom.newsroom.asgi\nprint(len(closed))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=EXAMPLES.parent, capture_output=True, text=True
    )

    assert (done.returncode, done.stdout.strip()) == (0, "0"), done.stderr


def test_django_lifespan_opens_and_closes_the_consent_log(tmp_path: Path) -> None:
    log_url = f"sqlite:///{tmp_path / 'log.db'}"
    with TestClient(create_newsroom(log_url=log_url), follow_redirects=False) as client:
        decide(client, "accept_all")

    assert asyncio.run(count_events(log_url)) == 1


# --- Flask through a2wsgi ----------------------------------------------------------------


def test_wsgi_consent_state_needs_the_asgi_scope() -> None:
    environ = EnvironBuilder(path="/").get_environ()  # what a WSGI server would pass

    with pytest.raises(RuntimeError, match="a2wsgi"):
        wsgi_consent_state(environ)


def test_wsgi_consent_state_needs_the_middleware() -> None:
    environ = {**EnvironBuilder(path="/").get_environ(), "asgi.scope": http_scope("/")}

    with pytest.raises(RuntimeError, match="add ConsentMiddleware"):
        wsgi_consent_state(environ)


def test_a_streamed_flask_page_stays_streamed_with_the_banner() -> None:
    flask_app = Flask(__name__)

    @flask_app.get("/")
    def streamed() -> Response:
        parts = ["<!doctype html><html><head><title>t</title></head><body>", "<p>one</p>"]
        return Response(iter([*parts, "<p>two</p></body></html>"]), mimetype="text/html")

    app = serve_over_asgi(flask_app, consent_settings(secret_key=SECRET, log_url=None))
    messages = call(app, http_scope("/"))

    chunks = [m["body"] for m in messages[1:] if m.get("body")]
    assert len(chunks) >= 3
    assert header_values(messages, b"content-length") == []
    body = body_of(messages).decode()
    assert body.index("data-consent-banner") < body.index("<p>one</p>") < body.index("<p>two</p>")


def test_flask_cannot_tell_that_its_cookie_was_removed() -> None:
    flask_app = create_flask_app(secret_key=SECRET)
    seen_by_flask: list[str] = []

    @flask_app.after_request
    def record(response: Response) -> Response:
        if request.path.startswith("/articles/"):
            seen_by_flask.extend(response.headers.getlist("Set-Cookie"))
        return response

    app = serve_over_asgi(flask_app, consent_settings(secret_key=SECRET, log_url=None))
    response = TestClient(app).get(example_config("flask_journal")["article"])

    assert any(header.startswith("site_analytics=") for header in seen_by_flask)
    assert set_cookies(response, "site_analytics") == []
