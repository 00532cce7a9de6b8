"""The interface between the request path and the consent log, and the in-memory log."""

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


class CookieTally:
    """Cookie names seen, with their counts, gathered in memory.

    ``max_names`` bounds the names kept (and ``max_name_length`` their length):
    request cookie names come from visitors, so the bound is what one of them can
    make the process keep. Sightings of names beyond it are counted in
    :attr:`dropped` only.
    """

    def __init__(self, *, max_names: int | None = None, max_name_length: int | None = None) -> None:
        self.counts: dict[str, CookieCount] = {}
        self.dropped = 0
        """Sightings of new names not counted, because of the bounds."""
        self._max_names = max_names
        self._max_name_length = max_name_length

    def add(self, name: str, category: str, blocked: bool, now: float) -> None:
        """Count one sighting at Unix time ``now``; the latest category wins."""
        count = self.counts.get(name)
        if count is not None:
            count.category = category
            count.seen += 1
            count.blocked += blocked
            count.last_seen = now
        elif (self._max_names is not None and len(self.counts) >= self._max_names) or (
            self._max_name_length is not None and len(name) > self._max_name_length
        ):
            self.dropped += 1
        else:
            self.counts[name] = CookieCount(category, 1, int(blocked), now, now)

    def take(self) -> dict[str, CookieCount]:
        """The counts gathered so far; the tally starts again from none."""
        counts, self.counts = self.counts, {}
        return counts

    def put_back(self, counts: Mapping[str, CookieCount]) -> None:
        """Merge counts taken earlier (and not written after all) with the newer ones."""
        for name, old in counts.items():
            newer = self.counts.get(name)
            if newer is None:
                self.counts[name] = old
            else:
                newer.seen += old.seen
                newer.blocked += old.blocked
                newer.first_seen = min(newer.first_seen, old.first_seen)


class MemoryConsentLog:
    """Keeps events in this process: for tests and for sites that forward them elsewhere."""

    def __init__(self) -> None:
        self.events: list[ConsentEvent] = []
        self.notices: dict[str, Mapping[str, Any]] = {}
        self._cookies = CookieTally()
        self.started = False
        self.closed = False

    @property
    def cookies(self) -> dict[str, CookieCount]:
        """Every cookie name seen, with its counts."""
        return self._cookies.counts

    async def start(self) -> None:
        """Nothing to prepare."""
        self.started = True

    async def record(self, event: ConsentEvent, notice: Mapping[str, Any]) -> None:
        """Append the event; keep the notice once per hash."""
        self.notices.setdefault(event.notice_hash, notice)
        self.events.append(event)

    def cookie_seen(self, name: str, category: str, blocked: bool) -> None:
        """Count the cookie name in :attr:`cookies`."""
        self._cookies.add(name, category, blocked, time.time())

    async def close(self) -> None:
        """Nothing to release."""
        self.closed = True
