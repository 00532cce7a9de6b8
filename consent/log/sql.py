"""The durable consent log: group commit to SQL, a local spool when the store fails.

``record()`` returns once its event is committed to the database, or, when the
database is down or slower than ``write_timeout``, once it is ``fsync``'d to the
spool file. Decisions that arrive together share one transaction (group commit)
without any background worker: the first caller to find no write in progress
starts one, and that write takes every event waiting, again and again, until
none is left. That keeps working when each request runs in an event loop of its
own (as in some test clients): waiting events are kept per event loop.

Each transaction runs as one plain function of a ``Connection`` (``store.py``):
on PostgreSQL through ``AsyncConnection.run_sync`` with asyncpg, on SQLite in one
worker thread with the stdlib driver, so that a whole batch costs one thread
hand-off instead of one per statement (aiosqlite), which halves the time each
batch holds SQLite's write lock.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from .events import ConsentEvent, CookieCount
from .schema import SchemaError, upgrade_schema
from .spool import Spool, SpoolEntry
from .store import (
    add_cookie_counts,
    append_events,
    async_database_url,
    create_log_engine,
    create_sqlite_writer_engine,
    default_spool_path,
    sqlite_file,
)

_P = ParamSpec("_P")
_T = TypeVar("_T")

logger = logging.getLogger("consent")

MAX_COOKIE_NAMES: Final = 1024
"""Distinct cookie names counted between two inventory flushes. Request cookie
names come from visitors, so this bounds what one of them can make the log store."""
MAX_COOKIE_NAME_LENGTH: Final = 256
REPLAY_CHUNK: Final = 1000
"""Spooled events stored per transaction during a replay."""


@dataclass(slots=True)
class _Waiting:
    event: ConsentEvent
    notice: Mapping[str, Any]
    stored: asyncio.Future[None]


class _SqliteTransactions:
    """Runs each transaction on a SQLite log in one dedicated thread, with one connection."""

    def __init__(self, url: str, busy_timeout: float) -> None:
        self._url = url
        self._busy_timeout = busy_timeout
        self._engine: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def run(
        self, work: Callable[Concatenate[Connection, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """``work(connection, ...)`` in a committed transaction (rolled back if it raises)."""
        if self._thread is None:
            # One thread: a stuck database holds up only the log's own work, never the
            # spool (default executor) nor the event loop.
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="consent-log")
        call = functools.partial(self._in_transaction, work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def _in_transaction(
        self, work: Callable[Concatenate[Connection, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        if self._engine is None:
            self._engine = create_sqlite_writer_engine(self._url, busy_timeout=self._busy_timeout)
        with self._engine.begin() as connection:
            return work(connection, *args, **kwargs)

    async def close(self) -> None:
        """Close the connection and end the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.get_running_loop().run_in_executor(thread, engine.dispose)
        thread.shutdown(wait=False)


class _PostgresTransactions:
    """Runs each transaction through an asyncpg connection pool of one event loop."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def run(
        self, work: Callable[Concatenate[Connection, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """``work(connection, ...)`` in a committed transaction (rolled back if it raises)."""
        async with self.engine.begin() as connection:
            return await connection.run_sync(work, *args, **kwargs)

    async def close(self) -> None:
        """Close the pool's connections."""
        await self.engine.dispose()


_Transactions = _SqliteTransactions | _PostgresTransactions


@dataclass(slots=True)
class _LoopState:
    """What one event loop owns: futures and pooled connections cannot cross loops."""

    store: _Transactions
    waiting: list[_Waiting] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None
    inventory_flush: asyncio.Task[None] | None = None


