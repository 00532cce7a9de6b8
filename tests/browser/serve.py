"""Start one of the browser tests' servers: ``python -m tests.browser.serve KIND HOST PORT``.

``site`` is the article site, loading its third parties from ``TRACKER_ORIGIN``;
``tracker`` is those third parties alone; ``regimes`` a page under each regime (by
the test's geo headers); ``strict`` is a minimal page served
under ``Content-Security-Policy: default-src 'self'``; ``pages`` serves the banner
placement cases of ``tests/browser/pages.py``.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent import Category, ConsentMiddleware, ConsentSettings
from consent.settings import CacheMode
from tests.conftest import ANALYTICS

STRICT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Strict page</title></head>
<body><main><h1>Strict CSP</h1><p id="ran">not yet</p>
<script type="text/plain" data-consent-category="analytics" src="/gated.js"></script>
</main></body></html>"""
GATED_JS = 'document.getElementById("ran").textContent = "ran";'


class StrictCSP:
    """Serves every response under ``default-src 'self'``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append(
                    (b"content-security-policy", b"default-src 'self'")
                )
            await send(message)

        await self.app(scope, receive, with_policy)


def strict_app() -> ASGIApp:
    async def page(request: Request) -> Response:
        return HTMLResponse(STRICT_PAGE)

    async def gated(request: Request) -> Response:
        return PlainTextResponse(GATED_JS, media_type="text/javascript")

    app = Starlette(routes=[Route("/", page), Route("/gated.js", gated)])
    return StrictCSP(ConsentMiddleware(app, analytics_settings()))


def analytics_settings(banner_position: Literal["bottom", "top"] = "bottom") -> ConsentSettings:
    """One ``analytics`` category with its Consent Mode type, no log."""
    return ConsentSettings(
        secret_key="browser-test-secret-key-0123456789abcdef",
        log_url=None,
        banner_position=banner_position,
        categories=[ANALYTICS],
    )


REGIME_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Regimes</title></head>
<body><main><h1>The law where you are</h1><p>An article.</p></main>
<script type="text/plain" data-consent-category="analytics">window.analyticsRan = true;</script>
<script type="text/plain" data-consent-category="marketing">window.marketingRan = true;</script>
</body></html>"""


def regimes_app(cache_mode: CacheMode = "vary") -> ASGIApp:
    """A page under each regime, by the test's own geo headers (as a CDN sets them)."""

    async def page(request: Request) -> Response:
        return HTMLResponse(REGIME_PAGE)

    settings = analytics_settings().model_copy(
        update={
            "geo_header": "x-test-country",
            "geo_region_header": "x-test-region",
            "regimes": {"US-CA": "opt-out", "JP": "none", "*": "opt-in"},
            "cache_mode": cache_mode,
            "categories": (
                *analytics_settings().categories,
                Category(key="marketing", title="Advertising", cookies=["_fbp"], gpc_opt_out=True),
            ),
        }
    )
    return ConsentMiddleware(Starlette(routes=[Route("/", page)]), settings)


def main() -> None:
    kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from consent.cli import load_demo_site

    site = load_demo_site()
    app: ASGIApp
    if kind == "site":
        app = site.create_app(log_url=None, tracker_origin=os.environ["TRACKER_ORIGIN"])
    elif kind == "pages":
        from tests.browser.pages import pages_app

        app = pages_app()
    elif kind == "regimes":
        app = regimes_app()
    elif kind == "regimes-shared":
        app = regimes_app(cache_mode="shared")
    elif kind in ("services", "services-shared"):
        from tests.browser.services_site import services_app

        app = services_app(cache_mode="shared" if kind == "services-shared" else "vary")
    elif kind == "tracker":
        # The example is loaded as a package of this name by load_demo_site().
        app = importlib.import_module("consent_article_site.thirdparty").create_tracker_app()
    else:
        app = strict_app()
    uvicorn.run(app, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    main()
