"""Write the consent logs of ``data/`` that a release leaves behind, with that release's code.

``data/schema-2.sqlite`` and ``data/schema-2.postgresql.sql`` were made by running
this script with the code of the release at schema version 2 (commit 8988f43), so
that its own writer (``SqlConsentLog.record``) stored the events below, and its
own migrations made the tables. From the repository's root::

    git worktree add ../log-schema-2 8988f43
    cd ../log-schema-2
    PYTHONPATH=. python "$OLDPWD/tests/log/write_old_logs.py" "$OLDPWD/tests/log/data"
    cd "$OLDPWD" && git worktree remove --force ../log-schema-2

``PYTHONPATH`` puts that release's ``consent`` (and its ``tests/log/postgres.py``)
before the installed one; the files are named after the schema version it writes.

- ``schema-N.sqlite``: the file the writer left, made self-contained (journal
  mode DELETE, then VACUUM), as a site would copy it.
- ``schema-N.postgresql.sql``: the DDL that the release ran on a new PostgreSQL
  database (captured as it ran), then every row it stored there, table by table.

Both hold the same six decisions over two days (regimes and regions vary; the
fourth is hashed as before regimes existed) and a few cookies, so the same chain head.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.ext.asyncio import create_async_engine

from consent.log import ConsentEvent, SqlConsentLog
from consent.log.schema import SCHEMA_VERSION
from tests.log.postgres import PostgresServer, postgres_bin_dir

NOTICES: dict[str, dict[str, Any]] = {
    "ab" * 32: {"title": "Cookies", "categories": [{"key": "analytics"}, {"key": "marketing"}]},
    "cd" * 32: {
        "title": "Cookies, revised",
        "categories": [{"key": "analytics"}, {"key": "préférences"}],
    },
}


def _event(number: int, occurred_at: datetime, **values: Any) -> ConsentEvent:
    fields: dict[str, Any] = {
        "event_id": f"0197a1b2c3d47000a00000000000002{number}",
        "consent_id": f"d{number}" * 16,
        "occurred_at": occurred_at,
        "revision": 1,
        "locale": "en",
        "mechanism": "banner",
        "notice_hash": "ab" * 32,
        "gpc": False,
    }
    fields.update(values)
    return ConsentEvent(**fields)


EVENTS = (
    _event(
        1,
        datetime(2026, 6, 1, 7, 30, 0, 250000, tzinfo=UTC),
        action="accept_all",
        granted=("analytics", "marketing", "necessary"),
        denied=(),
        locale="fr",
        regime="opt-in",
        region="FR",
    ),
    _event(
        2,
        datetime(2026, 6, 1, 14, 2, 11, tzinfo=UTC),
        action="reject_all",
        granted=("necessary",),
        denied=("analytics", "marketing"),
        locale="en-US",
        ip="198.51.100.0/24",
        regime="opt-out",
        region="US-CA",
    ),
    _event(
        3,
        datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=UTC),
        action="gpc",
        granted=("analytics", "necessary"),
        denied=("marketing",),
        locale="en-US",
        mechanism="gpc",
        gpc=True,
        regime="opt-out",
        region="US-CO",
    ),
    _event(
        4,
        datetime(2026, 6, 2, 0, 0, 0, tzinfo=UTC),
        action="custom",
        granted=("analytics", "necessary"),
        denied=("marketing",),
        locale="de",
        mechanism="preferences",
        ip="2001:db8:2::/48",
    ),
    _event(
        5,
        datetime(2026, 6, 2, 9, 15, 0, tzinfo=UTC),
        action="accept_all",
        granted=("analytics", "necessary", "préférences"),
        denied=(),
        revision=2,
        locale="pt-BR",
        mechanism="api",
        notice_hash="cd" * 32,
        regime="none",
        region="AU",
    ),
    _event(
        6,
        datetime(2026, 6, 2, 18, 45, 30, 500000, tzinfo=UTC),
        consent_id="d1" * 16,
        action="withdraw",
        granted=("necessary",),
        denied=("analytics", "marketing"),
        locale="es-US",
        mechanism="preferences",
        regime="opt-out",
    ),
)
"""The decisions, in the order they are written (``seq`` 1 to 6)."""

COOKIES = (
    ("_ga", "analytics", True),
    ("_ga", "analytics", True),
    ("_ga", "analytics", False),
    ("_fbp", "marketing", True),
    ("session", "necessary", False),
    ("session", "necessary", False),
    ("_hjSessionUser_42", "UNDECLARED", True),
)
"""Cookie sightings: name, category, whether it was blocked."""

TABLES = ("consent_schema_version", "consent_notices", "consent_chain", "consent_cookies")
"""The tables dumped before the events, in this order, each by its primary key."""


def write_log(url: str, spool: Path) -> None:
    """Store the events and cookies with the release's own writer, then close it."""
    log = SqlConsentLog(url, spool_path=spool)

    async def run() -> None:
        await log.start()
        for decision in EVENTS:
            await log.record(decision, NOTICES[decision.notice_hash])
        for name, category, blocked in COOKIES:
            log.cookie_seen(name, category, blocked)
        await log.close()

    asyncio.run(run())
    if spool.exists() and spool.stat().st_size:
        raise RuntimeError(f"events were spooled instead of stored: {spool}")


