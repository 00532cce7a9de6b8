"""The SQL that reads the consent log: the chain's ends, filtered events, the verifier's rows.

One-shot reads are plain functions of a (sync) ``Connection``, run in the
caller's transaction (through ``AsyncConnection.run_sync`` by the readers);
what is streamed is built here as a query, and run by ``read.py``,
``stats.py`` and ``verify.py``. The writes are in ``statements.py``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Select, func, or_, select

from .chain import VERIFIED_COLUMNS
from .events import FIELDS_BY_NAME
from .kinds import (
    BOOLEAN,
    INTEGER,
    KEYS,
    OPTIONAL_TEXT,
    SEQUENCE,
    TEXT,
    UTC_TIME,
    FieldKind,
)
from .schema import CHAIN_ROW_ID, chain, cookies, events, notices

# --- the chain's ends --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainState:
    """The chain's two ends, as the writers recorded them."""

    anchor_seq: int
    """The last purged event (0: nothing purged)."""
    anchor_hash: str
    head_seq: int
    """The last event written."""
    head_hash: str
    anchor_before: datetime | None
    purged_at: datetime | None


def read_chain_state(connection: Connection, *, lock: bool = False) -> ChainState:
    """The anchor and the head; ``lock`` holds the row until the transaction ends."""
    query = select(chain).where(chain.c.id == CHAIN_ROW_ID)
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).one()
    return ChainState(
        anchor_seq=int(row.anchor_seq),
        anchor_hash=str(row.anchor_hash),
        head_seq=int(row.head_seq),
        head_hash=str(row.head_hash),
        anchor_before=row.anchor_before,
        purged_at=row.purged_at,
    )


def first_after(connection: Connection, seq: int) -> tuple[int, str] | None:
    """The seq and event id of the first event stored after ``seq``, if any."""
    query = select(events.c.seq, events.c.event_id).where(events.c.seq > seq)
    row = connection.execute(query.order_by(events.c.seq).limit(1)).first()
    return None if row is None else (int(row.seq), str(row.event_id))


def stored_hash(connection: Connection, seq: int) -> str | None:
    """The stored hash of the event at ``seq``, None if there is none."""
    value = connection.scalar(select(events.c.hash).where(events.c.seq == seq))
    return None if value is None else str(value)


def last_seq_before(connection: Connection, before: datetime, state: ChainState) -> int:
    """The end of the prefix of the chain recorded before ``before`` (see ``purge.py``)."""
    first_kept = connection.scalar(
        select(func.min(events.c.seq)).where(events.c.occurred_at >= before)
    )
    last = state.head_seq if first_kept is None else int(first_kept) - 1
    return max(last, state.anchor_seq)


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to read. ``until`` is exclusive.

    ``region`` is a subdivision (``US-CA``: that one only) or a country (``US``:
    the country and each of its subdivisions). ``service`` selects the events that
    allow that service (a key, :func:`~.events.is_service_key`).
    """

    consent_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None
    regime: str | None = None
    region: str | None = None
    service: str | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        """The query, narrowed to these events."""
        if self.consent_id is not None:
            query = query.where(events.c.consent_id == self.consent_id)
        if self.since is not None:
            query = query.where(events.c.occurred_at >= self.since)
        if self.until is not None:
            query = query.where(events.c.occurred_at < self.until)
        if self.action is not None:
            query = query.where(events.c.action == self.action)
        if self.regime is not None:
            query = query.where(events.c.regime == self.regime)
        if self.region is not None:
            in_region = events.c.region == self.region
            if "-" not in self.region:
                subdivision = events.c.region.startswith(f"{self.region}-", autoescape=True)
                in_region = or_(in_region, subdivision)
            query = query.where(in_region)
        if self.service is not None:
            # The stored list is compact JSON, and a key holds no quote: the key in
            # quotes is found in the text of exactly the lists that hold it.
            key = json.dumps(self.service)
            query = query.where(events.c.services.contains(key, autoescape=True))
        return query


EVERY_EVENT: Final = EventFilter()
"""The filter that selects every event."""


def count_query(where: EventFilter) -> Select[Any]:
    """How many events the filter selects."""
    return where.apply(select(func.count()).select_from(events))


def events_query(where: EventFilter, columns: Sequence[str]) -> Select[Any]:
    """The filtered events' ``columns``, in ``seq`` order."""
    return where.apply(select(*(events.c[name] for name in columns))).order_by(events.c.seq)


def stats_query(where: EventFilter) -> Select[Any]:
    """What the statistics need of the filtered events, in no particular order."""
    return where.apply(
        select(
            events.c.occurred_at,
            events.c.regime,
            events.c.action,
            events.c.granted,
            events.c.denied,
        )
    )


def cookies_query() -> Select[Any]:
    """The cookie inventory, by category then name."""
    return select(cookies).order_by(cookies.c.category, cookies.c.name)


def notice_query(notice_hash: str) -> Select[Any]:
    """The notice text stored under a hash."""
    return select(notices.c.notice).where(notices.c.notice_hash == notice_hash)


# How each kind of field is read as its canonical text (``FieldKind.canonical``), so
# that the verifier hashes what it reads as it is: (SQLite, PostgreSQL).
_CANONICAL_SQL: Final[dict[FieldKind, tuple[str, str]]] = {
    SEQUENCE: ("{}", "{}"),  # kept a number: the verifier compares it
    TEXT: ("{}", "{}"),
    KEYS: ("{}", "{}"),  # the stored JSON text
    OPTIONAL_TEXT: ("COALESCE({}, '')", "COALESCE({}, '')"),
    INTEGER: ("CAST({} AS TEXT)", "CAST({} AS TEXT)"),
    BOOLEAN: ("CAST({} AS TEXT)", "CASE WHEN {} THEN '1' ELSE '0' END"),
    # SQLite stores the time as exactly that text; PostgreSQL formats it itself,
    # which leaves fewer objects for Python to make.
    UTC_TIME: ("{}", "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"),
}


def verified_rows_sql(dialect: str) -> str:
    """The events ``(after, up_to]`` in ``seq`` order, columns as ``chain.VERIFIED_COLUMNS``.

    Plain SQL with the driver's own two parameters, for the verifier's cursor.
    """
    at = 1 if dialect == "postgresql" else 0
    columns = []
    for name in VERIFIED_COLUMNS:
        kind = FIELDS_BY_NAME[name].kind
        if kind not in _CANONICAL_SQL:
            raise TypeError(f"no canonical SQL for the kind of field {name!r}")
        columns.append(_CANONICAL_SQL[kind][at].format(name))
    after, up_to = ("$1", "$2") if dialect == "postgresql" else ("?", "?")
    return (
        f"SELECT {', '.join(columns)} FROM {events.name} "  # noqa: S608 (constants only)
        f"WHERE seq > {after} AND seq <= {up_to} ORDER BY seq"
    )
