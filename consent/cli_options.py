"""What the ``consent`` command's options take: the log's URL, dates and times, regions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import typer

from .log import is_region_code

DEFAULT_LOG_URL = "sqlite:///consent-log.db"
"""The default of ``ConsentSettings.log_url``."""

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        help="Consent log database URL (sqlite:///path.db or postgresql://user@host/db).",
        envvar="CONSENT_LOG_URL",
        show_envvar=True,
    ),
]


def parse_moment(value: str, *, end_of_day: bool = False) -> datetime:
    """A ``--since``/``--until``/``--before`` value: a date or an ISO 8601 time, as UTC.

    A time without an offset is UTC. A bare date means its first moment, or with
    ``end_of_day`` the first moment of the next day (so that ``--until`` includes it).
    """
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end_of_day:
                day += timedelta(days=1)
            return datetime.combine(day, time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise typer.BadParameter(
            f"{value!r} is not a date (2026-03-01) or time (2026-03-01T12:00:00Z)"
        ) from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_region(value: str) -> str:
    """A ``--region`` value: a country (``FR``) or subdivision (``US-CA``), in any case."""
    code = value.strip().upper()
    if not is_region_code(code):
        raise typer.BadParameter(
            f"{value!r} is not a country (FR) or subdivision (US-CA) code", param_hint="--region"
        )
    return code
