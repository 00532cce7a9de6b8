"""The apps the overhead benchmark measures, importable by uvicorn (``bench.apps:consent_app``).

One Starlette app (a JSON endpoint, a 50 KB HTML article, a streamed page, and
``/checkout``, naming the ``consent`` the server imported) under four stacks: bare,
``SessionMiddleware``, a ``BaseHTTPMiddleware`` pass-through, and
``ConsentMiddleware``. Everything is built once, at import.
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import AsyncIterator

from itsdangerous import TimestampSigner
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

import consent
from consent import ConsentMiddleware, ConsentSettings

ARTICLE_BYTES = 50 * 1024
"""Size of the article page, ``</body></html>`` included."""
STREAM_CHUNK_BYTES = 64 * 1024
SESSION_SECRET = "s" * 40
CONSENT_SECRET = "x" * 40

_PARAGRAPHS = (
    "The harbour authority confirmed on Tuesday that the old grain quay will close for "
    "eighteen months while engineers replace the timber piles, some of which were driven "
    "in 1911 and have not been inspected since the 1970s.",
    "Traders on the waterfront said they had been told of the closure only last week. "
    "&ldquo;We read about it in the minutes,&rdquo; said one stallholder, who asked not to "
    "be named. &ldquo;Nobody came down here to ask what it would mean for us.&rdquo;",
    'A spokesperson for the council said the works were <a href="/news/quay-survey">'
    "flagged in the 2022 survey</a> and that temporary moorings would be provided at the "
    "east basin, with a shuttle bus for passengers of the Saturday ferry.",
    "Engineers expect the cost to reach <strong>&pound;14.2 million</strong>, of which "
    "roughly a third comes from the regional transport fund. The remainder will be "
    "borrowed against harbour dues over twenty-five years.",
    "Residents of Quay Street raised concerns about noise from piling, which the "
    "contractor says will be limited to weekdays between 8am and 6pm, with no work during "
    "the summer festival fortnight.",
)


def article_page(size: int = ARTICLE_BYTES) -> bytes:
    """A realistic article page of exactly ``size`` bytes, ending in ``</body></html>``."""
    head = (
        "<!doctype html>\n"
        '<html lang="en" class="theme-light">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Grain quay to close for repairs | The Harbourton Courier</title>\n"
        '<meta name="description" content="Eighteen months of works on the old quay.">\n'
        '<link rel="stylesheet" href="/static/site.css">\n'
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n'
        "</head>\n<body>\n"
        '<a class="skip-link" href="#content">Skip to content</a>\n'
        '<header class="site-header"><div class="wrap site-header__inner">\n'
        '  <p class="site-name"><a href="/">The Harbourton Courier</a></p>\n'
        '  <nav class="site-nav" aria-label="Main"><ul>\n'
        '    <li><a href="/" aria-current="page">Front page</a></li>\n'
        '    <li><a href="/privacy">Privacy &amp; cookies</a></li>\n'
        '    <li><a href="/login">Sign in</a></li>\n'
        "  </ul></nav>\n</div></header>\n"
        '<main id="content" class="wrap">\n<article class="story">\n'
        '  <header class="story__header">\n    <p class="kicker">Local / Transport</p>\n'
        "    <h1>Grain quay to close for eighteen months of repairs</h1>\n"
        '    <p class="standfirst">Traders say they were not consulted.</p>\n'
        '    <p class="byline">By <a href="/authors/ada">Ada Marsh</a>, '
        '<time datetime="2024-11-05">5 November 2024</time></p>\n'
        '  </header>\n  <div class="story__body">\n'
    )
    tail = (
        "  </div>\n</article>\n"
        '<script type="text/plain" data-consent-category="analytics" '
        'src="https://tracker.example/analytics.js"></script>\n'
        '<aside class="ad" aria-label="Advertisement"><p class="ad__label">Advertisement</p>\n'
        '  <div data-ad-slot></div>\n  <script type="text/plain" '
        'data-consent-category="marketing" src="https://ads.example/ads.js"></script>\n'
        "</aside>\n</main>\n"
        '<footer class="site-footer"><div class="wrap site-footer__inner">\n'
        '  <ul class="footer-links"><li><a href="/privacy">Privacy and cookie policy</a></li>\n'
        '  <li><a href="/_consent/preferences">Change cookie settings</a></li></ul>\n'
        '  <p class="small">The Harbourton Courier is a fictional newspaper.</p>\n'
        "</div></footer>\n"
        '<script src="/static/site.js" defer></script>\n'
        "</body></html>"
    )
    parts = [head]
    length = len(head) + len(tail)
    index = 0
    while True:
        paragraph = f"    <p>{_PARAGRAPHS[index % len(_PARAGRAPHS)]}</p>\n"
        if length + len(paragraph) > size:
            break
        parts.append(paragraph)
        length += len(paragraph)
        index += 1
    # Pad with an HTML comment so the page is exactly ``size`` bytes.
    gap = size - length
    if gap >= len("<!---->\n"):
        parts.append("<!--" + " " * (gap - len("<!---->\n")) + "-->\n")
    else:
        parts.append(" " * gap)
    parts.append(tail)
    page = "".join(parts).encode("ascii")
    if len(page) != size:
        raise ValueError(f"article built at {len(page)} bytes, not {size}")
    return page


def streamed_page_chunks(total: int, chunk: int = STREAM_CHUNK_BYTES) -> list[bytes]:
    """Three distinct chunks (first, middle, last) of a page of ``total`` bytes.

    The page is ``first``, then ``middle`` repeated, then ``last``; only ``last``
    holds ``</body></html>``. ``total`` must be a multiple of ``chunk`` (at least 2x).
    """
    if total % chunk or total < 2 * chunk:
        raise ValueError("total must be a multiple of chunk, at least two chunks")
    article = article_page()
    head = article[: article.index(b'  <div class="story__body">\n') + 28]
    filler = b"".join(f"    <p>{p}</p>\n".encode("ascii") for p in _PARAGRAPHS * (chunk // 400 + 1))
    first = (head + filler)[:chunk]
    middle = filler[:chunk]
    end = b"\n  </div>\n</article>\n</main>\n</body></html>"
    last = filler[: chunk - len(end)] + end
    return [first, middle, last]


def streamed_page(total: int, chunk: int = STREAM_CHUNK_BYTES) -> AsyncIterator[bytes]:
    """The page of ``streamed_page_chunks``, chunk by chunk, never held whole."""
    first, middle, last = streamed_page_chunks(total, chunk)
    count = total // chunk

    async def chunks() -> AsyncIterator[bytes]:
        yield first
        for _ in range(count - 2):
            yield middle
        yield last

    return chunks()


ARTICLE = article_page()


async def json_endpoint(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def article_endpoint(request: Request) -> Response:
    return HTMLResponse(ARTICLE)


async def stream_endpoint(request: Request) -> Response:
    total = int(request.query_params.get("bytes", str(100 * 1024 * 1024)))
    return StreamingResponse(streamed_page(total), media_type="text/html; charset=utf-8")


async def checkout_endpoint(request: Request) -> Response:
    """Where the server's ``consent`` comes from, for a benchmark to check it measures the same."""
    return PlainTextResponse(consent.__file__)


