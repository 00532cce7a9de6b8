"""Reading the consent log for an auditor: events, the cookie inventory, notices.

Events stream: rows come in batches from a cursor (server-side on PostgreSQL), so
that a log of millions of events is read in constant memory. Every function
opens the log for its own reading (one snapshot) and raises
:class:`~.errors.LogUnavailable` for a log that cannot be read.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from .database import open_log
from .events import FIELDS_BY_NAME
from .kinds import FieldKind
from .queries import (
    EVERY_EVENT,
    EventFilter,
    cookies_query,
    count_query,
    events_query,
    notice_query,
)

BATCH: Final = 5000
"""Rows fetched per round trip when streaming."""

EVENT_COLUMNS: Final = (
    "seq",
    "occurred_at",
    "consent_id",
    "action",
    "granted",
    "denied",
    "services",
    "revision",
    "locale",
    "mechanism",
    "gpc",
    "ip",
    "regime",
    "region",
    "notice_hash",
    "event_id",
    "hash",
)
"""The columns that :func:`read_events` reads and ``consent log`` exports, in this order."""

_KINDS: Final = tuple(FIELDS_BY_NAME[name].kind for name in EVENT_COLUMNS)
# Only the columns whose kind changes the value, so that an export of millions of
# events converts no other.
_IN_JSON: Final = tuple(
    (name, kind.exported)
    for name, kind in zip(EVENT_COLUMNS, _KINDS, strict=True)
    if type(kind).exported is not FieldKind.exported
)
_IN_CSV: Final = tuple(
    (index, kind.in_csv)
    for index, kind in enumerate(_KINDS)
    if type(kind).in_csv is not FieldKind.in_csv
)

EventRow = Sequence[Any]
"""One stored event, columns as in :data:`EVENT_COLUMNS`, values as the database holds them."""


async def count_events(url: str, where: EventFilter = EVERY_EVENT) -> int:
    """How many events of the log at ``url`` the filter selects."""
    async with open_log(url) as connection:
        total = await connection.scalar(count_query(where))
    return int(total or 0)


async def read_events(
    url: str, where: EventFilter = EVERY_EVENT, *, limit: int | None = None
) -> AsyncIterator[Sequence[EventRow]]:
    """Batches of the selected events (at most ``limit``), in storage (``seq``) order."""
    query = events_query(where, EVENT_COLUMNS)
    if limit is not None:
        query = query.limit(limit)
    async with open_log(url) as connection:
        result = await connection.stream(query.execution_options(yield_per=BATCH))
        async for batch in result.partitions():
            yield batch


def event_record(row: EventRow) -> dict[str, Any]:
    """An event as a JSON-ready dict (times in ISO 8601 UTC, categories and services as lists)."""
    record = dict(zip(EVENT_COLUMNS, row, strict=True))
    for name, exported in _IN_JSON:
        record[name] = exported(record[name])
    return record


def csv_row(row: EventRow) -> list[Any]:
    """An event as a CSV row (times in ISO 8601 UTC, categories and services as JSON text)."""
    values = list(row)
    for index, in_csv in _IN_CSV:
        values[index] = in_csv(values[index])
    return values


@dataclass(frozen=True, slots=True)
class CookieRow:
    """One cookie name of the inventory."""

    name: str
    category: str
    seen: int
    blocked: int
    first_seen: datetime
    last_seen: datetime


async def list_cookies(url: str) -> list[CookieRow]:
    """Every cookie name seen, sorted by category then name (a few thousand at most)."""
    async with open_log(url) as connection:
        rows = (await connection.execute(cookies_query())).all()
    return [
        CookieRow(r.name, r.category, int(r.seen), int(r.blocked), r.first_seen, r.last_seen)
        for r in rows
    ]


async def read_notice(url: str, notice_hash: str) -> dict[str, Any] | None:
    """The notice text stored under a hash, None if there is none."""
    async with open_log(url) as connection:
        text = await connection.scalar(notice_query(notice_hash))
    return None if text is None else dict(json.loads(text))
