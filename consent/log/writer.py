"""The interface between the request path and the consent log."""

from __future__ import annotations

from typing import Any, Protocol

from .events import ConsentEvent


class ConsentLog(Protocol):
    """Where decisions go. ``record`` returns only once the event is stored."""

    async def record(self, event: ConsentEvent, notice: dict[str, Any]) -> None:
        """Store one event, and the notice it refers to if not stored yet."""

    async def close(self) -> None:
        """Write out anything pending and release connections."""


class MemoryConsentLog:
    """Keeps events in this process: for tests and for sites that forward them elsewhere."""

    def __init__(self) -> None:
        self.events: list[ConsentEvent] = []
        self.notices: dict[str, dict[str, Any]] = {}

    async def record(self, event: ConsentEvent, notice: dict[str, Any]) -> None:
        """Append the event; keep the notice once per hash."""
        self.notices.setdefault(event.notice_hash, notice)
        self.events.append(event)

    async def close(self) -> None:
        """Nothing to release."""
