"""Every error the log raises on purpose is a ConsentLogError, with a one-line message."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from consent.log import (
    BadLogURL,
    ConsentLogError,
    LogUnavailable,
    PurgeError,
    count_events,
    open_consent_log,
    purge,
)
from tests.log.helpers import execute
from tests.log.test_verify import DAY0, fill


@pytest.mark.parametrize(
    "url", ["mysql://root@localhost/app", "not a url", "sqlite://"], ids=["mysql", "junk", "memory"]
)
def test_a_bad_log_url_is_a_log_error_and_a_value_error(url: str) -> None:
    with pytest.raises(BadLogURL, match=r"^log_url: ") as raised:
        open_consent_log(url)
    assert isinstance(raised.value, ConsentLogError)
    assert isinstance(raised.value, ValueError)


def test_an_unreadable_log_is_a_log_error(tmp_path: Path) -> None:
    with pytest.raises(ConsentLogError) as raised:
        asyncio.run(count_events(f"sqlite:///{tmp_path / 'missing.db'}"))
    assert type(raised.value) is LogUnavailable
    assert len(str(raised.value).splitlines()) == 1


def test_a_purge_that_would_break_the_chain_is_a_log_error(sqlite_url: str, tmp_path: Path) -> None:
    fill(sqlite_url, tmp_path)
    execute(sqlite_url, "DELETE FROM consent_events WHERE seq = 4")
    with pytest.raises(ConsentLogError) as raised:
        asyncio.run(purge(sqlite_url, DAY0 + timedelta(days=4)))
    assert type(raised.value) is PurgeError
    assert "seq 4 is missing" in str(raised.value)
