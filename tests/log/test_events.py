"""One definition of a logged event: every path that hashes an event gives the same digest.

The paths: the canonical text written out by hand from the event's values; the
writer's stored row; a spool line and back; the rows on SQLite (the writer's raw
INSERT, and SQLAlchemy's, which PostgreSQL uses) read back by the verifier (its
bytes path and its text path); and the same on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, insert

from consent.log import (
    ACTIONS,
    MECHANISMS,
    REGIMES,
    ConsentEvent,
    Regime,
    is_region_code,
    is_service_key,
    verify_log,
)
from consent.log.chain import GENESIS_HASH, ChainChecker, canonical_event, chain_hash
from consent.log.database import create_log_engine, create_sqlite_writer_engine
from consent.log.events import HASHED_FIELDS
from consent.log.queries import read_chain_state, verified_rows_sql
from consent.log.schema import events as events_table
from consent.log.schema import upgrade_schema
from consent.log.spool import entry_line, parse_entry_line
from consent.log.statements import append_events, event_row
from tests.log.conftest import NOTICE
from tests.log.postgres import PostgresServer

# Text the writer may store: anything but NUL (which PostgreSQL refuses in text) and
# lone surrogates (which no UTF-8 database holds).
_TEXT = st.characters(codec="utf-8", exclude_characters="\x00")


def _text(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    return st.text(_TEXT, min_size=min_size, max_size=max_size)


_KEYS = st.lists(_text(24, min_size=1), max_size=5, unique=True).map(
    lambda keys: tuple(sorted(keys))
)
_SERVICE_KEYS = st.lists(
    st.from_regex(r"[a-z][a-z0-9_-]{0,47}", fullmatch=True), max_size=4, unique=True
).map(lambda keys: tuple(sorted(keys)))
_OFFSETS = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)).map(
    lambda offset: timezone(timedelta(minutes=offset // timedelta(minutes=1)))
)

events = st.builds(
    ConsentEvent,
    consent_id=_text(64),
    occurred_at=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=_OFFSETS
    ),
    action=st.sampled_from(ACTIONS),
    granted=_KEYS,
    denied=_KEYS,
    revision=st.integers(-(2**31), 2**31 - 1),
    locale=_text(35),
    mechanism=st.sampled_from(MECHANISMS),
    notice_hash=_text(64),
    gpc=st.booleans(),
    ip=st.none() | _text(64),
    regime=st.sampled_from(REGIMES),
    region=st.none() | st.from_regex(r"[A-Z]{2}(-[A-Z0-9]{1,3})?", fullmatch=True),
    services=_SERVICE_KEYS,
    event_id=st.uuids().map(lambda value: value.hex),
)


def by_hand(event: ConsentEvent, seq: int, prev_hash: str) -> str:
    """The hash, from the canonical form as the module docstring of chain.py states it."""
    keys = [json.dumps(list(keys), separators=(",", ":")) for keys in (event.granted, event.denied)]
    services = json.dumps(list(event.services), separators=(",", ":"))
    moment = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    texts = [
        str(seq),
        event.event_id,
        event.consent_id,
        moment,
        event.action,
        *keys,
        str(event.revision),
        event.locale,
        event.mechanism,
        event.notice_hash,
        "1" if event.gpc else "0",
        event.ip or "",
    ]
    # Then regime, region and services, less those at the end that hold their defaults.
    later = [event.regime, event.region or "", services]
    while later and later[-1] == ("opt-in", "", "[]")[len(later) - 1]:
        later.pop()
    canonical = "\x00".join([*texts, *later])
    assert canonical == canonical_event(
        seq,
        event.event_id,
        event.consent_id,
        event.occurred_at,
        event.action,
        *keys,
        event.revision,
        event.locale,
        event.mechanism,
        event.notice_hash,
        event.gpc,
        event.ip,
        event.regime,
        event.region,
        services,
    )
    return chain_hash(prev_hash, canonical)


def chained(stored: Sequence[ConsentEvent], seq: int, prev_hash: str) -> list[str]:
    """The hashes of events appended after event ``seq`` whose hash is ``prev_hash``."""
    hashes = []
    for offset, event in enumerate(stored, start=1):
        prev_hash = by_hand(event, seq + offset, prev_hash)
        hashes.append(prev_hash)
    return hashes


def _insert_with_sqlalchemy(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """The rows bound by SQLAlchemy's own types: what the writer's raw INSERT must match."""
    connection.execute(insert(events_table), rows)
    hashes = (rows[-1]["seq"], rows[-1]["hash"])
    connection.exec_driver_sql("UPDATE consent_chain SET head_seq = ?, head_hash = ?", hashes)


def _verified_rows(database: Path) -> list[Any]:
    """The verifier's rows, text decoded (what its text path hashes)."""
    connection = sqlite3.connect(database)
    try:
        return connection.execute(verified_rows_sql("sqlite"), (0, 1 << 62)).fetchall()
    finally:
        connection.close()