def write_sqlite(out: Path, work: Path) -> Path:
    """``schema-N.sqlite``: the log the writer left, self-contained."""
    database = work / "log.db"
    write_log(f"sqlite:///{database}", work / "sqlite.spool")
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("VACUUM")
    finally:
        connection.close()
    target = out / f"schema-{SCHEMA_VERSION}.sqlite"
    shutil.copyfile(database, target)
    return target


@contextmanager
def captured_ddl() -> Iterator[list[str]]:
    """The CREATE and ALTER statements every engine runs meanwhile, in order."""
    statements: list[str] = []

    def capture(*arguments: Any) -> None:
        statement = str(arguments[2]).strip()
        if statement.split(None, 1)[0].upper() in ("CREATE", "ALTER"):
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", capture)


def sql_literal(value: Any) -> str:
    """A value as PostgreSQL reads it in an INSERT (times in UTC, as ``str`` writes them)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        value = str(value.astimezone(UTC))
    return "'" + str(value).replace("'", "''") + "'"


def dump_rows(url: str) -> list[str]:
    """An INSERT per stored row: the tables of :data:`TABLES`, then the events by ``seq``."""

    async def run() -> list[str]:
        engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
        lines: list[str] = []
        try:
            async with engine.connect() as connection:
                for table in (*TABLES, "consent_events"):
                    # The first column is each table's primary key.
                    result = await connection.execute(
                        text(f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608 (constants)
                    )
                    names = ", ".join(result.keys())
                    for row in result:
                        values = ", ".join(sql_literal(value) for value in row)
                        insert = f"INSERT INTO {table} ({names}) VALUES ({values});"  # noqa: S608 (a dump)
                        lines.append(insert)
        finally:
            await engine.dispose()
        return lines

    return asyncio.run(run())


def write_postgresql(out: Path, work: Path) -> Path:
    """``schema-N.postgresql.sql``: the release's DDL, then every row, on a real server."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian package postgresql)")
    # Its own directory, as in the tests: run as root, the server runs as another user.
    server = PostgresServer(bin_dir, Path(tempfile.mkdtemp(prefix="consent-pg-")))
    try:
        server.init()
        server.start()
        try:
            url = server.url(server.create_database())
            with captured_ddl() as ddl:
                write_log(url, work / "postgresql.spool")
            rows = dump_rows(url)
        finally:
            server.stop()
    finally:
        shutil.rmtree(server.root, ignore_errors=True)
    header = (
        f"-- A consent log at schema version {SCHEMA_VERSION}, as that release created and "
        "wrote it on\n-- PostgreSQL: its DDL, then every row. Statements end with ';' at "
        "the end of a line.\n"
    )
    target = out / f"schema-{SCHEMA_VERSION}.postgresql.sql"
    body = "\n".join(f"{statement};" for statement in ddl)
    target.write_text(f"{header}\n{body}\n\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return target


def main(out: Path) -> None:
    """Write both files into ``out``, named after the schema version of the code running."""
    work = Path(tempfile.mkdtemp(prefix="consent-old-log-"))
    try:
        for written in (write_sqlite(out, work), write_postgresql(out, work)):
            print(f"schema version {SCHEMA_VERSION}: {written}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
