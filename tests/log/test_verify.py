"""``verify`` finds every kind of tampering and names the first bad event; purge keeps the chain."""

# The tampering below is SQL built from constants of this file, as a forger would write it.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consent.log import REGIMES, PurgeResult, SqlConsentLog, purge
from consent.log.chain import GENESIS_HASH, canonical_event, chain_hash
from tests.log.conftest import NOTICE, make_event
from tests.log.helpers import event_count, execute, query, verify

DAY0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
SERVICES = {2: ("youtube",), 3: ("hotjar", "youtube")}
"""The services of the events of :func:`fill` that allow some, by seq."""


def fill(url: str, tmp_path: Path, count: int = 10) -> list[str]:
    """A log of ``count`` events, one a day from DAY0; returns their event ids by seq.

    Their regimes and regions go round, so that every combination is in the chain:
    seq 1 opt-in and no region (hashed as before regimes), 2 opt-out in FR, 3 none,
    4 opt-in in FR, 5 opt-out, 6 none in FR... Seq 2 allows the service youtube, seq 3
    hotjar and youtube (:data:`SERVICES`), the others none.
    """
    log = SqlConsentLog(url, spool_path=tmp_path / "spool")
    events = [
        make_event(
            n,
            occurred_at=DAY0 + timedelta(days=n),
            regime=REGIMES[n % 3],
            region=(None, "FR")[n % 2],
            services=SERVICES.get(n + 1, ()),
        )
        for n in range(count)
    ]

    async def run() -> None:
        for stored in events:
            await log.record(stored, NOTICE)
        await log.close()

    asyncio.run(run())
    return [e.event_id for e in events]


def row_hash(url: str, seq: int) -> str:
    return str(query(url, f"SELECT hash FROM consent_events WHERE seq = {seq}")[0][0])


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_an_untouched_log_verifies(log_url: str, tmp_path: Path, workers: int) -> None:
    fill(log_url, tmp_path)
    report = verify(log_url, workers=workers)
    assert report.intact
    assert (report.checked, report.last_seq) == (10, 10)
    assert report.last_hash == row_hash(log_url, 10)


def test_an_empty_log_verifies(log_url: str, tmp_path: Path) -> None:
    fill(log_url, tmp_path, count=0)
    report = verify(log_url)
    assert (report.intact, report.checked, report.last_hash) == (True, 0, GENESIS_HASH)


def _forged_row(url: str, seq: int, prev_hash: str) -> str:
    """An INSERT of a well-formed event at ``seq``, hashed the way the writer hashes."""
    moment = datetime(2026, 1, 5, tzinfo=UTC)
    canonical = canonical_event(
        seq,
        "f" * 32,
        "forger",
        moment,
        "accept_all",
        "[]",
        "[]",
        1,
        "en",
        "banner",
        "ab" * 32,
        False,
        None,
        "opt-in",
        None,
        "[]",
    )
    stored_time = (
        "2026-01-05 00:00:00.000000" if url.startswith("sqlite") else "2026-01-05T00:00:00Z"
    )
    return (
        "INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, "
        "denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash) VALUES "
        f"({seq}, '{'f' * 32}', 'forger', '{stored_time}', 'accept_all', '[]', '[]', 1, 'en', "
        f"'banner', '{'ab' * 32}', false, NULL, '{prev_hash}', "
        f"'{chain_hash(prev_hash, canonical)}')"
    )