@settings(max_examples=60, deadline=None)
@given(st.lists(events, min_size=1, max_size=6))
def test_every_path_gives_the_same_hash(stored: list[ConsentEvent]) -> None:
    expected = chained(stored, 0, GENESIS_HASH)
    prev_hash = GENESIS_HASH
    rows = []
    for seq, (event, expected_hash) in enumerate(zip(stored, expected, strict=True), start=1):
        row = event_row(event, seq, prev_hash)
        assert row["hash"] == expected_hash
        respooled, _notice = parse_entry_line(entry_line(event, NOTICE))
        assert respooled == event
        assert event_row(respooled, seq, prev_hash)["hash"] == expected_hash
        rows.append(row)
        prev_hash = row["hash"]
    with tempfile.TemporaryDirectory() as directory:
        for name, write in (
            ("raw", lambda c: append_events(c, [(e, NOTICE) for e in stored], skip_stored=False)),
            ("sqlalchemy", lambda c: _insert_with_sqlalchemy(c, rows)),
        ):
            database = Path(directory) / f"{name}.db"
            engine = create_sqlite_writer_engine(f"sqlite:///{database}", busy_timeout=5)
            with engine.begin() as connection:
                upgrade_schema(connection)
                write(connection)
            engine.dispose()
            _, report = verify_log(f"sqlite:///{database}", lambda _done: None, workers=1)
            assert (report.intact, report.checked, report.last_hash) == (
                True,
                len(stored),
                expected[-1],
            ), name
            checker = ChainChecker(after_seq=0, after_hash=GENESIS_HASH, up_to_seq=len(stored))
            assert checker.feed(_verified_rows(database)), checker.problem
            assert [r[-1] for r in _verified_rows(database)] == expected


@pytest.fixture(scope="module")
def postgres_log(postgres_server: PostgresServer) -> str:
    """One PostgreSQL log for every example: each appends to the chain and verifies it all."""
    return postgres_server.url(postgres_server.create_database())


def _append_on_postgresql(url: str, stored: list[ConsentEvent]) -> tuple[int, str]:
    """Append with the writer's statements; the head the events were chained after."""

    async def run() -> tuple[int, str]:
        engine = create_log_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(upgrade_schema)
                head = await connection.run_sync(read_chain_state)
                entries = [(event, NOTICE) for event in stored]
                await connection.run_sync(append_events, entries, skip_stored=False)
        finally:
            await engine.dispose()
        return head.head_seq, head.head_hash

    return asyncio.run(run())


@pytest.mark.postgres
@settings(max_examples=25, deadline=None)
@given(generated=st.lists(events, min_size=1, max_size=6))
def test_postgresql_stores_and_verifies_the_same_hash(
    postgres_log: str, generated: list[ConsentEvent]
) -> None:
    # Ids unique across the examples, which all append to one log.
    stored = [dataclasses.replace(event, event_id=uuid.uuid4().hex) for event in generated]
    seq, prev_hash = _append_on_postgresql(postgres_log, stored)
    expected = chained(stored, seq, prev_hash)
    _, report = verify_log(postgres_log, lambda _done: None, workers=1)
    assert (report.intact, report.last_seq, report.last_hash) == (
        True,
        seq + len(stored),
        expected[-1],
    )


