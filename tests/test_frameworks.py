"""The README's quick starts, run as written."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from consent import ConsentMiddleware, ConsentSettings, get_consent
from tests.conftest import SECRET


def test_fastapi_quick_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_SECRET_KEY", SECRET)
    monkeypatch.setenv("CONSENT_LOG_URL", "")  # empty: no log
    app = FastAPI()
    app.add_middleware(ConsentMiddleware, settings=ConsentSettings())

    @app.get("/api/hello")
    async def hello(request: Request) -> dict[str, bool]:
        return {"analytics": get_consent(request).allows("analytics")}

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return "<html><body><h1>Home</h1></body></html>"

    client = TestClient(app, follow_redirects=False)
    assert client.get("/api/hello").json() == {"analytics": False}
    assert "data-consent-banner" in client.get("/").text
    client.post("/_consent", data={"action": "accept_all"})
    assert client.get("/api/hello").json() == {"analytics": True}


def test_middleware_list_form() -> None:
    from starlette.applications import Starlette

    settings = ConsentSettings(secret_key=SECRET, log_url=None)
    app = Starlette(middleware=[Middleware(ConsentMiddleware, settings=settings)])
    assert TestClient(app).get("/.well-known/gpc.json").json()["gpc"] is True
