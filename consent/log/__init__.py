"""The consent log: one append-only, hash-chained event per decision."""

from __future__ import annotations

from pathlib import Path

from .chain import ChainProblem, ChainReport
from .events import Action, ConsentEvent, CookieCount, Mechanism, truncate_ip
from .schema import SCHEMA_VERSION, SchemaError
from .sql import SqlConsentLog
from .store import async_database_url
from .writer import ConsentLog, MemoryConsentLog


def open_consent_log(url: str, *, spool_path: str | Path | None = None) -> SqlConsentLog:
    """The durable log stored at a database URL (``sqlite:///...``, ``postgresql://...``).

    ``spool_path`` is where events wait while the database is unreachable; by
    default ``<database>.spool`` beside a SQLite file, else ``./consent-log.spool``.
    Raises ValueError for a URL that is not a SQLite or PostgreSQL one.
    """
    return SqlConsentLog(url, spool_path=spool_path)


__all__ = [
    "SCHEMA_VERSION",
    "Action",
    "ChainProblem",
    "ChainReport",
    "ConsentEvent",
    "ConsentLog",
    "CookieCount",
    "Mechanism",
    "MemoryConsentLog",
    "SchemaError",
    "SqlConsentLog",
    "async_database_url",
    "open_consent_log",
    "truncate_ip",
]