# The hashes and spool lines that the previous release wrote for these two events: a log
# or spool from before must verify and read exactly as it did.
_EARLIER_EVENTS = (
    ConsentEvent(
        consent_id="0f3c9a7be41d4c2e8a5b6d7e8f901234",
        occurred_at=datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC),
        action="custom",
        granted=("analytics", "necessary"),
        denied=("marketing", "préférences"),
        revision=3,
        locale="sr-Latn-RS",
        mechanism="preferences",
        notice_hash="ab" * 32,
        gpc=True,
        ip="203.0.113.0/24",
        event_id="0195f1a2b3c4d5e6f708192a3b4c5d6e",
    ),
    ConsentEvent(
        consent_id="a" * 32,
        occurred_at=datetime(2026, 3, 1, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
        action="gpc",
        granted=("necessary",),
        denied=("marketing",),
        revision=1,
        locale="en",
        mechanism="gpc",
        notice_hash="cd" * 32,
        gpc=False,
        ip=None,
        event_id="0195f1a2b3c4d5e6f708192a3b4c5d6f",
    ),
)
_EARLIER_HASHES = (
    "f17da7b7ef86921e820cb93e7edb7b09225553dd4180d37ad2ccc8eae28bdea8",
    "9d8b88a59607367c0eee45cd8513e65a4cf5df46f80783cedff5583c2cfce670",
)
_EARLIER_SPOOL_LINES = (
    '{"event_id":"0195f1a2b3c4d5e6f708192a3b4c5d6e","consent_id":"0f3c9a7be41d4c2e8a5b6d7e8f9'
    '01234","occurred_at":"2026-03-01T09:30:15.123456+00:00","action":"custom","granted":["an'
    'alytics","necessary"],"denied":["marketing","préférences"],"revision":3,"locale":"sr-Lat'
    'n-RS","mechanism":"preferences","notice_hash":"' + "ab" * 32 + '","gpc":true,"ip":"203.0'
    '.113.0/24","notice":{"title":"Cookies"}}\n',
    '{"event_id":"0195f1a2b3c4d5e6f708192a3b4c5d6f","consent_id":"' + "a" * 32 + '","occurr'
    'ed_at":"2026-03-01T23:59:59-05:00","action":"gpc","granted":["necessary"],"denied":["ma'
    'rketing"],"revision":1,"locale":"en","mechanism":"gpc","notice_hash":"' + "cd" * 32 + '"'
    ',"gpc":false,"ip":null,"notice":{"title":"Cookies"}}\n',
)


def test_the_hashed_text_has_not_changed() -> None:
    assert chained(_EARLIER_EVENTS, 0, GENESIS_HASH) == list(_EARLIER_HASHES)
    first = event_row(_EARLIER_EVENTS[0], 1, GENESIS_HASH)
    second = event_row(_EARLIER_EVENTS[1], 2, first["hash"])
    assert (first["hash"], second["hash"]) == _EARLIER_HASHES


# What the release at schema version 2 spooled: the earlier lines, with regime and
# region after ip.
_SCHEMA_2_SPOOL_LINES = (
    _EARLIER_SPOOL_LINES[0].replace(',"notice"', ',"regime":"opt-in","region":null,"notice"'),
    _EARLIER_SPOOL_LINES[1].replace(',"notice"', ',"regime":"opt-out","region":"US-CA","notice"'),
)
_SCHEMA_2_EVENTS = (
    _EARLIER_EVENTS[0],
    dataclasses.replace(_EARLIER_EVENTS[1], regime="opt-out", region="US-CA"),
)


@pytest.mark.parametrize(
    ("lines", "spooled"),
    [(_EARLIER_SPOOL_LINES, _EARLIER_EVENTS), (_SCHEMA_2_SPOOL_LINES, _SCHEMA_2_EVENTS)],
    ids=["schema-1", "schema-2"],
)
def test_spool_lines_of_earlier_releases_still_read(
    lines: tuple[str, ...], spooled: tuple[ConsentEvent, ...]
) -> None:
    # Spooled before a field existed (an outage across the upgrade): read with its
    # default (opt-in, region unknown, no services), as the events stored before it.
    for event, line in zip(spooled, lines, strict=True):
        parsed, notice = parse_entry_line(line.encode())
        assert (parsed, notice) == (event, {"title": "Cookies"})
        assert parsed.services == ()


# What this release spools: the lines of schema version 2, with services after region.
_SPOOL_LINES = (
    _SCHEMA_2_SPOOL_LINES[0].replace(',"notice"', ',"services":[],"notice"'),
    _SCHEMA_2_SPOOL_LINES[1].replace(',"notice"', ',"services":["hotjar","youtube"],"notice"'),
)
_SPOOLED_EVENTS = (
    _SCHEMA_2_EVENTS[0],
    dataclasses.replace(_SCHEMA_2_EVENTS[1], services=("hotjar", "youtube")),
)


def test_spool_lines_have_not_changed() -> None:
    for event, line in zip(_SPOOLED_EVENTS, _SPOOL_LINES, strict=True):
        assert entry_line(event, {"title": "Cookies"}) == line.encode()
        assert parse_entry_line(line.encode()) == (event, {"title": "Cookies"})


