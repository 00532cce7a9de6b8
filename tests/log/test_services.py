"""The services a decision allows: listed by ``consent log`` in every format, and selected
by ``consent log --service KEY``."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consent.cli import app as cli_app
from consent.log import EVENT_COLUMNS, SqlConsentLog
from tests.log.conftest import NOTICE, make_event

runner = CliRunner()

SERVICES = {
    "consent-1": ("youtube",),
    "consent-2": (),
    "consent-3": ("a_b", "youtube"),
    "consent-4": ("axb",),
    "consent-5": ("hotjar",),
}
"""The services each decision of :func:`write_log` allows, in the order they are written."""


def write_log(url: str, tmp_path: Path) -> None:
    """One decision per entry of :data:`SERVICES`, the third under opt-out."""
    log = SqlConsentLog(url, spool_path=tmp_path / "spool")

    async def run() -> None:
        for number, services in enumerate(SERVICES.values(), start=1):
            regime = "opt-out" if number == 3 else "opt-in"
            await log.record(make_event(number, services=services, regime=regime), NOTICE)
        await log.close()

    asyncio.run(run())


@pytest.fixture
def services_log(sqlite_url: str, tmp_path: Path) -> str:
    write_log(sqlite_url, tmp_path)
    return sqlite_url


def consent_log(*options: str, columns: int = 80) -> str:
    result = runner.invoke(cli_app, ["log", *options], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_lines_give_the_services_as_lists(services_log: str) -> None:
    records = map(json.loads, consent_log("--db", services_log, "--format", "json").splitlines())
    assert {r["consent_id"]: tuple(r["services"]) for r in records} == SERVICES


def test_csv_gives_the_services_as_json_after_the_categories(services_log: str) -> None:
    rows = list(csv.DictReader(io.StringIO(consent_log("--db", services_log, "--format", "csv"))))
    assert {r["consent_id"]: r["services"] for r in rows} == {
        consent_id: json.dumps(list(services), separators=(",", ":"))
        for consent_id, services in SERVICES.items()
    }
    assert list(rows[0]) == list(EVENT_COLUMNS)
    assert list(EVENT_COLUMNS[4:7]) == ["granted", "denied", "services"]


def test_the_table_shows_the_services_beside_the_categories(services_log: str) -> None:
    table = consent_log("--db", services_log, columns=220)
    header = next(line for line in table.splitlines() if "consent id" in line)
    assert [cell.strip() for cell in header.split("┃")[4:7]] == ["action", "granted", "services"]
    cells = {
        line.split("│")[3].strip(): line.split("│")[6].strip()
        for line in table.splitlines()
        if "│" in line
    }
    assert cells == {
        "consent-1": "youtube",
        "consent-2": "—",
        "consent-3": "a_b, youtube",
        "consent-4": "axb",
        "consent-5": "hotjar",
    }


def test_a_narrow_terminal_gives_each_event_a_services_line(services_log: str) -> None:
    blocks = consent_log("--db", services_log, columns=80).split("\n\n")
    lines = [line for block in blocks for line in block.splitlines() if "services" in line]
    assert [line.split() for line in lines] == [
        ["services", "youtube"],
        ["services", "—"],
        ["services", "a_b,", "youtube"],
        ["services", "axb"],
        ["services", "hotjar"],
    ]


@pytest.mark.parametrize(
    ("options", "consent_ids"),
    [
        (["--service", "youtube"], ["consent-1", "consent-3"]),
        (["--service", "hotjar"], ["consent-5"]),
        # In any case; a key is matched whole, its "_" as itself.
        (["--service", "YouTube"], ["consent-1", "consent-3"]),
        (["--service", "a_b"], ["consent-3"]),
        (["--service", "axb"], ["consent-4"]),
        (["--service", "you"], []),
        (["--service", "youtube", "--regime", "opt-in"], ["consent-1"]),
    ],
)
def test_log_service_selects_the_decisions_that_allow_it(
    log_url: str, tmp_path: Path, options: list[str], consent_ids: list[str]
) -> None:
    write_log(log_url, tmp_path)
    output = consent_log("--db", log_url, "--format", "json", *options)
    assert [json.loads(line)["consent_id"] for line in output.splitlines()] == consent_ids


@pytest.mark.parametrize("key", ["you tube", '"youtube"', "%", "1password"])
def test_log_service_refuses_what_is_not_a_service_key(services_log: str, key: str) -> None:
    result = runner.invoke(cli_app, ["log", "--db", services_log, "--service", key])
    assert result.exit_code == 2
    assert "is not a service key" in result.stderr
