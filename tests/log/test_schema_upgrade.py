"""A log written before regimes (schema version 1) is upgraded in place, and still verifies.

The logs in ``data/`` were written by the release at schema version 1 through its own
writer (``SqlConsentLog.record``, six decisions over two days and a few cookies):
``schema-1.sqlite`` is the file it left (made self-contained: journal mode DELETE,
then VACUUM); ``schema-1.postgresql.sql`` is the DDL that release ran on PostgreSQL,
then every row it stored there. Both hold the same events, so the same chain head.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event
from typer.testing import CliRunner

from consent.cli import app as cli_app
from consent.log import LogUnavailable, SqlConsentLog
from consent.log.database import create_log_engine
from consent.log.schema import MIGRATIONS, schema_versions
from consent.log.spool import Spool
from tests.log.conftest import NOTICE, make_event
from tests.log.helpers import execute, query, run_sql_file, verify
from tests.log.postgres import PostgresServer

DATA = Path(__file__).parent / "data"
OLD_EVENT_IDS = [f"019c1e2a0a0b7000a00000000000000{n}" for n in range(1, 7)]
OLD_HEAD_HASH = "c2f626c1cae7d336a7a484fa8743b0b553c5951fdbe61ef40f77d7ecc4c65a36"
NEW_PLACES: list[tuple[str, str | None]] = [
    ("opt-out", "US-CA"),
    ("none", None),
    ("opt-in", "FR"),
    ("opt-in", None),
    ("opt-out", None),
]
"""The regime and region of the events written after the upgrade, seq 7 to 11."""

runner = CliRunner()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def old_log(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A copy of the log written at schema version 1, on each backend in turn."""
    if request.param == "sqlite":
        shutil.copyfile(DATA / "schema-1.sqlite", tmp_path / "log.db")
        return f"sqlite:///{tmp_path / 'log.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.url(server.create_database())
    run_sql_file(url, DATA / "schema-1.postgresql.sql")
    return url