@pytest.mark.parametrize(
    ("regime", "region", "services", "ending"),
    [
        ("opt-in", None, (), "\x00203.0.113.0/24"),
        ("opt-out", None, (), "\x00203.0.113.0/24\x00opt-out"),
        ("opt-in", "FR", (), "\x00203.0.113.0/24\x00opt-in\x00FR"),
        ("none", "US-CA", (), "\x00203.0.113.0/24\x00none\x00US-CA"),
        ("opt-in", None, ("youtube",), '\x00203.0.113.0/24\x00opt-in\x00\x00["youtube"]'),
        (
            "opt-out",
            "US-CA",
            ("hotjar", "youtube"),
            '\x00203.0.113.0/24\x00opt-out\x00US-CA\x00["hotjar","youtube"]',
        ),
    ],
)
def test_later_fields_are_hashed_unless_left_at_their_defaults(
    regime: Regime, region: str | None, services: tuple[str, ...], ending: str
) -> None:
    event = dataclasses.replace(_EARLIER_EVENTS[0], regime=regime, region=region, services=services)
    row = event_row(event, 1, GENESIS_HASH)
    canonical = canonical_event(*(row[field.name] for field in HASHED_FIELDS))
    assert canonical.endswith(ending)
    # The ip, and the later fields hashed: the text is the earlier one, extended.
    assert canonical.count("\x00") == 11 + ending.count("\x00")
    assert row["hash"] == chain_hash(GENESIS_HASH, canonical)


# The hashes of the first earlier event under each regime, region and services, as the
# releases wrote them: a log written now must verify the same way later.
_LATER_HASHES: dict[tuple[Regime, str | None, tuple[str, ...]], str] = {
    ("opt-in", None, ()): _EARLIER_HASHES[0],
    ("opt-out", None, ()): "1125c3b975f83f15891ea01a42af608aa2b9202619963d5dfad350c07b8f6313",
    ("opt-in", "FR", ()): "1c1fc745a344e4fafaa24d5580725c3b10a0f0706c5f171938604473a0558648",
    ("none", "US-CA", ()): "b28a31ed23c82969d43090796d2ae00420f6b53d7cd0163ee8d8e0236468bd36",
    ("opt-in", None, ("youtube",)): (
        "709b9720111558c530b1bd71ec6c3fc7cc001c656a5732c2c467a64fd1e5ab63"
    ),
    ("opt-out", "US-CA", ("hotjar", "youtube")): (
        "b19bd5d3713bcbb8b3e2d92a93616651efb53f0fac98013261b706d3e242feff"
    ),
    ("opt-in", "FR", ("a_b", "google-analytics")): (
        "ec556c9531cab2ec39be3039b7be213664f297c0a1fa443ea9f5d9c315051239"
    ),
}


def test_the_hashed_text_of_the_later_fields_has_not_changed() -> None:
    hashes = {
        later: event_row(
            dataclasses.replace(
                _EARLIER_EVENTS[0], regime=later[0], region=later[1], services=later[2]
            ),
            1,
            GENESIS_HASH,
        )["hash"]
        for later in _LATER_HASHES
    }
    assert hashes == _LATER_HASHES


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("regime", "opt_in"),
        ("regime", "OPT-IN"),
        ("regime", ""),
        ("region", ""),
        ("region", "fr"),
        ("region", "FRA"),
        ("region", "US-"),
        ("region", "US-CALI"),
        ("region", "US_CA"),
        ("region", "F\x00"),
        ("region", " FR"),
        ("services", ["youtube"]),
        ("services", "youtube"),
        ("services", ("YouTube",)),
        ("services", ("",)),
        ("services", ("1password",)),
        ("services", ("you tube",)),
        ("services", ('you"tube',)),
        ("services", ("youtube\x00",)),
        ("services", ("a" * 49,)),
        ("services", (7,)),
        ("services", ("youtube", "hotjar")),
        ("services", ("youtube", "youtube")),
    ],
)
def test_an_event_refuses_a_value_the_log_would_not_hold(name: str, value: Any) -> None:
    changes: dict[str, Any] = {name: value}
    with pytest.raises(ValueError, match=f"^{name}: "):
        dataclasses.replace(_EARLIER_EVENTS[0], **changes)


@pytest.mark.parametrize(
    "services", [(), ("youtube",), ("a" * 48,), ("a_b", "google-analytics", "x"), ("h0tjar",)]
)
def test_service_keys_are_services(services: tuple[str, ...]) -> None:
    assert all(is_service_key(key) for key in services)
    assert dataclasses.replace(_EARLIER_EVENTS[0], services=services).services == services


@pytest.mark.parametrize("region", ["FR", "US-CA", "GB-ENG", "FR-75C", "IT-21", "ES-M"])
def test_countries_and_subdivisions_are_regions(region: str) -> None:
    assert is_region_code(region)
    assert dataclasses.replace(_EARLIER_EVENTS[0], region=region).region == region
