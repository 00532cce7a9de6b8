"""SQL store of the consent log (SQLAlchemy Core, async)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    insert,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from .events import ConsentEvent

metadata = MetaData()

notices = Table(
    "consent_notices",
    metadata,
    Column("notice_hash", String(64), primary_key=True),
    Column("notice", Text, nullable=False),
)

events = Table(
    "consent_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consent_id", String(64), nullable=False, index=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("granted", Text, nullable=False),
    Column("denied", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("locale", String(16), nullable=False),
    Column("mechanism", String(16), nullable=False),
    Column("notice_hash", String(64), nullable=False),
    Column("gpc", Boolean, nullable=False),
    Column("ip", String(64), nullable=True),
)


def async_database_url(url: str) -> str:
    """The async-driver form of a log URL (``sqlite://`` → ``sqlite+aiosqlite://``)."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ValueError(f"log_url: {url!r} is not a database URL") from error
    drivers = {
        "sqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
    }
    backend = parsed.drivername
    if backend in drivers:
        parsed = parsed.set(drivername=drivers[backend])
    elif backend not in drivers.values():
        raise ValueError(
            f"log_url: unsupported database {backend!r}; use sqlite:///path.db "
            "or postgresql+asyncpg://user@host/db"
        )
    return parsed.render_as_string(hide_password=False)


class SqlConsentLog:
    """Writes each event in its own committed transaction."""

    def __init__(self, url: str) -> None:
        self.url = async_database_url(url)
        self._sqlite = self.url.startswith("sqlite")
        # SQLite connections are cheap, and a pool would tie them to one event loop.
        self._engine: AsyncEngine = create_async_engine(
            self.url, poolclass=NullPool if self._sqlite else None
        )
        if self._sqlite:
            event.listen(self._engine.sync_engine, "connect", _sqlite_pragmas)
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()

    async def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        async with self._schema_lock:
            if not self._schema_ready:
                async with self._engine.begin() as connection:
                    await connection.run_sync(metadata.create_all)
                self._schema_ready = True

    async def record(self, event: ConsentEvent, notice: dict[str, Any]) -> None:
        """Insert the event (and its notice, once) and commit."""
        await self._ensure_schema()
        async with self._engine.begin() as connection:
            known = await connection.scalar(
                select(notices.c.notice_hash).where(notices.c.notice_hash == event.notice_hash)
            )
            if known is None:
                await connection.execute(
                    insert(notices).values(
                        notice_hash=event.notice_hash,
                        notice=json.dumps(notice, sort_keys=True, ensure_ascii=False),
                    )
                )
            await connection.execute(
                insert(events).values(
                    consent_id=event.consent_id,
                    occurred_at=event.occurred_at,
                    action=event.action,
                    granted=json.dumps(list(event.granted)),
                    denied=json.dumps(list(event.denied)),
                    revision=event.revision,
                    locale=event.locale,
                    mechanism=event.mechanism,
                    notice_hash=event.notice_hash,
                    gpc=event.gpc,
                    ip=event.ip,
                )
            )

    async def close(self) -> None:
        """Release the connections."""
        await self._engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