class SqlConsentLog:
    """The consent log in a SQLite or PostgreSQL database; see the module docstring.

    ``spool_path`` defaults to ``<database>.spool`` beside a SQLite file, else
    ``./consent-log.spool``. ``write_timeout`` is how long a visitor may wait for
    the database before the event goes to the spool; after a failure the database
    is tried again ``retry_interval`` seconds later. Cookie counts are written at
    most every ``inventory_interval`` seconds.
    """

    def __init__(
        self,
        url: str,
        *,
        spool_path: str | Path | None = None,
        write_timeout: float = 2.0,
        retry_interval: float = 1.0,
        inventory_interval: float = 5.0,
    ) -> None:
        self.url = async_database_url(url)
        self.spool = Spool(Path(spool_path) if spool_path is not None else default_spool_path(url))
        self.write_timeout = write_timeout
        self.retry_interval = retry_interval
        self.inventory_interval = inventory_interval
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        # SQLite: one thread for every loop (the file lock serialises writers anyway).
        self._sqlite = (
            _SqliteTransactions(self.url, write_timeout) if sqlite_file(url) is not None else None
        )
        if self._sqlite is None and self.url.startswith("sqlite"):
            raise ValueError("log_url: an in-memory SQLite database cannot hold a consent log")
        self._schema_ready = False
        self._known_notices: set[str] = set()
        # Claimed spool files may wait from an earlier run: start() or the first write looks.
        self._claims_waiting = True
        self._store_retry_at = 0.0
        self._cookie_counts: dict[str, CookieCount] = {}
        self._cookie_names_dropped = 0
        self._inventory_due = time.time() + inventory_interval

    # --- the request path ---------------------------------------------------------------

    async def record(self, event: ConsentEvent, notice: Mapping[str, Any]) -> None:
        """Store one event (and its notice, once); return when it is durable."""
        loop = asyncio.get_running_loop()
        state = self._state(loop)
        waiting = _Waiting(event, notice, loop.create_future())
        state.waiting.append(waiting)
        if state.writer is None:
            # The write runs in a task of its own, so that the visitor whose request
            # started it going away (cancelled) does not strand the others' events.
            state.writer = loop.create_task(self._write_waiting(state))
        if time.time() >= self._inventory_due:
            self._flush_inventory_soon()
        await waiting.stored

    def cookie_seen(self, name: str, category: str, blocked: bool) -> None:
        """Count one sighting of a cookie name (in a request or a response); O(1)."""
        now = time.time()
        count = self._cookie_counts.get(name)
        if count is None:
            if len(self._cookie_counts) >= MAX_COOKIE_NAMES or len(name) > MAX_COOKIE_NAME_LENGTH:
                self._cookie_names_dropped += 1
                return
            self._cookie_counts[name] = CookieCount(category, 1, int(blocked), now, now)
        else:
            count.category = category
            count.seen += 1
            count.blocked += blocked
            count.last_seen = now
        if now >= self._inventory_due:
            self._flush_inventory_soon()

    # --- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Create or upgrade the schema and store what the spool holds.

        Idempotent; the first ``record()`` does it too. A database that cannot be
        reached is logged, not raised: decisions then go to the spool until it is
        back. A schema newer than this release raises :class:`SchemaError`.
        """
        state = self._state(asyncio.get_running_loop())
        try:
            await self._ensure_schema(state.store)
            await self._replay_spool(state.store, deadline=None)
        except SchemaError:
            raise
        except Exception as error:
            logger.warning("consent log: store unavailable at start (%s); spooling", error)

    async def close(self) -> None:
        """Finish the writes under way, store the spool and the cookie counts, disconnect."""
        loop = asyncio.get_running_loop()
        state = self._state(loop)
        if state.writer is not None:
            await asyncio.shield(state.writer)
        if state.inventory_flush is not None:
            await asyncio.shield(state.inventory_flush)
        await self._flush_inventory(state)
        try:
            await self._ensure_schema(state.store)
            await self._replay_spool(state.store, deadline=None)
        except Exception as error:
            logger.warning(
                "consent log: store unavailable at close (%s); spooled events stay in %s",
                error,
                self.spool.path,
            )
        await state.store.close()
        # Pools of other event loops cannot be closed from this one; they are let go.
        self._loops.clear()

    # --- group commit -------------------------------------------------------------------

    def _state(self, loop: asyncio.AbstractEventLoop) -> _LoopState:
        state = self._loops.get(loop)
        if state is None:
            for old_loop in [old for old in self._loops if old.is_closed()]:
                del self._loops[old_loop]
            store: _Transactions = self._sqlite or _PostgresTransactions(
                create_log_engine(self.url)
            )
            state = self._loops[loop] = _LoopState(store)
        return state

    async def _write_waiting(self, state: _LoopState) -> None:
        """Write every waiting event, batch after batch, until none is left."""
        try:
            while state.waiting:
                batch, state.waiting = state.waiting, []
                try:
                    await self._store_or_spool(state.store, [(w.event, w.notice) for w in batch])
                except Exception as error:
                    for waiting in batch:
                        if not waiting.stored.done():
                            waiting.stored.set_exception(error)
                    continue
                except BaseException:
                    for waiting in batch:
                        waiting.stored.cancel()
                    raise
                for waiting in batch:
                    if not waiting.stored.done():
                        waiting.stored.set_result(None)
        finally:
            state.writer = None
            for waiting in state.waiting:
                # Only reached when this task is cancelled (its loop is shutting down).
                waiting.stored.cancel()
            state.waiting = []

    async def _store_or_spool(self, store: _Transactions, entries: Sequence[SpoolEntry]) -> None:
        """Commit the entries, or fsync them to the spool when the store fails or is slow."""
        if time.monotonic() >= self._store_retry_at:
            try:
                async with asyncio.timeout(self.write_timeout):
                    await self._ensure_schema(store)
                    if self._claims_waiting or self.spool.has_entries():
                        # Older events first. Half the time at most, so that the
                        # visitors waiting now are written too.
                        deadline = time.monotonic() + self.write_timeout / 2
                        await self._replay_spool(store, deadline=deadline)
                    await self._append(store, entries, skip_stored=False)
                return
            except Exception as error:
                # TimeoutError included: that transaction may still have committed,
                # which the event ids make harmless when the spool is replayed. A
                # schema from a newer release is the operator's to fix; meanwhile
                # the decisions are kept in the spool all the same.
                self._store_retry_at = time.monotonic() + self.retry_interval
                logger.log(
                    logging.ERROR if isinstance(error, SchemaError) else logging.WARNING,
                    "consent log: store unavailable (%s); spooling to %s",
                    str(error).splitlines()[0] if str(error) else type(error).__name__,
                    self.spool.path,
                )
        await asyncio.to_thread(self.spool.append, entries)

    async def _ensure_schema(self, store: _Transactions) -> None:
        if self._schema_ready:
            return
        await store.run(upgrade_schema)
        self._schema_ready = True

    async def _append(
        self, store: _Transactions, entries: Sequence[SpoolEntry], *, skip_stored: bool
    ) -> int:
        added, notices = await store.run(
            append_events, entries, skip_stored=skip_stored, known_notices=set(self._known_notices)
        )
        # Only once committed: a rolled-back notice must be stored again next time.
        self._known_notices.update(notices)
        return added

    async def _replay_spool(self, store: _Transactions, *, deadline: float | None) -> None:
        """Store the spooled events (skipping those already stored), oldest first.

        Stops early, leaving the rest for the next replay, once ``deadline``
        (``time.monotonic()``) has passed.
        """
        claimed_files = await asyncio.to_thread(self.spool.claim)
        self._claims_waiting = False
        for claimed in claimed_files:
            if deadline is not None and time.monotonic() > deadline:
                self._claims_waiting = True
                return
            opened = await self._open_claim(claimed)
            if opened is None:
                continue
            descriptor, entries = opened
            finished = False
            try:
                added = 0
                for start in range(0, len(entries), REPLAY_CHUNK):
                    if deadline is not None and time.monotonic() > deadline:
                        break
                    chunk = entries[start : start + REPLAY_CHUNK]
                    added += await self._append(store, chunk, skip_stored=True)
                else:
                    finished = True
                if added:
                    logger.info("consent log: %d spooled events stored from %s", added, claimed)
            finally:
                if not finished:
                    self._claims_waiting = True
                # Not awaited: this also runs when a timeout cancels the replay, and
                # an unlink and a close are quick.
                self.spool.close_claim(claimed, descriptor, finished=finished)
            if not finished:
                return

    async def _open_claim(self, claimed: Path) -> tuple[int, list[SpoolEntry]] | None:
        """``Spool.open_claim`` in a thread, its lock released even if we are cancelled."""
        opening = asyncio.get_running_loop().run_in_executor(None, self.spool.open_claim, claimed)
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:

            def release(done: asyncio.Future[tuple[int, list[SpoolEntry]] | None]) -> None:
                opened = None if done.cancelled() or done.exception() else done.result()
                if opened is not None:
                    self.spool.close_claim(claimed, opened[0], finished=False)

            opening.add_done_callback(release)
            raise

    # --- cookie inventory ---------------------------------------------------------------

    def _flush_inventory_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        state = self._state(loop)
        if state.inventory_flush is None or state.inventory_flush.done():
            self._inventory_due = time.time() + self.inventory_interval
            state.inventory_flush = loop.create_task(self._flush_inventory(state))

    async def _flush_inventory(self, state: _LoopState) -> None:
        """Add the counts gathered since the last flush to the inventory table."""
        counts, self._cookie_counts = self._cookie_counts, {}
        if self._cookie_names_dropped:
            logger.warning(
                "consent log: %d sightings of new cookie names not counted (more than %d "
                "names between two flushes)",
                self._cookie_names_dropped,
                MAX_COOKIE_NAMES,
            )
            self._cookie_names_dropped = 0
        if not counts:
            return
        try:
            async with asyncio.timeout(self.write_timeout):
                await self._ensure_schema(state.store)
                await state.store.run(add_cookie_counts, counts)
        except BaseException as error:
            self._restore_counts(counts)
            if not isinstance(error, Exception):
                raise
            logger.warning("consent log: cookie inventory not written yet (%s)", error)

    def _restore_counts(self, counts: Mapping[str, CookieCount]) -> None:
        """Put counts that could not be written back, merged with the newer ones."""
        for name, old in counts.items():
            newer = self._cookie_counts.get(name)
            if newer is None:
                self._cookie_counts[name] = old
            else:
                newer.seen += old.seen
                newer.blocked += old.blocked
                newer.first_seen = min(newer.first_seen, old.first_seen)
