"""The ``consent`` command."""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import itertools
import json
import math
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from consent.cli import app as cli_app
from consent.log import ACTIONS, EVENT_COLUMNS, REGIMES, ConsentEvent, SqlConsentLog
from tests.log.conftest import NOTICE, make_event
from tests.log.helpers import event_count, execute, query


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_demo_serves_the_article_site_and_logs_decisions(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "demo.db"
    command = [
        sys.executable,
        "-m",
        "consent.cli",
        "demo",
        "--port",
        str(port),
        "--db",
        f"sqlite:///{database}",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first_line
        deadline = time.monotonic() + 20
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert b"data-consent-banner" in page
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/_consent",
            data=b"action=reject_all&next=/",
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "accept": "application/json",
            },
        )
        assert urllib.request.urlopen(request, timeout=5).status == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT action FROM consent_events").fetchall() == [
            ("reject_all",)
        ]


def test_demo_site_freezes_its_start_up_heap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    served: list[Any] = []

    async def keep(server: uvicorn.Server, **_options: Any) -> None:
        served.append(server.config.app)

    # The servers are not started here (the test above does): only what they are given is kept.
    monkeypatch.setattr(uvicorn.Server, "serve", keep)
    database = tmp_path / "demo.db"
    result = CliRunner().invoke(
        cli_app, ["demo", "--port", "0", "--tracker-port", "0", "--db", f"sqlite:///{database}"]
    )
    assert result.exit_code == 0, result.output
    gc.unfreeze()
    try:
        with TestClient(served[0]):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_help_lists_the_demo() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "consent.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in result.stdout


# --- the consent log commands ------------------------------------------------------------


def write_log(url: str, tmp_path: Path) -> list[ConsentEvent]:
    """Six decisions over two days, under each regime, and some cookies.

    Opt-in: consent-1 (accept, then withdraw) in FR, consent-2 (reject) in DE. Opt-out:
    consent-3 (custom) in US-CA, consent-5 (reject) in the US. None: consent-4 (accept),
    region unknown.
    """
    day1 = datetime(2026, 3, 1, 9, tzinfo=UTC)
    day2 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    events = [
        make_event(1, occurred_at=day1, action="accept_all", region="FR"),
        make_event(
            2,
            occurred_at=day1 + timedelta(hours=1),
            action="reject_all",
            granted=("necessary",),
            denied=("analytics", "marketing", "preferences"),
            region="DE",
        ),
        make_event(
            3,
            occurred_at=day1 + timedelta(hours=2),
            action="custom",
            granted=("analytics", "necessary"),
            denied=("marketing", "preferences"),
            mechanism="preferences",
            regime="opt-out",
            region="US-CA",
        ),
        make_event(
            1,
            occurred_at=day2,
            action="withdraw",
            granted=("necessary",),
            denied=("analytics", "marketing", "preferences"),
            region="FR",
        ),
        make_event(
            4,
            occurred_at=day2 + timedelta(hours=1),
            action="accept_all",
            gpc=True,
            regime="none",
        ),
        make_event(
            5,
            occurred_at=day2 + timedelta(hours=2),
            action="reject_all",
            granted=("necessary",),
            denied=("analytics", "marketing", "preferences"),
            regime="opt-out",
            region="US",
        ),
    ]
    log = SqlConsentLog(url, spool_path=tmp_path / "writer.spool")

    async def run() -> None:
        for stored in events:
            await log.record(stored, NOTICE)
        for _ in range(3):
            log.cookie_seen("_ga", "analytics", True)
        log.cookie_seen("mystery", "UNDECLARED", True)
        log.cookie_seen("session", "necessary", False)
        await log.close()

    asyncio.run(run())
    return events


runner = CliRunner()


@pytest.fixture
def written_log(tmp_path: Path) -> tuple[str, list[ConsentEvent]]:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    return url, write_log(url, tmp_path)


