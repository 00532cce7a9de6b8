"""Decisions over HTTP through real uvicorn processes: none lost, none doubled, chain intact."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from tests.log.helpers import event_count, verify
from tests.log.postgres import PostgresServer
from tests.log.server import Uvicorn, send_decisions

pytestmark = pytest.mark.slow


def test_concurrent_decisions_give_exactly_one_event_each(log_url: str, tmp_path: Path) -> None:
    server = Uvicorn(log_url, tmp_path / "spool")
    try:
        statuses = asyncio.run(send_decisions(server.url, 300, concurrency=48))
    finally:
        server.stop()
    assert statuses == [303] * 300
    assert event_count(log_url) == 300
    report = verify(log_url)
    assert (report.intact, report.checked) == (True, 300)


@pytest.mark.postgres
def test_two_servers_write_one_postgres_log(postgres_url: str, tmp_path: Path) -> None:
    first = Uvicorn(postgres_url, tmp_path / "spool-1")
    second = Uvicorn(postgres_url, tmp_path / "spool-2")

    async def both() -> list[list[int]]:
        return list(
            await asyncio.gather(
                send_decisions(first.url, 250, concurrency=32),
                send_decisions(second.url, 250, concurrency=32),
            )
        )

    try:
        statuses = asyncio.run(both())
    finally:
        first.stop()
        second.stop()
    assert statuses == [[303] * 250, [303] * 250]
    assert event_count(postgres_url) == 500
    report = verify(postgres_url)
    assert (report.intact, report.checked, report.last_seq) == (True, 500, 500)


def test_kill_9_right_after_the_last_answer_loses_nothing(log_url: str, tmp_path: Path) -> None:
    server = Uvicorn(log_url, tmp_path / "spool")
    try:
        statuses = asyncio.run(send_decisions(server.url, 200, concurrency=48))
    finally:
        server.kill()
    assert statuses == [303] * 200
    assert event_count(log_url) == 200
    assert verify(log_url).intact


@pytest.mark.postgres
def test_postgres_stopped_mid_load_then_restarted_loses_nothing(
    postgres_server: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    server = Uvicorn(postgres_url, spool, TEST_WRITE_TIMEOUT="1", TEST_RETRY_INTERVAL="0.2")
    stopped = threading.Event()

    def outage() -> None:
        time.sleep(0.5)
        postgres_server.stop("fast")
        stopped.set()
        time.sleep(1.5)
        postgres_server.start()

    async def load() -> list[int]:
        statuses: list[int] = []
        # Decisions keep coming before, during and after the outage.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline or not stopped.is_set():
            statuses += await send_decisions(server.url, 40, concurrency=16)
        return statuses

    interruption = threading.Thread(target=outage)
    interruption.start()
    try:
        statuses = asyncio.run(load())
    finally:
        interruption.join()
        # No clean shutdown: what was spooled and not yet replayed must survive kill -9.
        server.kill()
    assert set(statuses) == {303}
    # The outage did happen while decisions came: some waited in the spool.
    assert "store unavailable" in server.stderr()

    restarted = Uvicorn(postgres_url, spool)  # its start() replays what is left
    restarted.stop()
    assert event_count(postgres_url) == len(statuses)
    report = verify(postgres_url)
    assert (report.intact, report.checked) == (True, len(statuses))
    assert not any(spool.parent.glob("spool.replay-*"))
