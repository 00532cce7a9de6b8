"""The cases: what each visitor sends, to which path, and what each stack must answer.

Everything goes through consent's public surface: the decided visitor's cookie
is the one a ``POST /_consent`` with ``action=accept_all`` sets, so that the
same cases measure any checkout of the package.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Scope

from bench.apps import ARTICLE, consent_app, consent_settings, session_cookie_value
from tests.asgi import body_of, header_values, http_scope, serve

HOST = "localhost:8000"
BANNER_MARK = b"data-consent-banner"
SETTINGS_MARK = b'data-consent-action="preferences"'
BODY_END = b"</body></html>"
JSON_BODY = b'{"ok":true}'

BROWSER_HEADERS = [
    (b"host", HOST.encode("ascii")),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"),
]
# What Firefox sends after the common headers (and after Cookie) for each kind of request.
ACCEPT = {
    "json": b"application/json",
    "article": b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}
FETCH_METADATA = {
    # fetch() from the page's own script
    "json": [
        (b"sec-fetch-dest", b"empty"),
        (b"sec-fetch-mode", b"cors"),
        (b"sec-fetch-site", b"same-origin"),
        (b"priority", b"u=4"),
    ],
    # a link followed to the article
    "article": [
        (b"upgrade-insecure-requests", b"1"),
        (b"sec-fetch-dest", b"document"),
        (b"sec-fetch-mode", b"navigate"),
        (b"sec-fetch-site", b"same-origin"),
        (b"sec-fetch-user", b"?1"),
        (b"priority", b"u=0, i"),
    ],
}
PATHS = {"json": "/json", "article": "/article"}
CASES = (
    ("json", "undecided"),
    ("json", "decided"),
    ("article", "undecided"),
    ("article", "decided"),
)
"""(endpoint, visitor), in report order."""


async def fetch(app: ASGIApp, template: Scope, body: bytes = b"") -> list[Message]:
    """Every message of one response to a request like ``template``."""
    sent: list[Message] = []
    await serve(app, template, sent.append, body=body)
    return sent


async def decided_cookie_header() -> str:
    """``Cookie`` of a visitor who accepted everything once, and has a session."""
    headers = [
        *BROWSER_HEADERS,
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"origin", f"http://{HOST}".encode("ascii")),
    ]
    template = http_scope("/_consent", method="POST", headers=headers, host=None)
    sent = await fetch(consent_app, template, b"action=accept_all&next=/")
    cookie_name = consent_settings().cookie_name
    for value in header_values(sent, b"set-cookie"):
        pair = value.split(b";", 1)[0].decode("latin-1")
        if pair.startswith(cookie_name + "="):
            return f"{pair}; session={session_cookie_value()}"
    status = sent[0].get("status") if sent else None
    raise RuntimeError(f"POST /_consent set no consent cookie: status {status}, {sent[:1]}")


def request_headers(endpoint: str, cookie: str | None) -> list[tuple[bytes, bytes]]:
    """A browser's request headers, in a browser's order (12 or 13 of them)."""
    headers = [
        *BROWSER_HEADERS,
        (b"accept", ACCEPT[endpoint]),
        (b"accept-language", b"en-GB,en;q=0.5"),
        (b"accept-encoding", b"gzip, deflate, br, zstd"),
        (b"referer", f"http://{HOST}/".encode("ascii")),
        (b"connection", b"keep-alive"),
    ]
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return headers + FETCH_METADATA[endpoint]


def case_template(endpoint: str, visitor: str, decided_cookie: str) -> Scope:
    """The scope of one case's requests; each request gets its own copy from ``serve``."""
    cookie = decided_cookie if visitor == "decided" else None
    return http_scope(PATHS[endpoint], headers=request_headers(endpoint, cookie), host=None)


async def check_case(
    endpoint: str, visitor: str, template: Scope, stacks: Mapping[str, ASGIApp]
) -> None:
    """Every stack answers the case right, before anything is timed; else ``RuntimeError``.

    JSON passes unchanged; the article keeps its end and a right ``Content-Length``,
    and only the consent stack changes it: the banner for the undecided visitor,
    the settings control (and no banner) for the decided one, whose cookies all stay.
    """
    for name, app in stacks.items():
        sent = await fetch(app, template)
        status, body = sent[0]["status"], body_of(sent)
        if status != 200:
            raise RuntimeError(f"{name} {endpoint}/{visitor}: status {status}")
        if endpoint == "json":
            if body != JSON_BODY:
                raise RuntimeError(f"{name} {endpoint}/{visitor}: body {body[:80]!r}")
            continue
        lengths = header_values(sent, b"content-length")
        if lengths != [str(len(body)).encode()]:
            raise RuntimeError(f"{name} {endpoint}: Content-Length {lengths} is wrong")
        if not body.endswith(BODY_END):
            raise RuntimeError(f"{name} {endpoint}: the page lost its end")
        if name != "consent":
            if body != ARTICLE:
                raise RuntimeError(f"{name} {endpoint}: the page was changed")
            continue
        banners = body.count(BANNER_MARK)
        controls = body.count(SETTINGS_MARK)
        expected_banners = 1 if visitor == "undecided" else 0
        if banners != expected_banners or (visitor == "decided" and controls < 1):
            raise RuntimeError(
                f"consent {endpoint}/{visitor}: {banners} banner(s), {controls} control(s)"
            )
    if visitor == "decided":
        # A decided visitor must not be shown the banner nor lose the session cookie.
        sent = await fetch(stacks["consent"], template)
        if header_values(sent, b"set-cookie"):
            raise RuntimeError("consent expired a cookie of the decided visitor")