def test_log_table_lists_the_events(written_log: tuple[str, list[ConsentEvent]]) -> None:
    url, _ = written_log
    result = runner.invoke(cli_app, ["log", "--db", url], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert result.stdout.count("consent-1") == 2
    assert "withdraw" in result.stdout
    assert "2026-03-02 09:00:00" in result.stdout
    rows = {line.split("│")[3].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert [cell.strip() for cell in rows["consent-3"].split("│")[-3:-1]] == ["opt-out", "US-CA"]
    assert [cell.strip() for cell in rows["consent-4"].split("│")[-3:-1]] == ["none", ""]


def test_log_csv_export(written_log: tuple[str, list[ConsentEvent]]) -> None:
    url, events = written_log
    result = runner.invoke(cli_app, ["log", "--db", url, "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["seq"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    assert rows[0]["occurred_at"] == "2026-03-01T09:00:00.000000Z"
    assert [r["event_id"] for r in rows] == [e.event_id for e in events]
    assert json.loads(rows[2]["granted"]) == ["analytics", "necessary"]
    assert (rows[4]["gpc"], rows[4]["ip"]) == ("true", "")
    assert [(r["regime"], r["region"]) for r in rows] == [
        ("opt-in", "FR"),
        ("opt-in", "DE"),
        ("opt-out", "US-CA"),
        ("opt-in", "FR"),
        ("none", ""),
        ("opt-out", "US"),
    ]
    assert list(rows[0]) == list(EVENT_COLUMNS)


def test_log_json_lines_export_with_filters(written_log: tuple[str, list[ConsentEvent]]) -> None:
    url, _ = written_log
    result = runner.invoke(
        cli_app,
        ["log", "--db", url, "--format", "json", "--since", "2026-03-02", "--action", "reject_all"],
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 1
    assert records[0]["consent_id"] == "consent-5"
    assert records[0]["denied"] == ["analytics", "marketing", "preferences"]
    assert records[0]["gpc"] is False
    assert (records[0]["regime"], records[0]["region"]) == ("opt-out", "US")


def test_log_json_lines_export_of_an_unknown_region(
    written_log: tuple[str, list[ConsentEvent]],
) -> None:
    url, _ = written_log
    result = runner.invoke(cli_app, ["log", "--db", url, "--format", "json", "--regime", "none"])
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (record["consent_id"], record["regime"], record["region"]) == ("consent-4", "none", None)


@pytest.mark.parametrize(
    ("options", "consent_ids"),
    [
        (["--consent-id", "consent-1"], ["consent-1", "consent-1"]),
        (["--until", "2026-03-01"], ["consent-1", "consent-2", "consent-3"]),
        (
            ["--since", "2026-03-01T10:30:00Z", "--until", "2026-03-02T09:30"],
            ["consent-3", "consent-1"],
        ),
        (["--action", "custom"], ["consent-3"]),
        (["--regime", "opt-out"], ["consent-3", "consent-5"]),
        (["--regime", "opt-in", "--until", "2026-03-01"], ["consent-1", "consent-2"]),
        # A country, with its subdivisions; a subdivision alone; in any case.
        (["--region", "US"], ["consent-3", "consent-5"]),
        (["--region", "us-ca"], ["consent-3"]),
        (["--region", "FR", "--action", "withdraw"], ["consent-1"]),
        (["--region", "DE", "--regime", "opt-out"], []),
    ],
)
def test_log_filters(
    written_log: tuple[str, list[ConsentEvent]], options: list[str], consent_ids: list[str]
) -> None:
    url, _ = written_log
    result = runner.invoke(cli_app, ["log", "--db", url, "--format", "json", *options])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["consent_id"] for line in result.stdout.splitlines()] == consent_ids


def test_log_url_from_the_environment(
    written_log: tuple[str, list[ConsentEvent]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = written_log
    monkeypatch.setenv("CONSENT_LOG_URL", url)
    result = runner.invoke(cli_app, ["log", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 6


def test_unknown_consent_id(written_log: tuple[str, list[ConsentEvent]]) -> None:
    url, _ = written_log
    result = runner.invoke(cli_app, ["log", "--db", url, "--consent-id", "nobody"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no event for consent id 'nobody'"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/app", "error: unsupported database 'mysql'"),
        ("not a url", "error: 'not a url' is not a database URL"),
        ("sqlite:///missing.db", "error: no consent log at missing.db: the file does not exist"),
        (
            "postgresql://app@127.0.0.1:1/consent",
            "error: cannot read the consent log at postgresql://app@127.0.0.1:1/consent: "
            "connection refused",
        ),
    ],
    ids=["unsupported", "malformed", "missing-file", "unreachable"],
)
@pytest.mark.parametrize("command", ["log", "verify", "stats", "cookies"])
def test_unreadable_log_is_one_line_and_status_2(
    tmp_path: Path, url: str, message: str, command: str
) -> None:
    result = runner.invoke(cli_app, [command, "--db", url])
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not (tmp_path / "missing.db").exists()


def test_a_database_without_a_log(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.close()
    result = runner.invoke(cli_app, ["verify", "--db", f"sqlite:///{tmp_path / 'other.db'}"])
    assert result.exit_code == 2
    assert "holds no consent log" in result.stderr


def test_verify_intact(written_log: tuple[str, list[ConsentEvent]]) -> None:
    url, _ = written_log
    result = runner.invoke(cli_app, ["verify", "--db", url])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("intact: 6 events from the start; head seq 6 hash ")


def test_verify_tampered_names_the_first_bad_event(
    written_log: tuple[str, list[ConsentEvent]],
) -> None:
    url, events = written_log
    execute(url, "UPDATE consent_events SET action = 'accept_all' WHERE seq = 2")
    result = runner.invoke(cli_app, ["verify", "--db", url])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"TAMPERED: first bad event seq 2 (event {events[1].event_id}): "
        "its contents do not match its hash: edited, moved or forged"
    )


def test_verify_checkpoint_finds_a_rewritten_log(
    written_log: tuple[str, list[ConsentEvent]],
) -> None:
    url, _ = written_log
    head = query(url, "SELECT hash FROM consent_events WHERE seq = 6")[0][0]
    assert (
        runner.invoke(cli_app, ["verify", "--db", url, "--checkpoint", f"6:{head}"]).exit_code == 0
    )
    result = runner.invoke(cli_app, ["verify", "--db", url, "--checkpoint", f"6:{'9' * 64}"])
    assert result.exit_code == 1
    assert "checkpoint seq 6" in result.stdout
    bad = runner.invoke(cli_app, ["verify", "--db", url, "--checkpoint", "six"])
    assert bad.exit_code == 2


def test_stats_per_day(written_log: tuple[str, list[ConsentEvent]]) -> None:
    url, _ = written_log
    result = runner.invoke(cli_app, ["stats", "--db", url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    cells = [c.strip() for c in lines["2026-03-01"].split("│")[1:-1]]
    # decisions, accept, reject, custom, withdraw, then opt-in: analytics, marketing, preferences
    assert cells[1:] == ["3", "33.3%", "33.3%", "33.3%", "0", "66.7%", "33.3%", "33.3%"]
    total = [c.strip() for c in lines["all days"].split("│")[1:-1]]
    assert total[1:6] == ["6", "33.3%", "33.3%", "16.7%", "1"]


def test_stats_per_regime(written_log: tuple[str, list[ConsentEvent]]) -> None:
    url, _ = written_log
    result = runner.invoke(cli_app, ["stats", "--db", url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in result.stdout.splitlines()
        if "│" in line
    ]
    # After the days and their total: all days per regime, the opt-in regime first.
    assert rows[2][0] == "all days"
    assert rows[3:] == [
        ["opt-in regime", "3", "33.3%", "33.3%", "0.0%", "1", "33.3%", "33.3%", "33.3%"],
        ["opt-out regime", "2", "0.0%", "50.0%", "50.0%", "0", "50.0%", "0.0%", "0.0%"],
        ["none regime", "1", "100.0%", "0.0%", "0.0%", "0", "100.0%", "100.0%", "100.0%"],
    ]


STATS_CSV = """\
day,regime,decisions,accept_all,reject_all,custom,withdraw,gpc,analytics opt-in,marketing opt-in,preferences opt-in
2026-03-01,all,3,1,1,1,0,0,0.6667,0.3333,0.3333
2026-03-02,all,3,1,1,0,1,0,0.3333,0.3333,0.3333
all,all,6,2,2,1,1,0,0.5,0.3333,0.3333
all,opt-in,3,1,1,0,1,0,0.3333,0.3333,0.3333
all,opt-out,2,0,1,1,0,0,0.5,0.0,0.0
all,none,1,1,0,0,0,0,1.0,1.0,1.0
"""  # noqa: E501


def test_stats_csv_export(written_log: tuple[str, list[ConsentEvent]]) -> None:
    url, _ = written_log
    result = runner.invoke(cli_app, ["stats", "--db", url, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout == STATS_CSV


def test_stats_json_lines_export(written_log: tuple[str, list[ConsentEvent]]) -> None:
    url, _ = written_log
    result = runner.invoke(
        cli_app, ["stats", "--db", url, "--format", "json", "--since", "2026-03-02"]
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["day"], r["regime"], r["decisions"]) for r in records] == [
        ("2026-03-02", "all", 3),
        ("all", "all", 3),
        ("all", "opt-in", 1),
        ("all", "opt-out", 1),
        ("all", "none", 1),
    ]
    assert records[2]["actions"] == {
        "accept_all": 0,
        "reject_all": 0,
        "custom": 0,
        "withdraw": 1,
        "gpc": 0,
    }
    assert records[3]["opt_in"] == {"analytics": 0.0, "marketing": 0.0, "preferences": 0.0}
    assert records[4]["opt_in"] == {"analytics": 1.0, "marketing": 1.0, "preferences": 1.0}


def test_stats_of_a_category_never_offered_under_a_regime(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = SqlConsentLog(url, spool_path=tmp_path / "writer.spool")
    decisions = [
        make_event(1, granted=("analytics", "necessary"), denied=()),
        make_event(
            2,
            action="reject_all",
            granted=("necessary",),
            denied=("video",),
            regime="opt-out",
            region="US",
        ),
    ]

    async def run() -> None:
        for stored in decisions:
            await log.record(stored, NOTICE)
        await log.close()

    asyncio.run(run())
    result = runner.invoke(cli_app, ["stats", "--db", url, "--format", "json"])
    assert result.exit_code == 0, result.output
    by_regime = {r["regime"]: r["opt_in"] for r in map(json.loads, result.stdout.splitlines())}
    assert by_regime["opt-in"] == {"analytics": 1.0, "video": None}
    assert by_regime["opt-out"] == {"analytics": None, "video": 0.0}
    table = runner.invoke(cli_app, ["stats", "--db", url, "--format", "csv"])
    assert table.stdout.splitlines()[-1] == "all,opt-out,1,0,1,0,0,0,,0.0"


def html_report(url: str, tmp_path: Path) -> str:
    """What ``consent stats --html`` writes for the log at ``url``."""
    report = tmp_path / "report.html"
    result = runner.invoke(cli_app, ["stats", "--db", url, "--html", str(report)])
    assert result.exit_code == 0, result.output
    return report.read_text()


def test_stats_html_report_is_self_contained(
    written_log: tuple[str, list[ConsentEvent]], tmp_path: Path
) -> None:
    page = html_report(written_log[0], tmp_path)
    assert page.count("<svg") == 2
    assert "<rect" in page
    assert "<polyline" in page
    assert "2026-03-02" in page
    assert not re.search(r"""(src|href)\s*=|url\(|@import|<script""", page)


def test_stats_html_report_has_a_row_per_regime(
    written_log: tuple[str, list[ConsentEvent]], tmp_path: Path
) -> None:
    table = (
        html_report(written_log[0], tmp_path)
        .split("<table data-regimes>", 1)[1]
        .split("</table>", 1)[0]
    )
    rows = [re.findall(r"<t[dh]>(.*?)</t[dh]>", row) for row in re.findall(r"<tr>.*?</tr>", table)]
    assert rows[0][:3] == ["regime", "decisions", "accept_all"]
    assert rows[1:] == [
        ["opt-in", "3", "33.3%", "33.3%", "0.0%", "33.3%", "0.0%", "33.3%", "33.3%", "33.3%"],
        ["opt-out", "2", "0.0%", "50.0%", "50.0%", "0.0%", "0.0%", "50.0%", "0.0%", "0.0%"],
        ["none", "1", "100.0%", "0.0%", "0.0%", "0.0%", "0.0%", "100.0%", "100.0%", "100.0%"],
        ["all regimes", "6", "33.3%", "33.3%", "16.7%", "16.7%", "0.0%", "50.0%", "33.3%", "33.3%"],
    ]


def test_purge_asks_then_keeps_the_chain_verifiable(
    written_log: tuple[str, list[ConsentEvent]],
) -> None:
    url, _ = written_log
    declined = runner.invoke(cli_app, ["purge", "--db", url, "--before", "2026-03-02"], input="n\n")
    assert declined.exit_code == 1
    assert "Delete 3 events (seq 1–3)" in declined.output
    assert event_count(url) == 6
    result = runner.invoke(cli_app, ["purge", "--db", url, "--before", "2026-03-02", "--yes"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("purged 3 events; the chain now starts after seq 3")
    assert event_count(url) == 3
    verified = runner.invoke(cli_app, ["verify", "--db", url])
    assert verified.exit_code == 0
    assert "3 events after the anchor at seq 3" in verified.stdout


def test_purge_refuses_a_tampered_log(written_log: tuple[str, list[ConsentEvent]]) -> None:
    url, _ = written_log
    execute(url, "DELETE FROM consent_events WHERE seq = 2")
    result = runner.invoke(cli_app, ["purge", "--db", url, "--before", "2026-03-02", "--yes"])
    assert result.exit_code == 1
    assert "does not verify" in result.stderr
    assert event_count(url) == 5


def test_purge_needs_a_date(written_log: tuple[str, list[ConsentEvent]]) -> None:
    url, _ = written_log
    result = runner.invoke(cli_app, ["purge", "--db", url, "--before", "last year", "--yes"])
    assert result.exit_code == 2
    assert "is not a date" in result.output
    missing = runner.invoke(cli_app, ["purge", "--db", url, "--yes"])
    assert missing.exit_code == 2
    assert "--retention-days" in missing.output


def test_purge_by_retention_days_from_the_environment(
    written_log: tuple[str, list[ConsentEvent]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = written_log
    # The log's events are from 2026-03-01 and -02: keep none older than "today" minus N.
    days = (datetime.now(UTC).date() - date(2026, 3, 2)).days
    monkeypatch.setenv("CONSENT_RETENTION_DAYS", str(days))
    result = runner.invoke(cli_app, ["purge", "--db", url, "--yes"])
    assert result.exit_code == 0, result.output
    assert event_count(url) == 3


@pytest.mark.parametrize("output", ["table", "csv", "json"])
def test_cookies(written_log: tuple[str, list[ConsentEvent]], output: str) -> None:
    url, _ = written_log
    result = runner.invoke(cli_app, ["cookies", "--db", url, "--format", output])
    assert result.exit_code == 0, result.output
    if output == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        found = [(r["name"], r["category"], r["seen"], r["blocked"]) for r in rows]
        assert found == [
            ("mystery", "UNDECLARED", "1", "1"),
            ("_ga", "analytics", "3", "3"),
            ("session", "necessary", "1", "0"),
        ]
    elif output == "json":
        records = [json.loads(line) for line in result.stdout.splitlines()]
        # Undeclared cookies first: they are the ones to look into.
        assert [r["name"] for r in records] == ["mystery", "_ga", "session"]
        assert records[0]["first_seen"].endswith("Z")
    else:
        assert "UNDECLARED" in result.stdout
        assert "mystery" in result.stdout


def test_notice_shows_what_the_visitor_was_told(
    written_log: tuple[str, list[ConsentEvent]],
) -> None:
    url, events = written_log
    result = runner.invoke(cli_app, ["notice", events[0].notice_hash, "--db", url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == NOTICE
    missing = runner.invoke(cli_app, ["notice", "00" * 32, "--db", url])
    assert missing.exit_code == 1


@pytest.mark.slow
def test_csv_export_through_the_installed_command(
    written_log: tuple[str, list[ConsentEvent]], tmp_path: Path
) -> None:
    url, _ = written_log
    result = subprocess.run(
        [sys.executable, "-m", "consent.cli", "log", "--db", url, "--format", "csv"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(result.stdout.splitlines()) == 7
    assert result.stderr == ""


# --- what operators see ------------------------------------------------------------------

CATEGORIES = ("analytics", "functional", "marketing", "personalised_advertising", "preferences")


def write_realistic_log(url: str, tmp_path: Path, days: int = 3) -> list[ConsentEvent]:
    """Decisions as a real site logs them: 32-hex consent ids, five categories, long locales."""
    first = datetime(2026, 3, 1, 9, tzinfo=UTC)
    locales = ("sr-Latn-RS", "de-CH-1996-u-co-phonebk", "pt-BR")
    events = []
    for number in range(3 * days):
        action = ("accept_all", "custom", "reject_all")[number % 3]
        granted = {
            "accept_all": CATEGORIES,
            "custom": CATEGORIES[: 1 + number % 4],
            "reject_all": (),
        }[action]
        events.append(
            make_event(
                number,
                consent_id=uuid.uuid5(uuid.NAMESPACE_URL, f"visitor-{number}").hex,
                occurred_at=first + timedelta(days=number // 3, hours=5 * (number % 3)),
                action=action,
                granted=tuple(sorted(("necessary", *granted))),
                denied=tuple(c for c in CATEGORIES if c not in granted),
                revision=12,
                locale=locales[number % len(locales)],
                mechanism="preferences" if action == "custom" else "banner",
                gpc=number % 2 == 0,
                regime=REGIMES[number % 3],
                region=("FR", "US-CA", None, "BR")[number % 4],
            )
        )
    log = SqlConsentLog(url, spool_path=tmp_path / "writer.spool")

    async def run() -> None:
        for stored in events:
            await log.record(stored, NOTICE)
        await log.close()

    asyncio.run(run())
    return events


def assert_fits_80_columns(output: str) -> None:
    lines = output.splitlines()
    assert lines
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert "…" not in output


def test_log_is_readable_in_80_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    events = write_realistic_log(url, tmp_path)
    result = runner.invoke(cli_app, ["log", "--db", url], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert_fits_80_columns(result.stdout)
    words = set(re.split(r"[\s,·│┃]+", result.stdout))
    for seq, event in enumerate(events, start=1):
        assert event.consent_id in words  # whole, on one line
        assert {str(seq), event.action, event.mechanism, event.locale, event.regime} <= words
        assert (event.region or "unknown") in words
        assert event.occurred_at.strftime("%Y-%m-%d %H:%M:%S") in result.stdout
    assert set(CATEGORIES) <= words


def test_stats_are_readable_in_80_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    write_realistic_log(url, tmp_path)
    result = runner.invoke(cli_app, ["stats", "--db", url], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert_fits_80_columns(result.stdout)
    words = set(re.split(r"[\s│┃]+", result.stdout))
    assert {"2026-03-01", "2026-03-02", "2026-03-03", "decisions", *CATEGORIES} <= words
    assert {*REGIMES, "regime"} <= words
    # Each day's row, in the decisions table: 3 decisions, one of each banner choice.
    day = next(line for line in result.stdout.splitlines() if "2026-03-02" in line)
    assert [cell.strip() for cell in day.split("│")[1:-1]] == [
        "2026-03-02",
        "3",
        "33.3%",
        "33.3%",
        "33.3%",
        "0",
    ]


def test_action_choices_are_the_logged_actions(
    written_log: tuple[str, list[ConsentEvent]],
) -> None:
    url, _ = written_log
    for action in ACTIONS:
        chosen = runner.invoke(
            cli_app, ["log", "--db", url, "--format", "json", "--action", action]
        )
        assert chosen.exit_code == 0, chosen.output
    unknown = runner.invoke(cli_app, ["log", "--db", url, "--action", "accept"])
    assert unknown.exit_code == 2
    assert all(action in unknown.output for action in ACTIONS)


def test_regime_choices_are_the_logged_regimes(
    written_log: tuple[str, list[ConsentEvent]],
) -> None:
    url, _ = written_log
    found: set[str] = set()
    for regime in REGIMES:
        chosen = runner.invoke(
            cli_app, ["log", "--db", url, "--format", "json", "--regime", regime]
        )
        assert chosen.exit_code == 0, chosen.output
        found.update(json.loads(line)["regime"] for line in chosen.stdout.splitlines())
    assert found == set(REGIMES)
    unknown = runner.invoke(cli_app, ["log", "--db", url, "--regime", "opt_in"])
    assert unknown.exit_code == 2
    assert all(regime in unknown.output for regime in REGIMES)


@pytest.mark.parametrize("region", ["U_", "U%", "USA", "US-CALI", "US CA", ""])
def test_a_region_that_is_not_a_code_is_a_usage_error(
    written_log: tuple[str, list[ConsentEvent]], region: str
) -> None:
    url, _ = written_log
    result = runner.invoke(cli_app, ["log", "--db", url, "--region", region])
    assert result.exit_code == 2
    message = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
    assert f"--region: {region!r} is not a country (FR) or subdivision (US-CA) code" in message


@pytest.mark.parametrize(
    "arguments", [["purge", "--before", "2026-03-02", "--yes"], ["notice", "ab" * 32]]
)
def test_every_command_reports_an_unreadable_log_in_one_line(
    tmp_path: Path, arguments: list[str]
) -> None:
    missing = tmp_path / "missing.db"
    result = runner.invoke(cli_app, [*arguments, "--db", f"sqlite:///{missing}"])
    assert result.exit_code == 2
    assert result.stderr == f"error: no consent log at {missing}: the file does not exist\n"


class _Svg(HTMLParser):
    """The marks of each ``<svg>`` of a page: rectangles, and circles by category."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, list[dict[str, str]]]] = []
        self._category = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "svg":
            self.charts.append({})
        elif tag == "g":
            self._category = attributes.get("data-category", "")
        elif tag in ("rect", "circle", "polyline"):
            self.charts[-1].setdefault(f"{tag}:{self._category}", []).append(attributes)


def test_html_report_of_one_day_draws_that_day_in_every_chart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    write_realistic_log(url, tmp_path, days=1)
    report = tmp_path / "report.html"
    result = runner.invoke(cli_app, ["stats", "--db", url, "--html", str(report)])
    assert result.exit_code == 0, result.output
    page = report.read_text()
    assert "3 decisions over 1 day</p>" in page
    parser = _Svg()
    parser.feed(page)
    decisions, opt_in = parser.charts
    bars = decisions["rect:"]
    assert len(bars) == 3  # the day's accept_all, reject_all and custom, stacked
    assert all(float(bar["width"]) > 0 and float(bar["height"]) > 0 for bar in bars)
    marks = []
    for category in CATEGORIES:
        (mark,) = opt_in[f"circle:{category}"]
        assert 40 <= float(mark["cy"]) <= 200  # on the plot, between 100 % and 0 %
        marks.append((float(mark["cx"]), float(mark["cy"]), float(mark["r"])))
    # Each one seen: none covers another, even where two categories have the same rate.
    for (x1, y1, r1), (x2, y2, r2) in itertools.combinations(marks, 2):
        assert math.dist((x1, y1), (x2, y2)) >= r1 + r2
    assert all(r > 0 for _, _, r in marks)


def test_html_report_counts_days_in_the_plural(
    written_log: tuple[str, list[ConsentEvent]], tmp_path: Path
) -> None:
    url, _ = written_log
    report = tmp_path / "report.html"
    assert runner.invoke(cli_app, ["stats", "--db", url, "--html", str(report)]).exit_code == 0
    assert "6 decisions over 2 days</p>" in report.read_text()
