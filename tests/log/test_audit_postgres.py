"""The audit commands on a PostgreSQL log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consent.cli import app as cli_app
from tests.test_cli import STATS_CSV, write_log

runner = CliRunner()


@pytest.mark.postgres
def test_log_and_verify_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    events = write_log(postgres_url, tmp_path)
    exported = runner.invoke(cli_app, ["log", "--db", postgres_url, "--format", "json"])
    assert exported.exit_code == 0, exported.output
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["event_id"] for r in records] == [e.event_id for e in events]
    assert records[0]["occurred_at"] == "2026-03-01T09:00:00.000000Z"
    assert runner.invoke(cli_app, ["verify", "--db", postgres_url]).exit_code == 0
    assert runner.invoke(cli_app, ["log", "--db", postgres_url, "--consent-id", "x"]).exit_code == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("options", "consent_ids"),
    [
        (["--regime", "opt-out"], ["consent-3", "consent-5"]),
        (["--region", "US"], ["consent-3", "consent-5"]),
        (["--region", "US-CA"], ["consent-3"]),
        (["--region", "fr", "--regime", "opt-in"], ["consent-1", "consent-1"]),
    ],
)
def test_regime_and_region_filters_on_postgresql(
    postgres_url: str, tmp_path: Path, options: list[str], consent_ids: list[str]
) -> None:
    write_log(postgres_url, tmp_path)
    result = runner.invoke(cli_app, ["log", "--db", postgres_url, "--format", "json", *options])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["consent_id"] for line in result.stdout.splitlines()] == consent_ids


@pytest.mark.postgres
def test_stats_per_regime_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    write_log(postgres_url, tmp_path)
    result = runner.invoke(cli_app, ["stats", "--db", postgres_url, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout == STATS_CSV