def fresh_url(old: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a new log on the backend of ``old``."""
    if old.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.url(server.create_database())


def start(url: str, tmp_path: Path, events: Sequence[Any] = ()) -> None:
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


def new_events() -> list[Any]:
    return [
        make_event(7 + n, regime=regime, region=region)
        for n, (regime, region) in enumerate(NEW_PLACES)
    ]


def test_the_old_log_is_at_version_1_and_verifies_as_written(old_log: str) -> None:
    assert query(old_log, "SELECT version FROM consent_schema_version") == [(1,)]
    # The readers never change a log: they ask for the upgrade.
    with pytest.raises(LogUnavailable, match="schema version 1; start the application once"):
        verify(old_log)
    refused = runner.invoke(cli_app, ["verify", "--db", old_log])
    assert refused.exit_code == 2
    assert "start the application once" in refused.stderr


def test_start_upgrades_the_old_log_in_place_and_it_still_verifies(
    old_log: str, tmp_path: Path
) -> None:
    start(old_log, tmp_path)
    assert query(old_log, "SELECT version FROM consent_schema_version ORDER BY version") == [
        (1,),
        (2,),
    ]
    report = verify(old_log)
    assert (report.intact, report.checked, report.last_seq) == (True, 6, 6)
    assert report.last_hash == OLD_HEAD_HASH
    records = exported(old_log)
    assert [r["event_id"] for r in records] == OLD_EVENT_IDS
    assert {(r["regime"], r["region"]) for r in records} == {("opt-in", None)}
    # The rest of each event reads as it was written.
    assert (records[1]["action"], records[1]["ip"]) == ("reject_all", "203.0.113.0/24")
    assert records[2]["occurred_at"] == "2026-02-02T23:59:59.999999Z"
    assert records[5]["granted"] == ["analytics", "necessary", "préférences"]


def test_events_written_after_the_upgrade_chain_on_and_verify(old_log: str, tmp_path: Path) -> None:
    written = new_events()
    start(old_log, tmp_path, written)
    for workers in (1, 3):
        report = verify(old_log, workers=workers)
        assert (report.intact, report.checked, report.last_seq) == (True, 11, 11)
    assert query(old_log, "SELECT prev_hash FROM consent_events WHERE seq = 7") == [
        (OLD_HEAD_HASH,)
    ]
    records = exported(old_log)
    assert [r["event_id"] for r in records] == [*OLD_EVENT_IDS, *(e.event_id for e in written)]
    assert [(r["regime"], r["region"]) for r in records[6:]] == NEW_PLACES
    result = runner.invoke(cli_app, ["verify", "--db", old_log])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("intact: 11 events from the start; head seq 11 hash ")


@pytest.mark.parametrize(
    ("edit", "seq"),
    [
        ("UPDATE consent_events SET regime = 'opt-in' WHERE seq = 7", 7),
        ("UPDATE consent_events SET regime = 'opt-out' WHERE seq = 8", 8),
        ("UPDATE consent_events SET region = 'US-NY' WHERE seq = 7", 7),
        ("UPDATE consent_events SET region = NULL WHERE seq = 9", 9),
        ("UPDATE consent_events SET regime = 'opt-out' WHERE seq = 3", 3),
        ("UPDATE consent_events SET region = 'FR' WHERE seq = 5", 5),
    ],
    ids=[
        "new-regime-to-the-old-default",
        "new-regime",
        "new-region",
        "new-region-removed",
        "old-regime",
        "old-region-added",
    ],
)
def test_an_edited_regime_or_region_fails_verify_after_the_upgrade(
    old_log: str, tmp_path: Path, edit: str, seq: int
) -> None:
    written = new_events()
    start(old_log, tmp_path, written)
    event_ids = [*OLD_EVENT_IDS, *(e.event_id for e in written)]
    execute(old_log, edit)
    result = runner.invoke(cli_app, ["verify", "--db", old_log])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"TAMPERED: first bad event seq {seq} (event {event_ids[seq - 1]}): "
        "its contents do not match its hash: edited, moved or forged"
    )


# A line that the release at schema version 1 spooled while the store was down.
_OLD_SPOOL_LINE = (
    '{"event_id":"019c1e2a0a0b7000a000000000000007","consent_id":"' + "c6" * 16 + '",'
    '"occurred_at":"2026-02-04T08:00:00+00:00","action":"reject_all","granted":["necessary"],'
    '"denied":["analytics","marketing"],"revision":2,"locale":"de","mechanism":"banner",'
    '"notice_hash":"' + "cd" * 32 + '","gpc":false,"ip":null,"notice":{"title":"Cookies"}}\n'
)


def test_events_spooled_before_the_upgrade_are_stored_after_it(
    old_log: str, tmp_path: Path
) -> None:
    (tmp_path / "writer.spool").write_text(_OLD_SPOOL_LINE, encoding="utf-8")
    start(old_log, tmp_path)
    spool = Spool(tmp_path / "writer.spool")
    assert not spool.has_entries()
    assert not spool.has_claims()
    report = verify(old_log)
    assert (report.intact, report.checked) == (True, 7)
    last = exported(old_log)[-1]
    assert (last["event_id"], last["action"], last["regime"], last["region"]) == (
        "019c1e2a0a0b7000a000000000000007",
        "reject_all",
        "opt-in",
        None,
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
    old_log: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    new = fresh_url(old_log, request, tmp_path)
    start(old_log, tmp_path)
    start(new, tmp_path / "new")
    upgraded = _schema(old_log)
    assert upgraded == _schema(new)
    assert any("regime" in str(row) for row in upgraded)


def _created_by_version_1(url: str) -> list[str]:
    """The CREATE statements that the first migration runs on a new database."""
    statements: list[str] = []

    def capture(*arguments: Any) -> None:
        statement = str(arguments[2]).strip()
        if statement.upper().startswith("CREATE"):
            statements.append(statement)

    def first_step(connection: Connection) -> None:
        schema_versions.create(connection)
        MIGRATIONS[0](connection)

    async def run() -> None:
        engine = create_log_engine(url)
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(first_step)
        finally:
            await engine.dispose()

    asyncio.run(run())
    return statements


def _normalised(statement: str) -> str:
    return " ".join(statement.replace(";", " ").split())


def test_the_first_migration_still_creates_what_version_1_created(
    old_log: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # A step of MIGRATIONS is never edited: a log created now goes through the same
    # version 1 as the logs of that release, then the same upgrade.
    created = sorted(
        _normalised(s) for s in _created_by_version_1(fresh_url(old_log, request, tmp_path))
    )
    if old_log.startswith("sqlite"):
        connection = sqlite3.connect(f"file:{DATA / 'schema-1.sqlite'}?mode=ro", uri=True)
        try:
            rows = connection.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")
            expected = sorted(_normalised(sql) for (sql,) in rows)
        finally:
            connection.close()
    else:
        lines = (DATA / "schema-1.postgresql.sql").read_text(encoding="utf-8").splitlines()
        statements = "\n".join(line for line in lines if not line.startswith("--"))
        expected = sorted(
            _normalised(s) for s in statements.split(";\n") if s.strip().startswith("CREATE")
        )
    assert created == expected
    assert len(created) == 7  # five tables, two indexes
