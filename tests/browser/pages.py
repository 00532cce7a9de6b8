"""Pages for the banner's placement tests: a hundred links, odd ``<body>`` tags, a strict
CSP with a nonce, and a response split inside the banner.

Query parameters choose the case: ``position=top`` (else ``bottom``), ``nonce=1``
(the app gives a CSP nonce and sends a nonce-only policy), ``split=1`` (the body
reaches the browser in two pieces, cut inside the banner before its buttons, 1.2 s
apart).
"""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent import ConsentMiddleware
from tests.browser.serve import analytics_settings

LINKS = "\n".join(f'<li><a href="/story/{n}">Story {n}</a></li>' for n in range(100))
HEAD = (
    '<meta charset="utf-8"><title>Front page</title>'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
)
BODY = (
    '<a class="skip" href="#main">Skip to content</a>'
    f'<nav><ul>{LINKS}</ul></nav><main id="main"><h1>News</h1>'
    + "<p>The harbour authority confirmed on Tuesday that the old quay will close.</p>"
    * 30
    + '<script type="text/plain" data-consent-category="analytics" src="/gated.js"'
    "{nonce}></script></main>"
)
# The same front page with its <body> tag as sites write it.
VARIANTS = {
    "plain": f"<!doctype html><html lang='en'><head>{HEAD}</head><body>{BODY}</body></html>",
    "attributes": (
        f"<!doctype html><html lang='en'><head>{HEAD}</head>"
        f'<body class="front" data-theme="a>b" onload="">{BODY}</body></html>'
    ),
    "missing": f"<!doctype html><html lang='en'>{HEAD}{BODY}</html>",
    "late": (
        f"<!doctype html><html lang='en'><head>{HEAD}"
        + "<style>.x{color:red}</style><script>var s = '</div><body>';</script>" * 1500
        + f"</head><body>{BODY}</body></html>"
    ),
}
GATED_JS = "window.gatedRuns = (window.gatedRuns || 0) + 1;"


async def front_page(request: Request) -> Response:
    # An app under a nonce policy gives its own scripts the nonce too.
    nonce = request.scope.get("csp_nonce")
    attribute = f' nonce="{nonce}"' if nonce else ""
    return HTMLResponse(VARIANTS[request.path_params["variant"]].replace("{nonce}", attribute))


async def gated(request: Request) -> Response:
    return PlainTextResponse(GATED_JS, media_type="text/javascript")


class Cases:
    """Routes each request to the middleware of its ``position``, with its nonce and split."""

    def __init__(self, app: ASGIApp) -> None:
        self.by_position = {
            position: ConsentMiddleware(app, analytics_settings(position))
            for position in ("bottom", "top")
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.by_position["bottom"](scope, receive, send)
            return
        query = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode()).items()}
        app = self.by_position[query.get("position", "bottom")]
        if query.get("nonce") == "1":
            nonce = secrets.token_urlsafe(16)
            scope = {**scope, "csp_nonce": nonce}
            policy = f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'"
            send = with_header(send, b"content-security-policy", policy.encode())
        if query.get("split") == "1":
            send = split_inside_banner(send)
        await app(scope, receive, send)


def with_header(send: Send, name: bytes, value: bytes) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (name, value)]}
        await send(message)

    return sending


def split_inside_banner(send: Send) -> Send:
    """Sends the page in two pieces, cut in the middle of the banner's markup."""

    async def sending(message: Message) -> None:
        body = message.get("body", b"")
        start = body.find(b"data-consent-banner")
        # After the banner's title and text, before its buttons.
        cut = body.find(b'<form class="consent-banner__actions"', start)
        if message["type"] != "http.response.body" or start < 0 or cut < 0:
            await send(message)
            return
        await send({"type": "http.response.body", "body": body[:cut], "more_body": True})
        await asyncio.sleep(1.2)
        more = message.get("more_body", False)
        await send({"type": "http.response.body", "body": body[cut:], "more_body": more})

    return sending


def pages_app() -> ASGIApp:
    app = Starlette(routes=[Route("/front/{variant}", front_page), Route("/gated.js", gated)])
    return Cases(app)
