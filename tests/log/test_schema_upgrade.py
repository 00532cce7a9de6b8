"""Logs written by earlier releases (schema versions 1 and 2) are upgraded in place, and verify.

The logs in ``data/`` were written by the releases at schema versions 1 and 2
through their own writer (``SqlConsentLog.record``: six decisions over two days and
a few cookies; at version 2 under several regimes and regions).
``schema-N.sqlite`` is the file it left (made self-contained: journal mode DELETE,
then VACUUM); ``schema-N.postgresql.sql`` is the DDL that release ran on
PostgreSQL, then every row it stored there. The two files of a version hold the
same events, so the same chain head. ``write_old_logs.py`` made those of version 2.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event
from typer.testing import CliRunner

from consent.cli import app as cli_app
from consent.log import ConsentEvent, LogUnavailable, Regime, SqlConsentLog
from consent.log.chain import GENESIS_HASH, canonical_event, chain_hash
from consent.log.database import create_log_engine
from consent.log.events import HASHED_FIELDS
from consent.log.schema import MIGRATIONS, SCHEMA_VERSION, schema_versions
from consent.log.spool import Spool, entry_line
from tests.log.conftest import NOTICE, make_event
from tests.log.helpers import execute, query, run_sql_file, verify
from tests.log.postgres import PostgresServer

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True, slots=True)
class Release:
    """What the release at one schema version wrote into its logs in ``data/``."""

    version: int
    event_ids: tuple[str, ...]
    """By seq, 1 to 6."""
    head_hash: str
    places: tuple[tuple[Regime, str | None], ...]
    """The regime and region of each event, by seq."""
    samples: dict[int, dict[str, Any]]
    """Some fields of some events (by seq), as ``consent log --format json`` shows them."""
    spool_line: str
    """A line that release spooled while its store was down."""


RELEASES = (
    Release(
        version=1,
        event_ids=tuple(f"019c1e2a0a0b7000a00000000000000{n}" for n in range(1, 7)),
        head_hash="c2f626c1cae7d336a7a484fa8743b0b553c5951fdbe61ef40f77d7ecc4c65a36",
        places=(("opt-in", None),) * 6,
        samples={
            2: {"action": "reject_all", "ip": "203.0.113.0/24"},
            3: {"occurred_at": "2026-02-02T23:59:59.999999Z", "gpc": True},
            6: {"granted": ["analytics", "necessary", "préférences"], "locale": "pt-BR"},
        },
        spool_line=(
            '{"event_id":"019c1e2a0a0b7000a000000000000007","consent_id":"' + "c6" * 16 + '",'
            '"occurred_at":"2026-02-04T08:00:00+00:00","action":"reject_all","granted":'
            '["necessary"],"denied":["analytics","marketing"],"revision":2,"locale":"de",'
            '"mechanism":"banner","notice_hash":"' + "cd" * 32 + '","gpc":false,"ip":null,'
            '"notice":{"title":"Cookies"}}\n'
        ),
    ),
    Release(
        version=2,
        event_ids=tuple(f"0197a1b2c3d47000a00000000000002{n}" for n in range(1, 7)),
        head_hash="eefecd4b7f92857b124128164eefb16246e62db710c7b4aad037280545485205",
        places=(
            ("opt-in", "FR"),
            ("opt-out", "US-CA"),
            ("opt-out", "US-CO"),
            ("opt-in", None),
            ("none", "AU"),
            ("opt-out", None),
        ),
        samples={
            2: {"action": "reject_all", "ip": "198.51.100.0/24"},
            3: {"occurred_at": "2026-06-01T23:59:59.999999Z", "gpc": True},
            4: {"ip": "2001:db8:2::/48", "mechanism": "preferences"},
            5: {"granted": ["analytics", "necessary", "préférences"], "revision": 2},
        },
        spool_line=(
            '{"event_id":"0197a1b2c3d47000a000000000000027","consent_id":"' + "d7" * 16 + '",'
            '"occurred_at":"2026-06-03T08:00:00+00:00","action":"reject_all","granted":'
            '["necessary"],"denied":["analytics","marketing"],"revision":1,"locale":"en-US",'
            '"mechanism":"banner","notice_hash":"' + "ab" * 32 + '","gpc":true,"ip":null,'
            '"regime":"opt-out","region":"US-CA","notice":{"title":"Cookies"}}\n'
        ),
    ),
)

NEW_EVENTS: list[tuple[Regime, str | None, tuple[str, ...]]] = [
    ("opt-out", "US-CA", ("youtube",)),
    ("none", None, ()),
    ("opt-in", "FR", ("hotjar", "youtube")),
    ("opt-in", None, ("youtube",)),
    ("opt-in", None, ()),
]
"""The regime, region and services of the events written after the upgrade, seq 7 to 11:
the fourth hashes its regime and region at their defaults, the last is hashed as at
version 1."""

runner = CliRunner()


@dataclass(frozen=True, slots=True)
class OldLog:
    """A copy of a log in ``data/``, on one backend."""

    url: str
    release: Release


@pytest.fixture(
    params=[
        pytest.param((release, backend), id=f"schema-{release.version}-{backend}", marks=marks)
        for release in RELEASES
        for backend, marks in (("sqlite", ()), ("postgresql", pytest.mark.postgres))
    ]
)
def old_log(request: pytest.FixtureRequest, tmp_path: Path) -> OldLog:
    """A copy of the log that each earlier release wrote, on each backend in turn."""
    release, backend = request.param
    name = f"schema-{release.version}"
    if backend == "sqlite":
        shutil.copyfile(DATA / f"{name}.sqlite", tmp_path / "log.db")
        return OldLog(f"sqlite:///{tmp_path / 'log.db'}", release)
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.url(server.create_database())
    run_sql_file(url, DATA / f"{name}.postgresql.sql")
    return OldLog(url, release)


def fresh_url(old: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a new log on the backend of ``old``."""
    if old.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.url(server.create_database())


