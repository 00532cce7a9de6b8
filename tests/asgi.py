"""Drive an ASGI app directly, as a server would, for the tests and the benchmarks.

One ``receive``/``send`` pair (``run_request``) serves both: the tests keep every
message (``call``), the benchmarks time requests built from a scope template
(``serve``) and keep only counts (``CountingSink``). Importing this module
imports nothing of ``consent`` (``consent_cookie`` alone reaches into its
internals, when called), so that the benchmarks can measure an earlier checkout
of the package with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Scope

if TYPE_CHECKING:
    from consent import ConsentSettings
    from consent.cookie import Method

Deliver = Callable[[Message], object]
"""Where ``run_request`` hands each message the app sends (``list.append``, a sink)."""


def http_scope(
    path: str = "/",
    *,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    scheme: str = "http",
    host: str | None = "testserver",
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A plain HTTP scope.

    ``host`` becomes the first header; ``None`` leaves ``headers`` as they are,
    for a request that brings its own ``Host`` (a browser's, in a browser's order).
    """
    first = [(b"host", host.encode("latin-1"))] if host is not None else []
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [*first, *(headers or [])],
        "client": ("203.0.113.9", 50000),
        "server": ("testserver", 80),
        "extensions": extensions or {},
    }


def run_request(app: ASGIApp, scope: Scope, deliver: Deliver, body: bytes = b"") -> Awaitable[None]:
    """One request through ``app``, each message it sends handed to ``deliver``.

    Like uvicorn, ``receive`` gives the request body once, then waits until the
    response is complete and reports a disconnect. Returns the app's own
    awaitable, so that a timed request carries no coroutine of the driver's.
    """
    body_taken = False
    complete = False
    finished: asyncio.Event | None = None

    async def receive() -> Message:
        nonlocal body_taken, finished
        if not body_taken:
            body_taken = True
            return {"type": "http.request", "body": body, "more_body": False}
        if not complete:
            # Made only for apps that listen for a disconnect (streaming, BaseHTTPMiddleware).
            if finished is None:
                finished = asyncio.Event()
            await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal complete
        deliver(message)
        kind = message["type"]
        if (kind == "http.response.body" and not message.get("more_body", False)) or (
            kind == "http.response.pathsend"
        ):
            complete = True
            if finished is not None:
                finished.set()

    return app(scope, receive, send)


def call(app: ASGIApp, scope: dict[str, Any], body: bytes = b"") -> list[Message]:
    """Run one request through ``app``; return the messages it sent."""
    sent: list[Message] = []

    async def run() -> None:
        await run_request(app, scope, sent.append, body)

    asyncio.run(run())
    return sent


def fresh_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` as new objects, as a server makes them for each request.

    Reused objects would keep their hashes cached from one request to the next,
    which no request coming off a socket has.
    """
    return [(bytes(bytearray(name)), bytes(bytearray(value))) for name, value in headers]


def serve(
    app: ASGIApp,
    template: Scope,
    deliver: Deliver,
    *,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> Awaitable[None]:
    """One request like ``template`` through ``app``, as a server would make it.

    The scope is a copy (apps write into theirs) with header objects of its own:
    ``headers`` when given (made beforehand by ``fresh_headers``, so that a timer
    need not count them), else fresh copies of the template's.
    """
    scope = dict(template)
    scope["headers"] = fresh_headers(template["headers"]) if headers is None else headers
    return run_request(app, scope, deliver, body)


class CountingSink:
    """Takes a response's messages and keeps counts, never the body.

    The status, the body's bytes and chunks, how often ``marker`` occurs (also
    across two chunks) and the last ``tail_bytes`` bytes: what a benchmark checks
    of a response too large, or too frequent, to keep.
    """

    def __init__(self, marker: bytes = b"", tail_bytes: int = 0) -> None:
        self.status = 0
        self.size = 0
        self.chunks = 0
        self.marker = marker
        self.markers = 0
        self.tail_bytes = tail_bytes
        self.tail = b""
        self._carry = b""

    def __call__(self, message: Message) -> None:
        """Counts one message, as ``run_request``'s ``deliver``."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
            return
        body: bytes = message.get("body", b"")
        if not body:
            return
        self.size += len(body)
        self.chunks += 1
        if self.marker:
            # The marker may straddle two chunks: search the end of the previous one too.
            window = self._carry + body
            self.markers += window.count(self.marker)
            self._carry = window[1 - len(self.marker) :]
        if self.tail_bytes:
            if len(body) >= self.tail_bytes:
                self.tail = body[-self.tail_bytes :]
            else:
                self.tail = (self.tail + body)[-self.tail_bytes :]


def body_of(messages: list[Message]) -> bytes:
    """The response body, joined."""
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


def headers_of(messages: list[Message]) -> list[tuple[bytes, bytes]]:
    """The response headers, as a list."""
    return [tuple(h) for h in messages[0]["headers"]]


def header_values(messages: list[Message], name: bytes) -> list[bytes]:
    """Every value of the response header ``name`` (lower case), in order."""
    return [value for key, value in headers_of(messages) if key.lower() == name]


def consent_cookie(
    settings: ConsentSettings, granted: set[str], method: Method = "s"
) -> tuple[bytes, bytes]:
    """A ``Cookie`` request header carrying a genuine consent cookie."""
    # Imported here, not above: the rest of this module needs only consent's public
    # names, and the benchmarks that use it measure checkouts with other internals.
    from consent.cookie import ConsentCookie, new_consent_id

    value = ConsentCookie(settings).sign(new_consent_id(), method, frozenset(granted))
    return (b"cookie", f"{settings.cookie_name}={value}".encode())
