"""The consent log: one append-only event per decision."""

from __future__ import annotations

from .events import Action, ConsentEvent, Mechanism, truncate_ip
from .store import SqlConsentLog, async_database_url
from .writer import ConsentLog, MemoryConsentLog


def open_consent_log(url: str) -> ConsentLog:
    """The log stored at a database URL."""
    return SqlConsentLog(url)


__all__ = [
    "Action",
    "ConsentEvent",
    "ConsentLog",
    "Mechanism",
    "MemoryConsentLog",
    "SqlConsentLog",
    "async_database_url",
    "open_consent_log",
    "truncate_ip",
]