TAMPERINGS: list[tuple[str, Callable[[str], list[str]], int, str]] = [
    (
        "edit a field",
        lambda url: ["UPDATE consent_events SET action = 'reject_all' WHERE seq = 4"],
        4,
        "edited",
    ),
    (
        "edit the granted categories",
        lambda url: ["UPDATE consent_events SET granted = '[\"necessary\"]' WHERE seq = 6"],
        6,
        "edited",
    ),
    (
        "edit a number (into text, on SQLite)",
        lambda url: [
            "UPDATE consent_events SET revision = "
            + ("'two'" if url.startswith("sqlite") else "2")
            + " WHERE seq = 4"
        ],
        4,
        "edited",
    ),
    (
        "edit a number into a fraction (on SQLite)",
        lambda url: [
            "UPDATE consent_events SET revision = "
            + ("1.25" if url.startswith("sqlite") else "2")
            + " WHERE seq = 4"
        ],
        4,
        "edited",
    ),
    (
        "edit a regime",
        lambda url: ["UPDATE consent_events SET regime = 'opt-out' WHERE seq = 4"],
        4,
        "edited",
    ),
    (
        "edit a regime to the one of earlier events",
        lambda url: ["UPDATE consent_events SET regime = 'opt-in' WHERE seq = 5"],
        5,
        "edited",
    ),
    (
        "give a regime to an event hashed as before regimes",
        lambda url: ["UPDATE consent_events SET regime = 'none' WHERE seq = 7"],
        7,
        "edited",
    ),
    (
        "edit a region",
        lambda url: ["UPDATE consent_events SET region = 'DE' WHERE seq = 2"],
        2,
        "edited",
    ),
    (
        "remove a region",
        lambda url: ["UPDATE consent_events SET region = NULL WHERE seq = 4"],
        4,
        "edited",
    ),
    (
        "add a region",
        lambda url: ["UPDATE consent_events SET region = 'US-CA' WHERE seq = 1"],
        1,
        "edited",
    ),
    (
        "edit the services",
        lambda url: ["""UPDATE consent_events SET services = '["hotjar"]' WHERE seq = 2"""],
        2,
        "edited",
    ),
    (
        "reorder the services",
        lambda url: [
            """UPDATE consent_events SET services = '["youtube","hotjar"]' WHERE seq = 3"""
        ],
        3,
        "edited",
    ),
    (
        "remove the services",
        lambda url: ["UPDATE consent_events SET services = '[]' WHERE seq = 3"],
        3,
        "edited",
    ),
    (
        "give services to an event hashed as before regimes",
        lambda url: ["""UPDATE consent_events SET services = '["youtube"]' WHERE seq = 7"""],
        7,
        "edited",
    ),
    ("delete a row", lambda url: ["DELETE FROM consent_events WHERE seq = 5"], 6, "deleted"),
    (
        "delete the last rows",
        lambda url: ["DELETE FROM consent_events WHERE seq >= 9"],
        9,
        "deleted",
    ),
    (
        "swap two rows' seq",
        lambda url: [
            "UPDATE consent_events SET seq = 1000 WHERE seq = 3",
            "UPDATE consent_events SET seq = 3 WHERE seq = 7",
            "UPDATE consent_events SET seq = 7 WHERE seq = 1000",
        ],
        3,
        "moved",
    ),
    (
        "edit a hash",
        lambda url: [f"UPDATE consent_events SET hash = '{'0' * 64}' WHERE seq = 8"],
        8,
        "edited",
    ),
    (
        "edit a hash and the next link",
        lambda url: [
            f"UPDATE consent_events SET hash = '{'1' * 64}' WHERE seq = 2",
            f"UPDATE consent_events SET prev_hash = '{'1' * 64}' WHERE seq = 3",
        ],
        2,
        "edited",
    ),
    (
        "edit a link",
        lambda url: [f"UPDATE consent_events SET prev_hash = '{'2' * 64}' WHERE seq = 5"],
        5,
        "edited",
    ),
    (
        "insert a forged row at the end",
        lambda url: [_forged_row(url, 11, row_hash(url, 10))],
        11,
        "inserted",
    ),
    (
        "insert a forged row in place of a deleted one",
        lambda url: [
            "DELETE FROM consent_events WHERE seq = 4",
            _forged_row(url, 4, row_hash(url, 3)),
        ],
        5,
        "broken link",
    ),
]


