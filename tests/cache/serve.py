"""The origin behind Varnish: ``python -m tests.cache.serve KIND MODE HOST PORT``.

``site`` is the article site (its third parties served by itself, its consent
log at ``LOG_URL`` if set); ``strict`` is a small page under a strict CSP. Both
run the middleware in ``cache_mode`` MODE.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import cast

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from consent import ConsentMiddleware
from consent.cli import load_demo_site
from consent.settings import CacheMode, ConsentSettings
from tests.browser.serve import StrictCSP, analytics_settings

STRICT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cached page</title></head>
<body><main><h1>One page for everyone</h1><p id="ran">not yet</p>
<script type="text/plain" data-consent-category="analytics" src="/gated.js"></script>
</main></body></html>"""
GATED_JS = """window.gatedRuns = (window.gatedRuns || 0) + 1;
document.getElementById("ran").textContent = "ran " + window.gatedRuns;"""
"""The gated script counts its runs in the page: "ran 1" once, "ran 2" if it ran twice."""


def site_settings(mode: CacheMode, log_url: str | None = None) -> ConsentSettings:
    """The article site's settings, as its origin runs them."""
    load_demo_site()
    # The example is loaded as a package of this name by load_demo_site().
    module = importlib.import_module("consent_article_site.cookie_policy")
    settings = module.build_consent_settings(
        secret_key="cache-test-secret-key-0123456789abcdef", log_url=log_url, cache_mode=mode
    )
    return cast(ConsentSettings, settings)


def strict_settings(mode: CacheMode) -> ConsentSettings:
    return analytics_settings().model_copy(update={"cache_mode": mode})


def strict_app(mode: CacheMode) -> ASGIApp:
    async def page(request: Request) -> Response:
        return HTMLResponse(STRICT_PAGE, headers={"cache-control": "public, s-maxage=300"})

    async def gated(request: Request) -> Response:
        return PlainTextResponse(GATED_JS, media_type="text/javascript")

    app = Starlette(routes=[Route("/", page), Route("/gated.js", gated)])
    return StrictCSP(ConsentMiddleware(app, strict_settings(mode)))


def main() -> None:
    kind, mode, host, port = sys.argv[1], cast(CacheMode, sys.argv[2]), sys.argv[3], sys.argv[4]
    app: ASGIApp
    if kind == "site":
        site = load_demo_site()
        app = site.create_app(
            log_url=os.environ.get("LOG_URL") or None,
            secret_key="cache-test-secret-key-0123456789abcdef",
            cache_mode=mode,
        )
    else:
        app = strict_app(mode)
    uvicorn.run(app, host=host, port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