def start(url: str, tmp_path: Path, events: Sequence[ConsentEvent] = ()) -> None:
    """Start the writer on the log (which upgrades it), record ``events``, close."""
    log = SqlConsentLog(url, spool_path=tmp_path / "writer.spool")

    async def run() -> None:
        await log.start()
        for stored in events:
            await log.record(stored, NOTICE)
        await log.close()

    asyncio.run(run())


def exported(url: str) -> list[dict[str, Any]]:
    """The log's events as ``consent log --format json`` writes them."""
    result = runner.invoke(cli_app, ["log", "--db", url, "--format", "json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def new_events() -> list[ConsentEvent]:
    return [
        make_event(7 + n, regime=regime, region=region, services=services)
        for n, (regime, region, services) in enumerate(NEW_EVENTS)
    ]


def versions(url: str) -> list[int]:
    return [v for (v,) in query(url, "SELECT version FROM consent_schema_version ORDER BY 1")]


def verify_as_written(url: str, version: int) -> str:
    """Check the chain as the release stored it, with this release's hashing; the head's hash.

    The table lacks the fields added after ``version``: each event is hashed with
    them at their defaults, which is how the upgrade reads those events back.
    """
    written = [f.name for f in HASHED_FIELDS if f.added_in <= version]
    absent = [f.kind.stored(f.default) for f in HASHED_FIELDS if f.added_in > version]
    rows = query(
        url,
        f"SELECT prev_hash, hash, {', '.join(written)} FROM consent_events ORDER BY seq",  # noqa: S608
    )
    prev_hash = GENESIS_HASH
    for link, stored_hash, *values in rows:
        assert link == prev_hash, f"seq {values[0]}: broken link"
        assert chain_hash(link, canonical_event(*values, *absent)) == stored_hash, (
            f"seq {values[0]} does not verify"
        )
        prev_hash = stored_hash
    return prev_hash


def test_the_old_log_is_at_its_version_and_verifies_as_written(old_log: OldLog) -> None:
    url, version = old_log.url, old_log.release.version
    assert versions(url) == list(range(1, version + 1))
    assert verify_as_written(url, version) == old_log.release.head_hash
    assert query(url, "SELECT head_seq, head_hash FROM consent_chain") == [
        (6, old_log.release.head_hash)
    ]
    # The readers never change a log: they ask for the upgrade.
    with pytest.raises(LogUnavailable, match=f"schema version {version}; start the application"):
        verify(url)
    refused = runner.invoke(cli_app, ["verify", "--db", url])
    assert refused.exit_code == 2
    assert "start the application once" in refused.stderr


def test_start_upgrades_the_old_log_in_place_and_it_still_verifies(
    old_log: OldLog, tmp_path: Path
) -> None:
    release = old_log.release
    start(old_log.url, tmp_path)
    assert versions(old_log.url) == list(range(1, SCHEMA_VERSION + 1))
    assert SCHEMA_VERSION == 3
    report = verify(old_log.url)
    assert (report.intact, report.checked, report.last_seq) == (True, 6, 6)
    assert report.last_hash == release.head_hash
    records = exported(old_log.url)
    assert [r["event_id"] for r in records] == list(release.event_ids)
    assert [(r["regime"], r["region"]) for r in records] == list(release.places)
    assert [r["services"] for r in records] == [[]] * 6
    # The rest of each event reads as it was written.
    for seq, fields in release.samples.items():
        assert {name: records[seq - 1][name] for name in fields} == fields


def test_events_written_after_the_upgrade_chain_on_and_verify(
    old_log: OldLog, tmp_path: Path
) -> None:
    written = new_events()
    start(old_log.url, tmp_path, written)
    for workers in (1, 3):
        report = verify(old_log.url, workers=workers)
        assert (report.intact, report.checked, report.last_seq) == (True, 11, 11)
    assert query(old_log.url, "SELECT prev_hash FROM consent_events WHERE seq = 7") == [
        (old_log.release.head_hash,)
    ]
    records = exported(old_log.url)
    assert [r["event_id"] for r in records] == [
        *old_log.release.event_ids,
        *(e.event_id for e in written),
    ]
    assert [(r["regime"], r["region"], tuple(r["services"])) for r in records[6:]] == NEW_EVENTS
    result = runner.invoke(cli_app, ["verify", "--db", old_log.url])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("intact: 11 events from the start; head seq 11 hash ")


@pytest.mark.parametrize(
    ("edit", "seq"),
    [
        ("UPDATE consent_events SET regime = 'opt-in' WHERE seq = 7", 7),
        ("UPDATE consent_events SET regime = 'opt-out' WHERE seq = 8", 8),
        ("UPDATE consent_events SET region = 'US-NY' WHERE seq = 7", 7),
        ("UPDATE consent_events SET region = NULL WHERE seq = 9", 9),
        ("UPDATE consent_events SET regime = 'none' WHERE seq = 4", 4),
        ("UPDATE consent_events SET region = 'FR' WHERE seq = 6", 6),
        ("""UPDATE consent_events SET services = '["youtube"]' WHERE seq = 9""", 9),
        ("UPDATE consent_events SET services = '[]' WHERE seq = 7", 7),
        ("""UPDATE consent_events SET services = '["youtube"]' WHERE seq = 11""", 11),
        ("""UPDATE consent_events SET services = '["youtube"]' WHERE seq = 2""", 2),
    ],
    ids=[
        "new-regime-to-the-old-default",
        "new-regime",
        "new-region",
        "new-region-removed",
        "old-regime",
        "old-region-added",
        "new-services-edited",
        "new-services-removed",
        "services-added-to-a-new-event-hashed-as-at-version-1",
        "old-services-added",
    ],
)
def test_an_edited_later_field_fails_verify_after_the_upgrade(
    old_log: OldLog, tmp_path: Path, edit: str, seq: int
) -> None:
    written = new_events()
    start(old_log.url, tmp_path, written)
    event_ids = [*old_log.release.event_ids, *(e.event_id for e in written)]
    execute(old_log.url, edit)
    result = runner.invoke(cli_app, ["verify", "--db", old_log.url])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"TAMPERED: first bad event seq {seq} (event {event_ids[seq - 1]}): "
        "its contents do not match its hash: edited, moved or forged"
    )


def test_events_spooled_across_the_upgrade_are_stored_after_it(
    old_log: OldLog, tmp_path: Path
) -> None:
    # The store was down while the site was upgraded: the spool holds a line of the
    # earlier release, then one of this release, with services.
    spooled_now = make_event(8, regime="opt-in", region="DE", services=("hotjar", "youtube"))
    (tmp_path / "writer.spool").write_bytes(
        old_log.release.spool_line.encode() + entry_line(spooled_now, NOTICE)
    )
    start(old_log.url, tmp_path)
    spool = Spool(tmp_path / "writer.spool")
    assert not spool.has_entries()
    assert not spool.has_claims()
    report = verify(old_log.url)
    assert (report.intact, report.checked) == (True, 8)
    earlier, now = exported(old_log.url)[-2:]
    spooled_earlier = json.loads(old_log.release.spool_line)
    assert (earlier["event_id"], earlier["action"], earlier["services"]) == (
        spooled_earlier["event_id"],
        "reject_all",
        [],
    )
    assert (earlier["regime"], earlier["region"]) == (
        spooled_earlier.get("regime", "opt-in"),
        spooled_earlier.get("region"),
    )
    assert (now["event_id"], now["region"], now["services"]) == (
        spooled_now.event_id,
        "DE",
        ["hotjar", "youtube"],
    )


def _schema(url: str) -> list[tuple[Any, ...]]:
    """What the database says of the log's tables: columns, types, defaults, indexes."""
    if url.startswith("sqlite"):
        return query(url, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
    columns = query(
        url,
        "SELECT table_name, column_name, ordinal_position, data_type, "
        "character_maximum_length, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = 'public' "
        "ORDER BY table_name, ordinal_position",
    )
    indexes = query(
        url,
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
    )
    return [*columns, *indexes]


def test_a_new_log_has_the_schema_of_an_upgraded_one(
    old_log: OldLog, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    new = fresh_url(old_log.url, request, tmp_path)
    start(old_log.url, tmp_path)
    start(new, tmp_path / "new")
    upgraded = _schema(old_log.url)
    assert upgraded == _schema(new)
    assert any("services" in str(row) for row in upgraded)


def _ddl_of_the_first_steps(url: str, version: int) -> list[str]:
    """The CREATE and ALTER statements that the steps up to ``version`` run on a new database."""
    statements: list[str] = []

    def capture(*arguments: Any) -> None:
        statement = str(arguments[2]).strip()
        if statement.split(None, 1)[0].upper() in ("CREATE", "ALTER"):
            statements.append(statement)

    def first_steps(connection: Connection) -> None:
        schema_versions.create(connection)
        for step in MIGRATIONS[:version]:
            step(connection)

    async def run() -> None:
        engine = create_log_engine(url)
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(first_steps)
        finally:
            await engine.dispose()

    asyncio.run(run())
    return statements


def _normalised(statement: str) -> str:
    return " ".join(statement.replace(";", " ").split())


def _sqlite_schema(database: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")
        return sorted(_normalised(sql) for (sql,) in rows)
    finally:
        connection.close()


def test_the_first_migrations_still_make_what_the_release_made(
    old_log: OldLog, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # A step of MIGRATIONS is never edited: a log created now goes through the same
    # steps as the logs of each earlier release, then the same upgrade.
    version = old_log.release.version
    fresh = fresh_url(old_log.url, request, tmp_path)
    ran = _ddl_of_the_first_steps(fresh, version)
    if old_log.url.startswith("sqlite"):
        # SQLite keeps each table's CREATE statement, ALTERs folded in.
        made = _sqlite_schema(tmp_path / "fresh.db")
        expected = _sqlite_schema(DATA / f"schema-{version}.sqlite")
    else:
        made = sorted(_normalised(s) for s in ran)
        text = (DATA / f"schema-{version}.postgresql.sql").read_text(encoding="utf-8")
        statements = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
        expected = sorted(
            _normalised(s)
            for s in statements.split(";\n")
            if s.strip().startswith(("CREATE", "ALTER"))
        )
    assert made == expected
    assert sum(s.startswith("CREATE") for s in made) == 7  # five tables, two indexes
    # Each step after the first adds the columns of its version.
    altered = [s for s in ran if s.startswith("ALTER")]
    assert [s.split()[5] for s in altered] == [
        f.name for f in HASHED_FIELDS if 1 < f.added_in <= version
    ]
