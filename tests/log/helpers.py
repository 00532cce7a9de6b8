"""Reading a log back in tests, the way the CLI does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import text

from consent.log import ChainReport, verify_log
from consent.log.database import create_log_engine


def verify(url: str, *, workers: int = 1) -> ChainReport:
    """The chain report of the log at ``url``, checked in ``workers`` stretches."""
    _, report = verify_log(url, lambda _done: None, workers=workers, events_per_worker=1)
    return report


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of a SQL query on the log at ``url``."""

    async def run() -> list[tuple[Any, ...]]:
        engine = create_log_engine(url, writes=False)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text(sql), params)
                return [tuple(row) for row in result]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def execute(url: str, *statements: str, **params: Any) -> None:
    """Run statements in one committed transaction (to tamper with a log, for instance)."""

    async def run() -> None:
        engine = create_log_engine(url)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.execute(text(statement), params)
        finally:
            await engine.dispose()

    asyncio.run(run())


def event_count(url: str) -> int:
    """How many events the log holds."""
    return int(query(url, "SELECT count(*) FROM consent_events")[0][0])


def run_sql_file(url: str, path: Path) -> None:
    """Run a file of SQL statements (each ending with ``;`` at the end of a line) in one
    committed transaction; ``--`` lines are comments."""
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("--")
    ]
    statements = [s.strip() for s in "\n".join(lines).split(";\n") if s.strip()]

    async def run() -> None:
        engine = create_log_engine(url)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.exec_driver_sql(statement.removesuffix(";"))
        finally:
            await engine.dispose()

    asyncio.run(run())
