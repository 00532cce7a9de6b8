"""How much disk the consent log takes per decision, on SQLite and on PostgreSQL.

Run by hand, from the repository root:

    .venv/bin/python bench/log_size.py                  # 20,000 events on each store
    .venv/bin/python bench/log_size.py --events 100000  # more
    .venv/bin/python bench/log_size.py --no-postgres    # SQLite only

The events are those of the example article site (``examples/article_site``: four
categories, four services): its real notices, one per language, are taken from a
decision made through ``ConsentMiddleware``; then ``--events`` decisions are made
up in a plausible mix (accept all 45 %, reject all 35 %, choices one by one 12 %,
withdrawals 5 %, GPC opt-outs 3 %; four languages, five places and their regimes;
a new consent id for most, no IP address, as by default) and written with the
log's own writer (``SqlConsentLog.record``, 64 at a time, so that group commit
makes batches as under load) into a new SQLite file and a new database on a
throw-away PostgreSQL server (``tests/log/postgres.py``).

The sizes are measured when half the events are written and at the end; the
growth between the two, divided by the events written in between, is the cost of
one more event once the log is started (bytes per event, and per million
decisions). SQLite: the file's pages by table and index (``dbstat``). PostgreSQL:
``pg_relation_size`` of each table and index, its TOAST included. ``--json FILE``
keeps every number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consent import ConsentMiddleware  # noqa: E402
from consent.cookie import new_consent_id  # noqa: E402
from consent.log import ConsentEvent, MemoryConsentLog, SqlConsentLog  # noqa: E402
from consent.log.database import create_log_engine  # noqa: E402
from examples.article_site.cookie_policy import build_consent_settings  # noqa: E402

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
CONCURRENT: Final = 64
"""Decisions in flight at once: group commit then writes batches of about this many."""
LOCALES: Final = ("en", "fr", "de", "nl")
PLACES: Final = (("FR", "opt-in"), ("DE", "opt-in"), ("GB", "opt-in"), ("US-CA", "opt-out"))
ACTIONS: Final = (("accept_all", 45), ("reject_all", 35), ("custom", 12), ("withdraw", 5))
"""The rest (3 %) are GPC opt-outs."""


@dataclass
class Size:
    """The bytes one store holds for the log, after some number of events."""

    events: int
    objects: dict[str, int]
    """Bytes by table or index."""

    @property
    def total(self) -> int:
        return sum(self.objects.values())


# --- the events -----------------------------------------------------------------------------


def site_notices() -> tuple[dict[str, tuple[str, Mapping[str, Any]]], dict[str, str]]:
    """The example site's notices by locale (hash, notice), and each service's category.

    Taken from real decisions through ConsentMiddleware, one per language.
    """
    settings = build_consent_settings(secret_key=SECRET, log_url=None)
    log = MemoryConsentLog()
    app = ConsentMiddleware(Starlette(), settings=settings, log=log)
    with TestClient(app, base_url="https://news.example") as client:
        for locale in LOCALES:
            client.cookies.clear()
            client.post(
                "/_consent",
                data={"action": "accept_all", "locale": locale},
                headers={"accept-language": locale},
                follow_redirects=False,
            )
    notices = {e.locale: (e.notice_hash, log.notices[e.notice_hash]) for e in log.events}
    return notices, dict(settings.service_categories)


class Decisions:
    """Made-up decisions in the example site's shape, in time order."""

    def __init__(self, notices: dict[str, tuple[str, Mapping[str, Any]]], services: dict[str, str]):
        self.notices = notices
        self.services = services
        self.categories = sorted(set(services.values()) | {"preferences"})
        self.random = random.Random(20261201)
        self.moment = datetime(2026, 1, 1, tzinfo=UTC)
        self.returning: list[str] = []

    def next(self) -> tuple[ConsentEvent, Mapping[str, Any]]:
        """One more decision, a few seconds after the last."""
        pick = self.random
        self.moment += timedelta(seconds=pick.uniform(0.5, 5))
        roll = pick.uniform(0, 100)
        action, threshold = "gpc", 0.0
        for name, share in ACTIONS:
            threshold += share
            if roll < threshold:
                action = name
                break
        if action in ("withdraw", "gpc") and self.returning:
            consent_id = pick.choice(self.returning)
        else:
            consent_id = new_consent_id()
            self.returning = [*self.returning[-999:], consent_id]
        if action == "accept_all":
            granted = set(self.categories)
        elif action == "custom":
            granted = set(pick.sample(self.categories, pick.randint(1, len(self.categories) - 1)))
        elif action == "gpc":
            granted = set(self.categories) - {"marketing"}
        else:
            granted = set()
        region, regime = pick.choice(PLACES)
        locale = pick.choice(LOCALES)
        notice_hash, notice = self.notices[locale]
        event = ConsentEvent(
            consent_id=consent_id,
            occurred_at=self.moment,
            action=action,  # type: ignore[arg-type]
            granted=tuple(sorted(granted | {"necessary"})),
            denied=tuple(sorted(set(self.categories) - granted)),
            revision=1,
            locale=locale,
            mechanism="gpc" if action == "gpc" else pick.choice(("banner", "preferences")),
            notice_hash=notice_hash,
            gpc=action == "gpc",
            regime=regime,  # type: ignore[arg-type]
            region=region,
            services=tuple(sorted(s for s, c in self.services.items() if c in granted)),
        )
        return event, notice


