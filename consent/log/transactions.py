"""Where the durable log's transactions run: one thread for SQLite, a pool for PostgreSQL.

Each transaction is one plain function of a ``Connection`` (``statements.py``):
on PostgreSQL through ``AsyncConnection.run_sync`` with asyncpg, on SQLite in one
worker thread with the stdlib driver, so that a whole batch costs one thread
hand-off instead of one per statement (aiosqlite), which halves the time each
batch holds SQLite's write lock.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from .database import create_sqlite_writer_engine

_P = ParamSpec("_P")
_T = TypeVar("_T")


class SqliteTransactions:
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


class PostgresTransactions:
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


Transactions = SqliteTransactions | PostgresTransactions