@pytest.mark.parametrize(
    ("tampering", "first_bad_seq", "reason"),
    [(make, seq, reason) for _, make, seq, reason in TAMPERINGS],
    ids=[name for name, *_ in TAMPERINGS],
)
@pytest.mark.parametrize("workers", [1, 3], ids=["one-stretch", "three-stretches"])
def test_tampering_is_found_and_the_first_bad_event_named(
    log_url: str,
    tmp_path: Path,
    tampering: Callable[[str], list[str]],
    first_bad_seq: int,
    reason: str,
    workers: int,
) -> None:
    event_ids = fill(log_url, tmp_path)
    execute(log_url, *tampering(log_url))
    report = verify(log_url, workers=workers)
    assert report.problem is not None
    assert report.problem.seq == first_bad_seq
    assert reason in report.problem.reason
    if report.problem.event_id is not None:
        assert report.problem.event_id in (*event_ids, "f" * 32)
    else:
        assert reason == "deleted"  # only events missing at the end have no id to name
    if reason != "deleted":
        assert report.last_seq == first_bad_seq - 1


def test_purge_keeps_the_rest_verifiable(log_url: str, tmp_path: Path) -> None:
    event_ids = fill(log_url, tmp_path)

    result = asyncio.run(purge(log_url, DAY0 + timedelta(days=4)))
    assert (result.deleted, result.anchor_seq) == (4, 4)
    assert event_count(log_url) == 6
    report = verify(log_url)
    assert (report.intact, report.checked, report.last_seq) == (True, 6, 10)
    # And tampering after the purge is still found.
    execute(log_url, "DELETE FROM consent_events WHERE seq = 5")
    problem = verify(log_url).problem
    assert problem is not None
    assert (problem.seq, problem.event_id) == (6, event_ids[5])


def test_purge_twice_and_purge_everything(log_url: str, tmp_path: Path) -> None:
    fill(log_url, tmp_path)

    def purged(before: datetime) -> PurgeResult:
        return asyncio.run(purge(log_url, before))

    assert purged(DAY0 + timedelta(days=2)).deleted == 2
    assert purged(DAY0 + timedelta(days=1)).deleted == 0
    assert purged(DAY0 + timedelta(days=100)).deleted == 8
    assert verify(log_url).intact
    # The chain goes on from the anchor.
    fill(log_url, tmp_path, count=2)
    report = verify(log_url)
    assert (report.intact, report.checked, report.last_seq) == (True, 2, 12)


def test_deleting_the_first_events_without_purge_is_found(log_url: str, tmp_path: Path) -> None:
    fill(log_url, tmp_path)
    execute(log_url, "DELETE FROM consent_events WHERE seq <= 2")
    problem = verify(log_url).problem
    assert problem is not None
    assert problem.seq == 3
    assert "seq 1–2" in problem.reason


@pytest.mark.parametrize(
    ("edit", "seq", "moved"),
    [
        # seq 5 is opt-out with no ip, no region and no services: its text ends
        # "\x00\x00opt-out". The same text, with regime opt-in (left out of it) and
        # an ip of "\x00opt-out", matches the stored hash.
        (
            "UPDATE consent_events SET ip = char(0) || 'opt-out', regime = 'opt-in' WHERE seq = 5",
            5,
            "\x00opt-out",
        ),
        # seq 3 has no region and two services: its text ends
        # '\x00none\x00\x00["hotjar","youtube"]'; so does the text with no services
        # (left out of it) and the services moved into the region.
        (
            "UPDATE consent_events SET region = char(0) || services, services = '[]' WHERE seq = 3",
            3,
            '\x00["hotjar","youtube"]',
        ),
    ],
    ids=["regime-into-ip", "services-into-region"],
)
def test_a_later_field_moved_into_the_field_before_it_is_found(
    sqlite_url: str, tmp_path: Path, edit: str, seq: int, moved: str
) -> None:
    # Only the count of separators tells the forged text from the one that was hashed.
    event_ids = fill(sqlite_url, tmp_path)
    execute(sqlite_url, edit)
    row = query(sqlite_url, f"SELECT ip, region FROM consent_events WHERE seq = {seq}")[0]
    assert moved in row
    for workers in (1, 3):
        problem = verify(sqlite_url, workers=workers).problem
        assert problem is not None
        assert (problem.seq, problem.event_id) == (seq, event_ids[seq - 1])
        assert problem.reason == "a field holds a NUL character: forged"
