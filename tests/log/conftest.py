"""Real stores for the consent-log tests: SQLite files, and a PostgreSQL server.

The server (see ``postgres.py``) is started once per session and stopped at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from consent.log import ConsentEvent
from tests.log.postgres import PostgresServer, postgres_bin_dir

NOTICE: dict[str, Any] = {"title": "Cookies", "categories": [{"key": "analytics"}]}
NOTICE_HASH = "ab" * 32


def make_event(number: int = 0, **overrides: Any) -> ConsentEvent:
    """An event as the endpoint makes it."""
    values: dict[str, Any] = {
        "consent_id": f"consent-{number}",
        "occurred_at": datetime.now(UTC),
        "action": "accept_all",
        "granted": ("analytics", "marketing", "necessary", "preferences"),
        "denied": (),
        "revision": 1,
        "locale": "en",
        "mechanism": "banner",
        "notice_hash": NOTICE_HASH,
        "gpc": False,
    }
    values.update(overrides)
    return ConsentEvent(**values)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; skipped when PostgreSQL is not installed."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql; scripts/test adds it)")
    root = Path(tempfile.mkdtemp(prefix="consent-pg-"))
    server = PostgresServer(bin_dir, root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        # Already stopped when the test that stops and restarts it failed midway.
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh database on the session's server."""
    return postgres_server.url(postgres_server.create_database())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a SQLite log file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'log.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh log URL on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.url(server.create_database())
