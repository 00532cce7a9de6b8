"""The consent log: one append-only, hash-chained event per decision.

Writing (the middleware): :func:`open_consent_log` or :class:`MemoryConsentLog`,
both a :class:`ConsentLog`. Auditing (the ``consent`` command, or your own
scripts): :func:`read_events`, :func:`verify_log`, :func:`gather_stats`,
:func:`list_cookies`, :func:`read_notice`, :func:`purge`, each given the log's
URL. Every error raised on purpose is a :class:`ConsentLogError`.
"""

from __future__ import annotations

from pathlib import Path

from .chain import ChainProblem, ChainReport
from .database import async_database_url, safe_url
from .errors import BadLogURL, ConsentLogError, LogUnavailable, PurgeError, SchemaError
from .events import (
    ACTIONS,
    MECHANISMS,
    REGIMES,
    Action,
    ConsentEvent,
    CookieCount,
    Mechanism,
    Regime,
    is_region_code,
    is_service_key,
    truncate_ip,
)
from .kinds import iso_utc
from .purge import PurgePlan, PurgeResult, plan_purge, purge
from .queries import ChainState, EventFilter
from .read import (
    EVENT_COLUMNS,
    CookieRow,
    EventRow,
    count_events,
    csv_row,
    event_record,
    list_cookies,
    read_events,
    read_notice,
)
from .report import render_report
from .schema import SCHEMA_VERSION
from .sql_log import SqlConsentLog
from .stats import DayStats, Decisions, Stats, gather_stats
from .verify import CheckpointMismatch, check_checkpoints, verify_log
from .writer import ConsentLog, MemoryConsentLog


def open_consent_log(url: str, *, spool_path: str | Path | None = None) -> SqlConsentLog:
    """The durable log stored at a database URL (``sqlite:///...``, ``postgresql://...``).

    ``spool_path`` is where events wait while the database is unreachable; by
    default ``<database>.spool`` beside a SQLite file, else ``./consent-log.spool``.
    Raises :class:`BadLogURL` (a ValueError) for a URL that is not a SQLite or
    PostgreSQL one.
    """
    return SqlConsentLog(url, spool_path=spool_path)


__all__ = [
    "ACTIONS",
    "EVENT_COLUMNS",
    "MECHANISMS",
    "REGIMES",
    "SCHEMA_VERSION",
    "Action",
    "BadLogURL",
    "ChainProblem",
    "ChainReport",
    "ChainState",
    "CheckpointMismatch",
    "ConsentEvent",
    "ConsentLog",
    "ConsentLogError",
    "CookieCount",
    "CookieRow",
    "DayStats",
    "Decisions",
    "EventFilter",
    "EventRow",
    "LogUnavailable",
    "Mechanism",
    "MemoryConsentLog",
    "PurgeError",
    "PurgePlan",
    "PurgeResult",
    "Regime",
    "SchemaError",
    "SqlConsentLog",
    "Stats",
    "async_database_url",
    "check_checkpoints",
    "count_events",
    "csv_row",
    "event_record",
    "gather_stats",
    "is_region_code",
    "is_service_key",
    "iso_utc",
    "list_cookies",
    "open_consent_log",
    "plan_purge",
    "purge",
    "read_events",
    "read_notice",
    "render_report",
    "safe_url",
    "truncate_ip",
    "verify_log",
]
