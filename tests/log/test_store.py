"""The durable log on real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from consent.log import SCHEMA_VERSION, SchemaError, SqlConsentLog, open_consent_log
from consent.log.spool import Spool
from tests.log.conftest import NOTICE, NOTICE_HASH, make_event
from tests.log.helpers import event_count, execute, query, verify


@pytest.fixture
def commits() -> Iterator[list[int]]:
    """Counts every COMMIT of every engine while the test runs."""
    counted: list[int] = []

    def count(_connection: Any) -> None:
        counted.append(1)

    event.listen(Engine, "commit", count)
    yield counted
    event.remove(Engine, "commit", count)


def test_concurrent_decisions_all_stored_and_chained(log_url: str, tmp_path: Path) -> None:
    log = SqlConsentLog(log_url, spool_path=tmp_path / "spool")

    async def run() -> None:
        await asyncio.gather(*(log.record(make_event(n), NOTICE) for n in range(300)))
        await log.close()

    asyncio.run(run())
    assert event_count(log_url) == 300
    assert query(
        log_url, "SELECT min(seq), max(seq), count(DISTINCT event_id) FROM consent_events"
    ) == [(1, 300, 300)]
    report = verify(log_url)
    assert (report.intact, report.checked, report.last_seq) == (True, 300, 300)
    assert not Spool(tmp_path / "spool").has_entries()


def test_group_commit_shares_transactions(log_url: str, tmp_path: Path, commits: list[int]) -> None:
    log = SqlConsentLog(log_url, spool_path=tmp_path / "spool")

    async def run() -> None:
        await log.start()
        commits.clear()
        await asyncio.gather(*(log.record(make_event(n), NOTICE) for n in range(200)))
        await log.close()

    asyncio.run(run())
    assert event_count(log_url) == 200
    # The first write takes one event; every other one waits and goes in the next batch.
    assert 1 <= len(commits) <= 3


def test_record_returns_only_once_committed(log_url: str, tmp_path: Path) -> None:
    log = SqlConsentLog(log_url, spool_path=tmp_path / "spool")

    async def run() -> int:
        await log.record(make_event(1), NOTICE)
        # Another connection sees it at once: it was committed before record returned.
        seen = await asyncio.to_thread(event_count, log_url)
        await log.close()
        return seen

    assert asyncio.run(run()) == 1


def test_event_fields_round_trip(log_url: str, tmp_path: Path) -> None:
    original = make_event(
        7,
        action="custom",
        granted=("analytics", "necessary"),
        denied=("marketing", "preferences"),
        revision=3,
        locale="pt-BR",
        mechanism="preferences",
        gpc=True,
        ip="203.0.113.0/24",
        regime="opt-out",
        region="US-CA",
        services=("hotjar", "youtube"),
    )
    log = open_consent_log(log_url, spool_path=tmp_path / "spool")

    async def run() -> None:
        await log.record(original, NOTICE)
        await log.close()

    asyncio.run(run())
    (row,) = query(
        log_url,
        "SELECT event_id, consent_id, action, granted, denied, revision, locale, mechanism, "
        "notice_hash, gpc, ip, prev_hash, regime, region, services FROM consent_events",
    )
    assert row[:9] == (
        original.event_id,
        "consent-7",
        "custom",
        '["analytics","necessary"]',
        '["marketing","preferences"]',
        3,
        "pt-BR",
        "preferences",
        NOTICE_HASH,
    )
    assert (bool(row[9]), row[10], row[11]) == (True, "203.0.113.0/24", "0" * 64)
    assert row[12:] == ("opt-out", "US-CA", '["hotjar","youtube"]')


def test_notice_is_stored_once_per_hash(log_url: str, tmp_path: Path) -> None:
    other = {"title": "Cookies, revised"}
    log = SqlConsentLog(log_url, spool_path=tmp_path / "spool")

    async def run() -> None:
        for n in range(3):
            await log.record(make_event(n), NOTICE)
        await log.record(make_event(9, notice_hash="cd" * 32), other)
        await log.close()

    asyncio.run(run())
    stored = dict(query(log_url, "SELECT notice_hash, notice FROM consent_notices"))
    assert {h: json.loads(n) for h, n in stored.items()} == {NOTICE_HASH: NOTICE, "cd" * 32: other}


def test_schema_is_versioned_and_start_is_idempotent(log_url: str, tmp_path: Path) -> None:
    async def run() -> None:
        for _ in range(2):
            log = SqlConsentLog(log_url, spool_path=tmp_path / "spool")
            await log.start()
            await log.start()
            await log.close()

    asyncio.run(run())
    # Each step once, up to this release's version.
    assert query(log_url, "SELECT version FROM consent_schema_version ORDER BY version") == [
        (version,) for version in range(1, SCHEMA_VERSION + 1)
    ]
    assert SCHEMA_VERSION == 3
    assert query(log_url, "SELECT head_seq, anchor_seq FROM consent_chain") == [(0, 0)]


def test_a_newer_schema_is_refused(log_url: str, tmp_path: Path) -> None:
    async def create() -> None:
        log = SqlConsentLog(log_url, spool_path=tmp_path / "spool")
        await log.start()
        await log.close()

    asyncio.run(create())
    execute(
        log_url,
        "INSERT INTO consent_schema_version (version, applied_at) "
        "VALUES (:version, CURRENT_TIMESTAMP)",
        version=SCHEMA_VERSION + 1,
    )

    async def start_again() -> None:
        await SqlConsentLog(log_url, spool_path=tmp_path / "spool").start()

    with pytest.raises(SchemaError, match="newer than this release"):
        asyncio.run(start_again())

    async def decide() -> None:
        log = SqlConsentLog(log_url, spool_path=tmp_path / "spool")
        await log.record(make_event(1), NOTICE)
        await log.close()

    # The visitor's decision is not lost while the operator upgrades: it waits in the spool.
    asyncio.run(decide())
    assert Spool(tmp_path / "spool").has_entries()


def test_cookie_counts_are_flushed_in_one_write(
    log_url: str, tmp_path: Path, commits: list[int]
) -> None:
    log = SqlConsentLog(log_url, spool_path=tmp_path / "spool")

    async def run() -> None:
        await log.start()
        commits.clear()
        for _ in range(500):
            log.cookie_seen("_ga", "analytics", True)
            log.cookie_seen("session", "necessary", False)
        log.cookie_seen("tracker_x", "UNDECLARED", True)
        assert commits == []
        await log.close()

    asyncio.run(run())
    assert len(commits) == 1
    rows = query(log_url, "SELECT name, category, seen, blocked FROM consent_cookies ORDER BY name")
    assert rows == [
        ("_ga", "analytics", 500, 500),
        ("session", "necessary", 500, 0),
        ("tracker_x", "UNDECLARED", 1, 1),
    ]


def test_cookie_counts_add_up_across_flushes(log_url: str, tmp_path: Path) -> None:
    async def run() -> None:
        for blocked in (True, False):
            log = SqlConsentLog(log_url, spool_path=tmp_path / "spool")
            log.cookie_seen("_ga", "analytics", blocked)
            await log.close()

    asyncio.run(run())
    rows = query(log_url, "SELECT seen, blocked, first_seen <= last_seen FROM consent_cookies")
    assert [(seen, blocked, bool(ordered)) for seen, blocked, ordered in rows] == [(2, 1, True)]


def test_cookie_flush_is_triggered_when_due(log_url: str, tmp_path: Path) -> None:
    log = SqlConsentLog(log_url, spool_path=tmp_path / "spool", inventory_interval=0.05)

    async def run() -> list[tuple[Any, ...]]:
        await log.start()
        log.cookie_seen("_ga", "analytics", True)
        await asyncio.sleep(0.1)
        log.cookie_seen("_ga", "analytics", True)  # due: schedules a flush on this loop
        for _ in range(100):
            await asyncio.sleep(0.02)
            rows = await asyncio.to_thread(query, log_url, "SELECT seen FROM consent_cookies")
            if rows:
                break
        await log.close()
        return rows

    assert asyncio.run(run()) == [(2,)]


def test_cookie_names_from_visitors_are_bounded(tmp_path: Path, sqlite_url: str) -> None:
    log = SqlConsentLog(sqlite_url, spool_path=tmp_path / "spool")
    for n in range(5000):
        log.cookie_seen(f"random{n}", "UNDECLARED", True)
    log.cookie_seen("x" * 1000, "UNDECLARED", True)

    async def run() -> None:
        await log.close()

    asyncio.run(run())
    assert query(sqlite_url, "SELECT count(*), max(length(name)) FROM consent_cookies") == [
        (1024, 10)
    ]


# --- the spool ---------------------------------------------------------------------------


def test_unreachable_store_spools_and_replay_stores_once(tmp_path: Path, log_url: str) -> None:
    spool_path = tmp_path / "spool"
    dead = SqlConsentLog(
        "postgresql://postgres@127.0.0.1:1/nothing", spool_path=spool_path, write_timeout=1
    )

    async def during_outage() -> None:
        await asyncio.gather(*(dead.record(make_event(n), NOTICE) for n in range(50)))
        await dead.close()

    started = time.monotonic()
    asyncio.run(during_outage())
    assert time.monotonic() - started < 5
    assert Spool(spool_path).has_entries()

    async def back() -> None:
        log = SqlConsentLog(log_url, spool_path=spool_path)
        await log.start()
        await log.start()
        await log.close()

    asyncio.run(back())
    assert event_count(log_url) == 50
    assert verify(log_url).intact
    assert not Spool(spool_path).has_entries()
    assert not Spool(spool_path).has_claims()


def test_replay_skips_events_that_did_commit(tmp_path: Path, log_url: str) -> None:
    spool_path = tmp_path / "spool"
    events = [make_event(n) for n in range(10)]
    # The first five were spooled after a timeout, but their transaction did commit.
    Spool(spool_path).append([(e, NOTICE) for e in events])

    async def first_five_committed() -> None:
        writer = SqlConsentLog(log_url, spool_path=tmp_path / "other-spool")
        await asyncio.gather(*(writer.record(e, NOTICE) for e in events[:5]))
        await writer.close()

    async def replay() -> None:
        log = SqlConsentLog(log_url, spool_path=spool_path)
        await log.start()
        await log.close()

    asyncio.run(first_five_committed())
    asyncio.run(replay())
    assert event_count(log_url) == 10
    assert query(log_url, "SELECT count(DISTINCT event_id) FROM consent_events") == [(10,)]
    assert verify(log_url).intact


def test_next_write_replays_the_spool_first(tmp_path: Path, log_url: str) -> None:
    spool_path = tmp_path / "spool"
    spooled = [make_event(n) for n in range(3)]
    Spool(spool_path).append([(e, NOTICE) for e in spooled])
    log = SqlConsentLog(log_url, spool_path=spool_path)

    async def run() -> None:
        await log.record(make_event(99), NOTICE)
        await log.close()

    asyncio.run(run())
    ordered = [
        row[0] for row in query(log_url, "SELECT consent_id FROM consent_events ORDER BY seq")
    ]
    assert ordered == ["consent-0", "consent-1", "consent-2", "consent-99"]


def test_slow_store_times_out_to_the_spool(tmp_path: Path) -> None:
    database = tmp_path / "log.db"
    url = f"sqlite:///{database}"
    spool_path = tmp_path / "spool"
    log = SqlConsentLog(url, spool_path=spool_path, write_timeout=0.3, retry_interval=0.1)

    async def run() -> float:
        await log.start()
        # Another process holds the write lock: the store is "slow".
        blocker = sqlite3.connect(database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        await asyncio.gather(*(log.record(make_event(n), NOTICE) for n in range(5)))
        waited = time.monotonic() - started
        assert Spool(spool_path).has_entries()
        blocker.execute("ROLLBACK")
        blocker.close()
        await asyncio.sleep(0.2)
        await log.record(make_event(5), NOTICE)
        await log.close()
        return waited

    waited = asyncio.run(run())
    assert waited < 2
    assert event_count(url) == 6
    assert verify(url).intact


def test_torn_last_spool_line_is_skipped(tmp_path: Path, sqlite_url: str) -> None:
    spool_path = tmp_path / "spool"
    Spool(spool_path).append([(make_event(1), NOTICE)])
    with spool_path.open("ab") as spool_file:
        spool_file.write(b'{"event_id": "cut sho')  # a write killed before its fsync
    log = SqlConsentLog(sqlite_url, spool_path=spool_path)

    async def run() -> None:
        await log.start()
        await log.close()

    asyncio.run(run())
    assert event_count(sqlite_url) == 1


def test_default_spool_path_is_beside_the_sqlite_file(tmp_path: Path) -> None:
    log = open_consent_log(f"sqlite:///{tmp_path / 'data' / 'consent.db'}")
    assert log.spool.path == tmp_path / "data" / "consent.db.spool"
    remote = open_consent_log("postgresql://app@db.internal/consent")
    assert remote.spool.path == Path.cwd() / "consent-log.spool"


def test_record_works_across_event_loops(sqlite_url: str, tmp_path: Path) -> None:
    log = SqlConsentLog(sqlite_url, spool_path=tmp_path / "spool")
    for n in range(3):
        asyncio.run(log.record(make_event(n), NOTICE))
    asyncio.run(log.close())
    assert event_count(sqlite_url) == 3
    assert verify(sqlite_url).intact
