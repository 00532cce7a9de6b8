"""Drive an ASGI app directly and keep every message it sends."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message

from consent import ConsentSettings
from consent.cookie import ConsentCookie, Method, new_consent_id


def http_scope(
    path: str = "/",
    *,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    scheme: str = "http",
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A plain HTTP scope."""
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
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("203.0.113.9", 50000),
        "server": ("testserver", 80),
        "extensions": extensions or {},
    }


def call(app: ASGIApp, scope: dict[str, Any], body: bytes = b"") -> list[Message]:
    """Run one request through ``app``; return the messages it sent."""
    sent: list[Message] = []
    requests = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        if requests:
            return requests.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async def run() -> None:
        await app(scope, receive, send)

    asyncio.run(run())
    return sent


def body_of(messages: list[Message]) -> bytes:
    """The response body, joined."""
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


def headers_of(messages: list[Message]) -> list[tuple[bytes, bytes]]:
    """The response headers, as a list."""
    return [tuple(h) for h in messages[0]["headers"]]


def consent_cookie(
    settings: ConsentSettings, granted: set[str], method: Method = "s"
) -> tuple[bytes, bytes]:
    """A ``Cookie`` request header carrying a genuine consent cookie."""
    value = ConsentCookie(settings).sign(new_consent_id(), method, frozenset(granted))
    return (b"cookie", f"{settings.cookie_name}={value}".encode())
