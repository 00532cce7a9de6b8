"""``consent.fastapi`` (the state as a dependency) and ``consent.jinja`` (the state in
templates), each in a real application behind the real middleware."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest
from a2wsgi import WSGIMiddleware
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from flask import Flask, render_template_string
from quart import Quart
from quart import render_template_string as quart_render_template_string
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from consent import ConsentMiddleware, ConsentState
from consent.fastapi import ConsentDep, consent_state, require_consent
from consent.jinja import CONSENT_GLOBALS, consent_allows
from consent.jinja import consent_state as template_consent_state
from tests.conftest import make_settings

GATED_NOTE = '<p>{% if consent_allows(request, "analytics") %}on{% else %}off{% endif %}</p>'


def with_consent(app: Any) -> TestClient:
    """``app`` behind the middleware (default categories, no log), as a browser's client."""
    return TestClient(ConsentMiddleware(app, make_settings()), follow_redirects=False)


def accept(client: TestClient, *categories: str) -> None:
    action = "save" if categories else "accept_all"
    response = client.post("/_consent", data={"action": action, "categories": list(categories)})
    assert response.status_code == 303


def state(granted: frozenset[str] = frozenset({"necessary"})) -> ConsentState:
    return ConsentState(decided=True, granted=granted, consent_id="c1", gpc=False, revision=1)


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/state")
    async def read_state(consent: ConsentDep) -> dict[str, Any]:
        return {"decided": consent.decided, "analytics": consent.allows("analytics")}

    @app.post("/collect", status_code=204, dependencies=[Depends(require_consent("analytics"))])
    async def collect() -> None:
        return None

    @app.get("/ads", dependencies=[Depends(require_consent("marketing", status_code=451))])
    async def ads() -> dict[str, str]:
        return {"ad": "shown"}

    return app


@pytest.mark.parametrize(
    ("categories", "expected"),
    [(None, {"decided": False, "analytics": False}), ((), {"decided": True, "analytics": True})],
)
def test_consent_dep_gives_the_route_the_visitors_state(
    categories: tuple[str, ...] | None, expected: dict[str, bool]
) -> None:
    client = with_consent(fastapi_app())
    if categories is not None:
        accept(client, *categories)

    assert client.get("/state").json() == expected


@pytest.mark.parametrize(("categories", "status"), [(None, 403), (("analytics",), 204)])
def test_require_consent_refuses_until_the_category_is_granted(
    categories: tuple[str, ...] | None, status: int
) -> None:
    client = with_consent(fastapi_app())
    if categories is not None:
        accept(client, *categories)

    response = client.post("/collect")

    assert response.status_code == status
    if status == 403:
        assert response.json() == {"detail": "analytics consent is not granted"}


def test_require_consent_answers_the_status_it_is_given() -> None:
    client = with_consent(fastapi_app())
    accept(client, "analytics")

    assert client.get("/ads").status_code == 451


def test_consent_dep_without_the_middleware_is_a_set_up_error() -> None:
    client = TestClient(fastapi_app())

    with pytest.raises(RuntimeError, match="add ConsentMiddleware"):
        client.get("/state")


def test_consent_state_is_a_plain_function_usable_outside_fastapi() -> None:
    given = state()
    request = Request({"type": "http", "headers": [], "consent": given})

    assert consent_state(request) is given


def starlette_page() -> Starlette:
    templates = Jinja2Templates(env=jinja2.Environment(autoescape=True))
    templates.env.globals.update(CONSENT_GLOBALS)
    note = templates.env.from_string(GATED_NOTE)

    async def page(request: Request) -> Response:
        return HTMLResponse(note.render(request=request))

    return Starlette(routes=[Route("/", page)])


def flask_page() -> ASGIApp:
    app = Flask(__name__)
    app.jinja_env.globals.update(CONSENT_GLOBALS)

    @app.get("/")
    def page() -> str:
        return render_template_string(GATED_NOTE)

    asgi: ASGIApp = WSGIMiddleware(app)  # type: ignore[arg-type,assignment]
    return asgi


def quart_page() -> ASGIApp:
    app = Quart(__name__)
    app.jinja_env.globals.update(CONSENT_GLOBALS)

    @app.get("/")
    async def page() -> str:
        return await quart_render_template_string(GATED_NOTE)

    asgi: ASGIApp = app  # type: ignore[assignment]
    return asgi


@pytest.mark.parametrize("make_app", [starlette_page, flask_page, quart_page])
@pytest.mark.parametrize(("categories", "shown"), [(None, "off"), (("analytics",), "on")])
def test_templates_choose_by_consent_allows(
    make_app: Any, categories: tuple[str, ...] | None, shown: str
) -> None:
    client = with_consent(make_app())
    if categories is not None:
        accept(client, *categories)

    assert f"<p>{shown}</p>" in client.get("/").text


@pytest.mark.parametrize("key", ["analytics", "necessary"])
def test_consent_allows_reads_a_state_a_scope_and_a_wsgi_environ(key: str) -> None:
    given = state(frozenset({"necessary", "analytics"}))
    scope = {"type": "http", "consent": given}
    environ = {"REQUEST_METHOD": "GET", "asgi.scope": scope}

    assert [consent_allows(source, key) for source in (given, scope, environ)] == [True] * 3
    assert template_consent_state(environ) is given


def test_consent_allows_is_false_for_what_is_not_granted() -> None:
    assert consent_allows({"type": "http", "consent": state()}, "analytics") is False


def test_a_wsgi_environ_without_the_asgi_scope_names_a2wsgi() -> None:
    with pytest.raises(RuntimeError, match="a2wsgi"):
        consent_allows({"REQUEST_METHOD": "GET"}, "analytics")


def test_a_request_that_skipped_the_middleware_is_a_set_up_error() -> None:
    with pytest.raises(RuntimeError, match="add ConsentMiddleware"):
        consent_allows({"type": "http"}, "analytics")


def test_a_template_without_a_request_fails_loudly() -> None:
    environment = jinja2.Environment(autoescape=True)
    environment.globals.update(CONSENT_GLOBALS)

    with pytest.raises(jinja2.UndefinedError, match="'request' is undefined"):
        environment.from_string(GATED_NOTE).render()


@pytest.mark.parametrize("source", [None, "request", 42, {"unrelated": 1}])
def test_what_is_not_a_request_is_named_in_the_error(source: object) -> None:
    with pytest.raises(TypeError, match="pass the template's request"):
        consent_allows(source, "analytics")


def test_templates_also_get_the_whole_state() -> None:
    environment = jinja2.Environment(autoescape=True)
    environment.globals.update(CONSENT_GLOBALS)
    template = environment.from_string("{{ consent_state(scope).decided }}")

    assert template.render(scope={"type": "http", "consent": state()}) == "True"
