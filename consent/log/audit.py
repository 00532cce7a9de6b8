"""Reading the consent log for an auditor: events, verification, statistics, cookies, purge.

Everything here streams: rows come in batches from a cursor (server-side on
PostgreSQL), so that a log of millions of events is read in constant memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import Select, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from .chain import CHAIN_COLUMNS, ChainChecker, ChainReport, join_stretches
from .schema import SchemaError, cookies, events, notices, require_current_schema, upgrade_schema
from .store import (
    ChainState,
    PurgeResult,
    create_log_engine,
    purge_events_before,
    read_chain_state,
    sqlite_file,
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
    "revision",
    "locale",
    "mechanism",
    "gpc",
    "ip",
    "notice_hash",
    "event_id",
    "hash",
)
"""The columns ``consent log`` shows and exports, in this order."""

_SQLITE_MMAP_BYTES: Final = 1 << 33
"""Asked of SQLite when verifying (it keeps to its own build's limit, 2 GiB by default)."""

Progress = Callable[[int], None]
"""Called with the number of rows just processed."""


class LogUnavailable(Exception):
    """The log cannot be opened or read; the message is one line for the operator."""


@asynccontextmanager
async def open_log(url: str, *, writes: bool = False) -> AsyncIterator[AsyncConnection]:
    """A connection to an existing consent log, in one transaction (one snapshot).

    Never creates a database. Raises :class:`LogUnavailable` with a one-line reason
    for a malformed URL, a missing SQLite file, a server that cannot be reached or
    a database without a consent log. ``writes`` upgrades an older schema and
    takes the write lock (for ``purge``); the caller commits.
    """
    try:
        database = sqlite_file(url)
        engine = create_log_engine(url, existing_only=True, writes=writes)
    except (ValueError, ArgumentError) as error:
        raise LogUnavailable(str(error).replace("log_url: ", "")) from error
    if database is None and make_url(url).drivername.startswith("sqlite"):
        raise LogUnavailable("an in-memory SQLite database holds no consent log; give a file")
    if database is not None and not database.is_file():
        raise LogUnavailable(f"no consent log at {database}: the file does not exist")
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "postgresql" and not writes:
                # Chain state and events from one snapshot, while writers go on.
                await connection.execution_options(isolation_level="REPEATABLE READ")
            await connection.begin()
            if writes:
                await connection.run_sync(upgrade_schema)
            else:
                await connection.run_sync(require_current_schema)
            yield connection
    except SchemaError as error:
        raise LogUnavailable(f"{safe_url(url)}: {error}") from error
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        raise _unreadable(url, error) from error
    finally:
        await engine.dispose()


def _unreadable(url: str, error: Exception) -> LogUnavailable:
    """The one-line error for a log that was found but could not be read."""
    return LogUnavailable(f"cannot read the consent log at {safe_url(url)}: {_reason(error)}")


def safe_url(url: str) -> str:
    """The URL without its password, to show."""
    return make_url(url).render_as_string(hide_password=True)


def _reason(error: BaseException) -> str:
    """The driver's own words, on one line."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
        cause = error.__cause__ or error.__context__
        if str(error).startswith("<class") and cause is not None:
            error = cause
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the database server running?)"
    if isinstance(error, TimeoutError):
        return "timed out"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to read. ``until`` is exclusive."""

    consent_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None

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
        return query


async def count_events(connection: AsyncConnection, where: EventFilter) -> int:
    """How many events the filter selects."""
    total = await connection.scalar(where.apply(select(func.count()).select_from(events)))
    return int(total or 0)


async def stream_events(
    connection: AsyncConnection, where: EventFilter
) -> AsyncIterator[Sequence[Any]]:
    """Batches of event rows (columns of :data:`EVENT_COLUMNS`), in ``seq`` order."""
    query = where.apply(select(*(events.c[name] for name in EVENT_COLUMNS)))
    result = await connection.stream(
        query.order_by(events.c.seq).execution_options(yield_per=BATCH)
    )
    async for batch in result.partitions():
        yield batch


def event_record(row: Sequence[Any]) -> dict[str, Any]:
    """An event row as a JSON-ready dict (times in ISO 8601 UTC, categories as lists)."""
    record = dict(zip(EVENT_COLUMNS, row, strict=True))
    record["occurred_at"] = iso_utc(record["occurred_at"])
    record["granted"] = json.loads(record["granted"])
    record["denied"] = json.loads(record["denied"])
    record["gpc"] = bool(record["gpc"])
    return record


def iso_utc(moment: datetime) -> str:
    """``2026-03-01T12:00:00.123456Z``: stored times are UTC (SQLite returns them naive)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


def verify_log(
    url: str,
    progress: Progress,
    *,
    on_total: Progress | None = None,
    workers: int | None = None,
    events_per_worker: int = 100_000,
) -> tuple[ChainState, ChainReport]:
    """Check the whole chain from the anchor to the head.

    The chain is cut into consecutive stretches checked in parallel by ``workers``
    processes (one per CPU by default; a stretch has at least
    ``events_per_worker`` events, so small logs are checked here), each reading
    its events in ``seq`` order straight from the driver, then joined (see
    ``chain.join_stretches``). Events written meanwhile come after the head read
    at the start, and are left for the next run. ``on_total`` is told how many
    events there are to check before the first is; ``progress`` as they are.

    The workers are forked: call this from a process without other threads (as
    the ``consent`` command does), or with ``workers=1``.
    """
    state, first_after_head = asyncio.run(_chain_ends(url))
    total = state.head_seq - state.anchor_seq
    if on_total is not None:
        on_total(total)
    count = max(1, min(workers or os.cpu_count() or 1, total // max(events_per_worker, 1)))
    bounds = [state.anchor_seq + total * part // count for part in range(count + 1)]
    if count == 1:
        stretches = [
            check_stretch(url, state.anchor_seq, state.anchor_hash, state.head_seq, progress)
        ]
    else:
        stretches = _check_in_parallel(url, bounds, state.anchor_hash, progress)
    report = join_stretches(
        stretches,
        anchor_seq=state.anchor_seq,
        anchor_hash=state.anchor_hash,
        head_seq=state.head_seq,
        head_hash=state.head_hash,
        first_after_head=first_after_head,
    )
    return state, report


async def _chain_ends(url: str) -> tuple[ChainState, tuple[int, str] | None]:
    """The anchor and head, and the first event beyond the head, from one snapshot."""
    async with open_log(url) as connection:
        state = await connection.run_sync(read_chain_state)
        beyond = (
            await connection.execute(
                select(events.c.seq, events.c.event_id)
                .where(events.c.seq > state.head_seq)
                .order_by(events.c.seq)
                .limit(1)
            )
        ).first()
    return state, None if beyond is None else (int(beyond.seq), str(beyond.event_id))


_shared_progress: Any = None
"""In a worker process: the counter of events checked, shared with the parent."""


def _count_in_shared_progress(done: int) -> None:
    with _shared_progress.get_lock():
        _shared_progress.value += done


def _check_in_worker(
    url: str, after_seq: int, after_hash: str | None, up_to_seq: int
) -> ChainChecker:
    return check_stretch(url, after_seq, after_hash, up_to_seq, _count_in_shared_progress)


def _check_in_parallel(
    url: str, bounds: list[int], anchor_hash: str, progress: Progress
) -> list[ChainChecker]:
    global _shared_progress
    # fork: the workers start at once with everything imported; this process has no
    # other thread at this point (the progress bar does not refresh by itself).
    context = multiprocessing.get_context("fork")
    _shared_progress = context.Value("q", 0)
    shown = 0
    with ProcessPoolExecutor(len(bounds) - 1, mp_context=context) as pool:
        futures = [
            pool.submit(_check_in_worker, url, after, anchor_hash if part == 0 else None, up_to)
            for part, (after, up_to) in enumerate(itertools.pairwise(bounds))
        ]
        while not all(future.done() for future in futures):
            wait(futures, timeout=0.1)
            done = _shared_progress.value
            progress(done - shown)
            shown = done
        return [future.result() for future in futures]


def check_stretch(
    url: str, after_seq: int, after_hash: str | None, up_to_seq: int, progress: Progress
) -> ChainChecker:
    """Check the events ``(after_seq, up_to_seq]``; see ``chain.ChainChecker``."""
    checker = ChainChecker(after_seq=after_seq, after_hash=after_hash, up_to_seq=up_to_seq)
    database = sqlite_file(url)
    if database is None:
        asyncio.run(_check_stretch_postgresql(url, checker, progress))
        return checker
    # Plain sqlite3 in this thread: no event loop or driver thread between the rows
    # and the hashing, which is most of the time spent.
    connection = sqlite3.connect(
        f"file:{quote(str(database.resolve()))}?mode=rw", uri=True, isolation_level=None
    )
    try:
        # Memory-mapped reads: no read() system call and copy per page of the file.
        connection.execute(f"PRAGMA mmap_size={_SQLITE_MMAP_BYTES}")
        # Text as the stored UTF-8 bytes: hashed as they are, never decoded (feed_raw).
        connection.text_factory = bytes
        connection.execute("BEGIN")
        cursor = connection.execute(
            f"{_chain_query('sqlite')} WHERE seq > ? AND seq <= ? ORDER BY seq",
            (after_seq, up_to_seq),
        )
        while batch := cursor.fetchmany(BATCH):
            keep_going = checker.feed_raw(batch)
            progress(len(batch))
            if not keep_going:
                break
    except sqlite3.Error as error:
        raise LogUnavailable(f"cannot read the consent log at {database}: {error}") from error
    finally:
        connection.close()
    return checker


async def _check_stretch_postgresql(url: str, checker: ChainChecker, progress: Progress) -> None:
    engine = create_log_engine(url, existing_only=True, writes=False)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="REPEATABLE READ")
            await connection.begin()
            # The driver begins the transaction at the first statement; the cursor needs one.
            await connection.execute(select(1))
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            # A server-side cursor; the next batch is fetched while this one is hashed.
            cursor = await driver.cursor(
                f"{_chain_query('postgresql')} WHERE seq > $1 AND seq <= $2 ORDER BY seq",
                checker.next_seq - 1,
                checker.up_to_seq,
            )
            ahead = asyncio.ensure_future(cursor.fetch(BATCH))
            try:
                while batch := await ahead:
                    ahead = asyncio.ensure_future(cursor.fetch(BATCH))
                    keep_going = checker.feed(batch)
                    progress(len(batch))
                    if not keep_going:
                        break
            finally:
                if not ahead.done():
                    ahead.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await ahead
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        raise _unreadable(url, error) from error
    finally:
        await engine.dispose()


def _chain_query(dialect: str) -> str:
    """The events' ``CHAIN_COLUMNS``, the time as canonical text (see ``chain.utc_text``)."""
    # PostgreSQL formats the time itself: fewer objects for Python to make and format.
    time_text = (
        "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        if dialect == "postgresql"
        else "occurred_at"  # SQLite stores exactly that text
    )
    columns = ", ".join(time_text if c == "occurred_at" else c for c in CHAIN_COLUMNS)
    return f"SELECT {columns} FROM {events.name}"  # noqa: S608 (constants only)


async def event_hash_at(connection: AsyncConnection, seq: int) -> str | None:
    """The stored hash of the event at ``seq``, None if there is none."""
    value = await connection.scalar(select(events.c.hash).where(events.c.seq == seq))
    return None if value is None else str(value)


@dataclass(slots=True)
class DayStats:
    """The decisions of one UTC day."""

    day: date
    decisions: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    granted: Counter[str] = field(default_factory=Counter)
    """Per category: decisions that granted it."""
    offered: Counter[str] = field(default_factory=Counter)
    """Per category: decisions that granted or refused it."""

    def rate(self, action: str) -> float:
        """Share of the day's decisions that were this action (0 to 1)."""
        return self.actions[action] / self.decisions if self.decisions else 0.0

    def opt_in(self, category: str) -> float | None:
        """Share of the day's decisions that granted the category; None if never offered."""
        offered = self.offered[category]
        return self.granted[category] / offered if offered else None


@dataclass(slots=True)
class Stats:
    """Decisions per day, and the categories they were about."""

    days: list[DayStats]
    categories: list[str]
    """Category keys seen in the decisions (``necessary`` left out), sorted."""

    @property
    def total(self) -> DayStats:
        """All days together."""
        total = DayStats(self.days[0].day if self.days else date.today())
        for day in self.days:
            total.decisions += day.decisions
            total.actions.update(day.actions)
            total.granted.update(day.granted)
            total.offered.update(day.offered)
        return total


async def gather_stats(
    connection: AsyncConnection, where: EventFilter, progress: Progress
) -> Stats:
    """Decisions per UTC day, with action rates and opt-in per category."""
    query = where.apply(
        select(events.c.occurred_at, events.c.action, events.c.granted, events.c.denied)
    ).execution_options(yield_per=BATCH)
    days: dict[date, DayStats] = {}
    parsed: dict[str, list[str]] = {}
    result = await connection.stream(query)
    async for batch in result.partitions():
        for occurred_at, action, granted_text, denied_text in batch:
            day = _utc_day(occurred_at)
            stats = days.get(day)
            if stats is None:
                stats = days[day] = DayStats(day)
            stats.decisions += 1
            stats.actions[action] += 1
            # Few distinct combinations exist: parse each JSON text once.
            granted = parsed.get(granted_text)
            if granted is None:
                granted = parsed[granted_text] = [
                    c for c in json.loads(granted_text) if c != "necessary"
                ]
            denied = parsed.get(denied_text)
            if denied is None:
                denied = parsed[denied_text] = json.loads(denied_text)
            stats.granted.update(granted)
            stats.offered.update(granted)
            stats.offered.update(denied)
        progress(len(batch))
    categories = sorted({c for day in days.values() for c in day.offered})
    return Stats(sorted(days.values(), key=lambda d: d.day), categories)


def _utc_day(moment: datetime) -> date:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


@dataclass(frozen=True, slots=True)
class CookieRow:
    """One cookie name of the inventory."""

    name: str
    category: str
    seen: int
    blocked: int
    first_seen: datetime
    last_seen: datetime


async def list_cookies(connection: AsyncConnection) -> list[CookieRow]:
    """Every cookie name seen, sorted by category then name (a few thousand at most)."""
    rows = await connection.execute(select(cookies).order_by(cookies.c.category, cookies.c.name))
    return [
        CookieRow(r.name, r.category, int(r.seen), int(r.blocked), r.first_seen, r.last_seen)
        for r in rows
    ]


async def read_notice(connection: AsyncConnection, notice_hash: str) -> dict[str, Any] | None:
    """The notice text stored under a hash, None if there is none."""
    text = await connection.scalar(
        select(notices.c.notice).where(notices.c.notice_hash == notice_hash)
    )
    return None if text is None else dict(json.loads(text))


@dataclass(frozen=True, slots=True)
class PurgePlan:
    """What ``purge --before`` would delete."""

    events: int
    first_seq: int
    last_seq: int


async def plan_purge(connection: AsyncConnection, before: datetime) -> PurgePlan:
    """The prefix of the chain that a purge would delete (see ``purge_events_before``)."""
    state = await connection.run_sync(read_chain_state)
    first_kept = await connection.scalar(
        select(func.min(events.c.seq)).where(events.c.occurred_at >= before)
    )
    last = state.head_seq if first_kept is None else int(first_kept) - 1
    last = max(last, state.anchor_seq)
    return PurgePlan(last - state.anchor_seq, state.anchor_seq + 1, last)


async def purge(connection: AsyncConnection, before: datetime) -> PurgeResult:
    """Delete the events before ``before`` and commit.

    The connection comes from ``open_log(writes=True)``.
    """
    result = await connection.run_sync(purge_events_before, before)
    await connection.commit()
    return result
