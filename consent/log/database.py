"""Where the consent log lives: database URLs, engines, and connections for its readers.

SQLAlchemy Core: ``sqlite`` (WAL, ``synchronous=FULL``) or ``postgresql+asyncpg``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from .errors import BadLogURL, LogUnavailable, SchemaError
from .schema import require_current_schema, upgrade_schema

_DRIVERS: Final = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_database_url(url: str) -> str:
    """The async-driver form of a log URL (``sqlite://`` → ``sqlite+aiosqlite://``).

    Raises :class:`BadLogURL`, naming ``log_url``, for anything that is not a
    SQLite or PostgreSQL URL.
    """
    return _parse(url).render_as_string(hide_password=False)


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise BadLogURL(f"log_url: {url!r} is not a database URL") from error
    backend = parsed.drivername
    if backend in _DRIVERS:
        parsed = parsed.set(drivername=_DRIVERS[backend])
    elif backend not in _DRIVERS.values():
        raise BadLogURL(
            f"log_url: unsupported database {backend!r}; use sqlite:///path.db "
            "or postgresql+asyncpg://user@host/db"
        )
    return parsed


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite log URL; None for PostgreSQL or an in-memory SQLite."""
    parsed = _parse(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def default_spool_path(url: str) -> Path:
    """``<database>.spool`` beside a SQLite log, else ``./consent-log.spool``."""
    database = sqlite_file(url)
    if database is not None:
        return database.with_name(database.name + ".spool")
    return Path("consent-log.spool")


def safe_url(url: str) -> str:
    """The URL without its password, to show."""
    return make_url(url).render_as_string(hide_password=True)


def create_log_engine(
    url: str, *, existing_only: bool = False, writes: bool = True, busy_timeout: float = 5.0
) -> AsyncEngine:
    """An engine for the log at ``url``.

    ``existing_only`` opens a SQLite file without ever creating it (for the
    readers; the caller checks first that the file is there, to say so). SQLite
    transactions take the write lock at once when ``writes`` (readers would block
    the application's writers for as long as they read), and wait up to
    ``busy_timeout`` seconds for another writer's lock.
    """
    parsed = _parse(url)
    if not parsed.drivername.startswith("sqlite"):
        return create_async_engine(parsed, pool_size=4, max_overflow=4)
    database = sqlite_file(url)
    if existing_only and database is not None:
        parsed = URL.create(
            parsed.drivername,
            database=f"file:{quote(str(database.resolve()))}",
            query={"mode": "rw", "uri": "true"},
        )
    # Connections are cheap to open, and a pool would tie each one to an event loop.
    engine = create_async_engine(parsed, poolclass=NullPool, connect_args={"timeout": busy_timeout})
    event.listen(engine.sync_engine, "connect", _sqlite_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_begin if writes else _sqlite_begin_read)
    return engine


def create_sqlite_writer_engine(url: str, *, busy_timeout: float) -> Engine:
    """A synchronous engine for writing a SQLite log from one worker thread."""
    database = sqlite_file(url)
    if database is None:
        raise BadLogURL("log_url: an in-memory SQLite database cannot hold a consent log")
    engine = create_engine(
        URL.create("sqlite", database=str(database)),
        pool_size=1,
        max_overflow=0,
        connect_args={"timeout": busy_timeout},
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is turned off: _sqlite_begin says BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk when it returns, power loss included.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock at the start, so that two processes appending at
    # once queue up instead of both reading the same chain head.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_read(connection: Any) -> None:
    # A deferred transaction: in WAL, one consistent snapshot that blocks no writer.
    connection.exec_driver_sql("BEGIN")


@asynccontextmanager
async def open_log(url: str, *, writes: bool = False) -> AsyncIterator[AsyncConnection]:
    """A connection to an existing consent log, in one transaction (one snapshot).

    Never creates a database. Raises :class:`LogUnavailable` with a one-line reason
    for a malformed URL, a missing SQLite file, a server that cannot be reached or
    a database without a consent log. ``writes`` upgrades an older schema and
    takes the write lock (for a purge); the caller commits.
    """
    try:
        database = sqlite_file(url)
        engine = create_log_engine(url, existing_only=True, writes=writes)
    except (BadLogURL, ArgumentError) as error:
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
        raise unreadable(url, error) from error
    finally:
        await engine.dispose()


def unreadable(url: str, error: BaseException) -> LogUnavailable:
    """The one-line error for a log that was found but could not be read."""
    return LogUnavailable(f"cannot read the consent log at {safe_url(url)}: {_reason(error)}")


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