async def write(log: SqlConsentLog, decisions: Decisions, count: int) -> None:
    """Record ``count`` decisions, ``CONCURRENT`` at a time, as visitors' requests would."""
    written = 0
    while written < count:
        batch = [decisions.next() for _ in range(min(CONCURRENT, count - written))]
        await asyncio.gather(*(log.record(event, notice) for event, notice in batch))
        written += len(batch)


# --- the sizes ------------------------------------------------------------------------------


def sqlite_size(path: Path, events: int) -> Size:
    """The pages of every table and index of the SQLite file."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY name"
        ).fetchall()
    finally:
        connection.close()
    return Size(events, {str(name): int(size) for name, size in rows})


async def postgres_size(url: str, events: int) -> Size:
    """``pg_relation_size`` of every table and index of the log (TOAST counted with its table)."""
    engine = create_log_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT c.relname, pg_relation_size(c.oid)"
                        " + COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0)"
                        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')"
                        " ORDER BY c.relname"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    return Size(events, {str(name): int(size) for name, size in rows})


async def measure(
    url: str, spool: Path, count: int, notices: Any, services: dict[str, str]
) -> list[Size]:
    """Write ``count`` events in two halves; the store's size after each."""
    log = SqlConsentLog(url, spool_path=spool)
    decisions = Decisions(notices, services)
    sizes: list[Size] = []
    for events in (count // 2, count):
        await log.start()
        await write(log, decisions, events - (sizes[-1].events if sizes else 0))
        await log.close()
        if url.startswith("sqlite"):
            sizes.append(sqlite_size(Path(url.split(":///", 1)[1]), events))
        else:
            sizes.append(await postgres_size(url, events))
    return sizes


def stored_length(notice: Mapping[str, Any]) -> int:
    """The bytes of a notice as the log stores it (the text its hash is made from)."""
    return len(json.dumps(notice, sort_keys=True, ensure_ascii=False).encode("utf-8"))


# --- the report -----------------------------------------------------------------------------


def report(store: str, sizes: list[Size]) -> dict[str, Any]:
    """Print the store's sizes and the growth per event between the two measurements."""
    half, full = sizes
    added = full.events - half.events
    per_event = (full.total - half.total) / added
    print(f"\n{store}: {full.events:,} events, {full.total / 2**20:.1f} MiB")
    print(f"  {'table or index':<40} {'bytes':>12} {'per event':>10} {'growth/event':>13}")
    for name, size in sorted(full.objects.items(), key=lambda item: -item[1]):
        growth = (size - half.objects.get(name, 0)) / added
        print(f"  {name:<40} {size:>12,} {size / full.events:>10.1f} {growth:>13.1f}")
    print(f"  {'total':<40} {full.total:>12,} {full.total / full.events:>10.1f} {per_event:>13.1f}")
    per_million = per_event * 1_000_000 / 2**20
    print(f"  one more million decisions: {per_million:,.0f} MiB")
    return {
        "store": store,
        "sizes": [asdict(size) for size in sizes],
        "bytes_per_event": per_event,
        "mib_per_million": per_million,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    from tests.log.postgres import PostgresServer, postgres_bin_dir

    notices, services = site_notices()
    lengths = ", ".join(f"{locale} {stored_length(n)} B" for locale, (_, n) in notices.items())
    print(f"SQLite {sqlite3.sqlite_version}; the example site's {len(notices)} notices ({lengths})")
    work = Path(tempfile.mkdtemp(prefix="consent-log-size-"))
    results = []
    server: PostgresServer | None = None
    try:
        sqlite_url = f"sqlite:///{work / 'log.db'}"
        results.append(
            report(
                "SQLite",
                asyncio.run(
                    measure(sqlite_url, work / "sqlite.spool", options.events, notices, services)
                ),
            )
        )
        bin_dir = postgres_bin_dir()
        if not options.no_postgres and bin_dir is not None:
            server = PostgresServer(bin_dir, Path(tempfile.mkdtemp(prefix="consent-log-size-pg-")))
            server.init()
            server.start()
            url = server.url(server.create_database())
            sizes = asyncio.run(measure(url, work / "pg.spool", options.events, notices, services))
            results.append(report(f"PostgreSQL ({bin_dir.parent.name})", sizes))
    finally:
        if server is not None:
            server.stop("fast")
            shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    if options.json:
        options.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