ROUTES = [
    Route("/json", json_endpoint),
    Route("/article", article_endpoint),
    Route("/stream", stream_endpoint),
    # Last, so that the measured routes are matched exactly as before it was added.
    Route("/checkout", checkout_endpoint),
]


class PassThrough(BaseHTTPMiddleware):
    """The cheapest ``BaseHTTPMiddleware``: the usual way apps write middleware."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)


def consent_settings() -> ConsentSettings:
    """The settings of the consent stack: defaults, no log, ``session`` necessary."""
    return ConsentSettings(secret_key=CONSENT_SECRET, log_url=None, necessary_cookies=["session"])


def build_app(*middleware: Middleware) -> Starlette:
    """The benchmark's Starlette app under ``middleware``."""
    return Starlette(routes=ROUTES, middleware=list(middleware))


def session_cookie_value() -> str:
    """A valid ``SessionMiddleware`` cookie of a signed-in reader."""
    data = b64encode(json.dumps({"user": "reader", "theme": "light"}).encode("utf-8"))
    return TimestampSigner(SESSION_SECRET).sign(data).decode("ascii")


bare_app = build_app()
session_app = build_app(Middleware(SessionMiddleware, secret_key=SESSION_SECRET))
passthrough_app = build_app(Middleware(PassThrough))
consent_app = build_app(Middleware(ConsentMiddleware, settings=consent_settings()))

STACKS: dict[str, Starlette] = {
    "bare": bare_app,
    "session": session_app,
    "basehttp": passthrough_app,
    "consent": consent_app,
}
"""The four stacks, in report order."""
