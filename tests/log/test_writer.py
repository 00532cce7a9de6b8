"""The log interface the middleware uses, and the in-memory log."""

from __future__ import annotations

import asyncio

from consent.log import ConsentLog, MemoryConsentLog, SqlConsentLog
from tests.log.conftest import NOTICE, make_event


def test_both_logs_implement_the_interface(sqlite_url: str) -> None:
    logs: list[ConsentLog] = [MemoryConsentLog(), SqlConsentLog(sqlite_url)]
    for log in logs:
        assert callable(log.start)
        assert callable(log.cookie_seen)


def test_memory_log_keeps_events_notices_and_cookie_counts() -> None:
    log = MemoryConsentLog()

    async def run() -> None:
        await log.start()
        await log.record(make_event(1), NOTICE)
        await log.record(make_event(2), NOTICE)
        await log.close()

    asyncio.run(run())
    log.cookie_seen("_ga", "analytics", True)
    log.cookie_seen("_ga", "analytics", False)
    log.cookie_seen("x", "UNDECLARED", True)
    assert [e.consent_id for e in log.events] == ["consent-1", "consent-2"]
    assert log.notices == {make_event().notice_hash: NOTICE}
    assert {n: (c.category, c.seen, c.blocked) for n, c in log.cookies.items()} == {
        "_ga": ("analytics", 2, 1),
        "x": ("UNDECLARED", 1, 1),
    }
    assert (log.started, log.closed) == (True, True)


def test_each_event_has_its_own_id() -> None:
    first, second = make_event(1), make_event(1)
    assert len(first.event_id) == 32
    assert first.event_id != second.event_id
