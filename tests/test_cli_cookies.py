"""``consent cookies``: undeclared names matched in the catalogue, and settings that work."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consent import ConsentSettings
from consent.cli import app as cli_app
from consent.cookies import UNDECLARED, CookiePolicy
from consent.log import SqlConsentLog
from tests.conftest import SECRET

runner = CliRunner()
SEEN = {
    "_hjSessionUser_1234": "UNDECLARED",  # Hotjar, by prefix
    "_hjSession_99": "UNDECLARED",
    "YSC": "UNDECLARED",  # YouTube
    "_fbp": "UNDECLARED",  # Facebook
    "mystery": "UNDECLARED",  # in no catalogue
    "_ga": "analytics",  # declared
}


@pytest.fixture
def inventory(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    log = SqlConsentLog(url, spool_path=tmp_path / "writer.spool")

    async def run() -> None:
        await log.start()
        for name, category in SEEN.items():
            log.cookie_seen(name, category, category == "UNDECLARED")
        await log.close()

    asyncio.run(run())
    return url


def test_undeclared_names_are_matched_in_the_catalogue(inventory: str) -> None:
    result = runner.invoke(cli_app, ["cookies", "--db", inventory, "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert (rows["_hjSessionUser_1234"]["platform"], rows["_hjSessionUser_1234"]["service"]) == (
        "Hotjar",
        "hotjar",
    )
    assert rows["YSC"]["service"] == "youtube"
    assert rows["_fbp"]["suggested_category"] == "marketing"
    assert rows["mystery"]["platform"] == ""
    # A declared name is the site's own business: no catalogue guess beside it.
    assert rows["_ga"]["platform"] == ""
    lines = [
        json.loads(line)
        for line in runner.invoke(
            cli_app, ["cookies", "--db", inventory, "--format", "json"]
        ).stdout.splitlines()
    ]
    assert {line["name"]: line["service"] for line in lines}["YSC"] == "youtube"


def test_the_table_ends_with_settings_that_declare_every_known_name(
    inventory: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(cli_app, ["cookies", "--db", inventory], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Hotjar" in result.stdout
    assert "mystery" in result.stderr
    toml = result.stdout[result.stdout.index("# Add these services to your categories (consent") :]
    toml = toml[: toml.index("# Add these services to your categories:")]
    config = tmp_path / "consent.toml"
    config.write_text(toml)
    assert tomllib.loads(toml)["categories"]
    monkeypatch.setenv("CONSENT_CONFIG", str(config))
    from_toml = ConsentSettings(secret_key=SECRET, log_url=None)
    python = result.stdout[result.stdout.index("# Add these services to your categories:") :]
    categories = eval(  # the printed Python, as an operator pastes it  # noqa: S307
        "[" + "".join(re.findall(r"Category\(.*\),", python)) + "]",
        {"Category": __import__("consent").Category},
    )
    from_python = ConsentSettings(secret_key=SECRET, log_url=None, categories=categories)
    for settings in (from_toml, from_python):
        policy = CookiePolicy(settings)
        for name in ("_hjSessionUser_1234", "_hjSession_99", "YSC", "_fbp"):
            assert policy.category(name) != UNDECLARED, name
        assert policy.category("mystery") == UNDECLARED


def test_no_catalogue_match_prints_no_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    log = SqlConsentLog(url, spool_path=tmp_path / "writer.spool")

    async def run() -> None:
        await log.start()
        log.cookie_seen("mystery", "UNDECLARED", True)
        await log.close()

    asyncio.run(run())
    result = runner.invoke(cli_app, ["cookies", "--db", url])
    assert result.exit_code == 0, result.output
    assert "[[categories]]" not in result.stdout
    assert "not in the catalogue" in result.stderr
