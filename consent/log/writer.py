"""The interface between the request path and the consent log."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from .events import ConsentEvent, CookieCount


class ConsentLog(Protocol):
    """Where decisions go. ``record`` returns only once the event is stored."""

    async def start(self) -> None:
        """Prepare the store (schema, events left from an outage); idempotent."""

    async def record(self, event: ConsentEvent, notice: Mapping[str, Any]) -> None:
        """Store one event, and the notice it refers to if not stored yet."""

    def cookie_seen(self, name: str, category: str, blocked: bool) -> None:
        """Count a cookie name seen in a request or a response: synchronous and O(1).

        ``category`` is a category key, ``necessary`` or ``UNDECLARED``; ``blocked``
        whether the middleware removed or hid it.
        """

    async def close(self) -> None:
        """Write out anything pending and release connections."""


class MemoryConsentLog:
    """Keeps events in this process: for tests and for sites that forward them elsewhere."""

    def __init__(self) -> None:
        self.events: list[ConsentEvent] = []
        self.notices: dict[str, Mapping[str, Any]] = {}
        self.cookies: dict[str, CookieCount] = {}
        """Every cookie name seen, with its counts."""
        self.started = False
        self.closed = False

    async def start(self) -> None:
        """Nothing to prepare."""
        self.started = True

    async def record(self, event: ConsentEvent, notice: Mapping[str, Any]) -> None:
        """Append the event; keep the notice once per hash."""
        self.notices.setdefault(event.notice_hash, notice)
        self.events.append(event)

    def cookie_seen(self, name: str, category: str, blocked: bool) -> None:
        """Count the cookie name in :attr:`cookies`."""
        now = time.time()
        count = self.cookies.get(name)
        if count is None:
            self.cookies[name] = CookieCount(category, 1, int(blocked), now, now)
        else:
            count.category = category
            count.seen += 1
            count.blocked += blocked
            count.last_seen = now

    async def close(self) -> None:
        """Nothing to release."""
        self.closed = True
