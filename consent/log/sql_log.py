"""The durable consent log: group commit to SQL, a local spool when the store fails.

``record()`` returns once its event is committed to the database, or, when the
database is down or slower than ``write_timeout``, once it is ``fsync``'d to the
spool file. Decisions that arrive together share one transaction (group commit)
without any background worker: the first caller to find no write in progress
starts one, and that write takes every event waiting, again and again, until
none is left. That keeps working when each request runs in an event loop of its
own (as in some test clients): waiting events are kept per event loop. Where
each transaction runs: ``transactions.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .database import async_database_url, create_log_engine, default_spool_path, sqlite_file
from .errors import BadLogURL, SchemaError
from .events import ConsentEvent
from .schema import upgrade_schema
from .spool import Spool, SpoolEntry, replay_spool
from .statements import add_cookie_counts, append_events
from .transactions import PostgresTransactions, SqliteTransactions, Transactions
from .writer import CookieTally

logger = logging.getLogger("consent")

MAX_COOKIE_NAMES: Final = 1024
"""Distinct cookie names counted between two inventory flushes. Request cookie
names come from visitors, so this bounds what one of them can make the log store."""
MAX_COOKIE_NAME_LENGTH: Final = 256


@dataclass(slots=True)
class _Waiting:
    event: ConsentEvent
    notice: Mapping[str, Any]
    stored: asyncio.Future[None]


@dataclass(slots=True)
class _LoopState:
    """What one event loop owns: futures and pooled connections cannot cross loops."""

    store: Transactions
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
            SqliteTransactions(self.url, write_timeout) if sqlite_file(url) is not None else None
        )
        if self._sqlite is None and self.url.startswith("sqlite"):
            raise BadLogURL("log_url: an in-memory SQLite database cannot hold a consent log")
        self._schema_ready = False
        self._known_notices: set[str] = set()
        # Claimed spool files may wait from an earlier run: start() or the first write looks.
        self._claims_waiting = True
        self._store_retry_at = 0.0
        self._cookies = CookieTally(
            max_names=MAX_COOKIE_NAMES, max_name_length=MAX_COOKIE_NAME_LENGTH
        )
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
        self._cookies.add(name, category, blocked, now)
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
            store: Transactions = self._sqlite or PostgresTransactions(create_log_engine(self.url))
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

    async def _store_or_spool(self, store: Transactions, entries: Sequence[SpoolEntry]) -> None:
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

    async def _ensure_schema(self, store: Transactions) -> None:
        if self._schema_ready:
            return
        await store.run(upgrade_schema)
        self._schema_ready = True

    async def _append(
        self, store: Transactions, entries: Sequence[SpoolEntry], *, skip_stored: bool
    ) -> int:
        added, notices = await store.run(
            append_events, entries, skip_stored=skip_stored, known_notices=set(self._known_notices)
        )
        # Only once committed: a rolled-back notice must be stored again next time.
        self._known_notices.update(notices)
        return added

    async def _replay_spool(self, store: Transactions, *, deadline: float | None) -> None:
        """Store the spooled events (skipping those already stored), oldest first.

        Stops early, leaving the rest for the next replay, once ``deadline``
        (``time.monotonic()``) has passed.
        """

        async def append(entries: Sequence[SpoolEntry]) -> int:
            return await self._append(store, entries, skip_stored=True)

        try:
            finished = await replay_spool(self.spool, append, deadline=deadline)
        except BaseException:
            self._claims_waiting = True  # cut short: look at the claimed files next time
            raise
        self._claims_waiting = not finished

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
        counts = self._cookies.take()
        if self._cookies.dropped:
            logger.warning(
                "consent log: %d sightings of new cookie names not counted (more than %d "
                "names between two flushes)",
                self._cookies.dropped,
                MAX_COOKIE_NAMES,
            )
            self._cookies.dropped = 0
        if not counts:
            return
        try:
            async with asyncio.timeout(self.write_timeout):
                await self._ensure_schema(state.store)
                await state.store.run(add_cookie_counts, counts)
        except BaseException as error:
            self._cookies.put_back(counts)
            if not isinstance(error, Exception):
                raise
            logger.warning("consent log: cookie inventory not written yet (%s)", error)
