"""A page with two video embeds of one category, each its own service (YouTube, Vimeo)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from consent import Category, ConsentMiddleware, ConsentSettings, Service
from consent.settings import CacheMode

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Videos</title></head>
<body><main><h1>Two videos</h1>
<iframe data-consent-category="media" data-consent-service="youtube"
  data-src="/embed/youtube" title="YouTube video" width="320" height="180"></iframe>
<iframe data-consent-category="media" data-consent-service="vimeo"
  data-src="/embed/vimeo" title="Vimeo video" width="320" height="180"></iframe>
</main></body></html>"""


def services_app(cache_mode: CacheMode = "vary") -> ASGIApp:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def embed(request: Request) -> Response:
        name = request.path_params["name"]
        return HTMLResponse(f"<!doctype html><title>{name}</title><p id=player>{name}</p>")

    settings = ConsentSettings(
        secret_key="browser-test-secret-key-0123456789abcdef",
        log_url=None,
        cache_mode=cache_mode,
        categories=[
            Category(
                key="media",
                title="Videos",
                services=[
                    Service(key="youtube", name="YouTube", cookies=["YSC"]),
                    Service(key="vimeo", name="Vimeo", cookies=["vuid"]),
                ],
            )
        ],
    )
    routes = [Route("/", page), Route("/embed/{name}", embed)]
    return ConsentMiddleware(Starlette(routes=routes), settings)
