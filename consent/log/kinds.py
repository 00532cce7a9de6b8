"""The kinds of value a stored event holds, and how each is stored, hashed, spooled, exported."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, Text
from sqlalchemy.types import TypeEngine


def utc_text(moment: datetime | str) -> str:
    """The canonical text of a time: UTC, microseconds, no offset (a text is taken as it is).

    A naive time is taken as UTC: that is how the databases hand stored times back.
    """
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="microseconds")


def iso_utc(moment: datetime) -> str:
    """``2026-03-01T12:00:00.123456Z``: stored times are UTC (SQLite returns them naive)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


class FieldKind:
    """How one kind of value is stored, hashed, spooled and exported.

    The methods here are those of plain text; each kind below overrides what
    differs for it.
    """

    def column_type(self, length: int | None) -> TypeEngine[Any]:
        """The SQL type of its column."""
        return String(length) if length is not None else Text()

    def stored(self, value: Any) -> Any:
        """The value of the event's attribute, as its row stores it."""
        return value

    def canonical(self, stored: Any) -> str:
        """The text that the hash covers, from the stored value."""
        return str(stored)

    def spooled(self, value: Any) -> Any:
        """The attribute's value in a spool line's JSON."""
        return value

    def unspooled(self, data: Any) -> Any:
        """The attribute's value from a spool line's JSON (ValueError if it is not one)."""
        return str(data)

    def exported(self, stored: Any) -> Any:
        """The stored value in a JSON export."""
        return stored

    def in_csv(self, stored: Any) -> Any:
        """The stored value in a CSV export (None is written as an empty cell)."""
        return stored

    def in_sqlite(self, stored: Any) -> Any:
        """The stored value as SQLAlchemy's SQLite type would bind it (for a raw INSERT)."""
        return stored


class _OptionalText(FieldKind):
    def canonical(self, stored: Any) -> str:
        return "" if stored is None else str(stored)

    def unspooled(self, data: Any) -> Any:
        return None if data is None else str(data)


class _Integer(FieldKind):
    def column_type(self, length: int | None) -> TypeEngine[Any]:
        return Integer()

    def unspooled(self, data: Any) -> Any:
        return int(data)


class _Sequence(_Integer):
    def column_type(self, length: int | None) -> TypeEngine[Any]:
        # SQLite makes an INTEGER PRIMARY KEY the row id itself: no second index to keep.
        return BigInteger().with_variant(Integer(), "sqlite")


class _Boolean(FieldKind):
    def column_type(self, length: int | None) -> TypeEngine[Any]:
        return Boolean()

    def canonical(self, stored: Any) -> str:
        return "1" if stored else "0"

    def unspooled(self, data: Any) -> Any:
        return bool(data)

    def exported(self, stored: Any) -> Any:
        return bool(stored)

    def in_csv(self, stored: Any) -> Any:
        return "true" if stored else "false"

    def in_sqlite(self, stored: Any) -> Any:
        return int(stored)


class _UtcTime(FieldKind):
    def column_type(self, length: int | None) -> TypeEngine[Any]:
        return DateTime(timezone=True)

    def stored(self, value: Any) -> Any:
        return value if value.tzinfo is UTC else value.astimezone(UTC)

    def canonical(self, stored: Any) -> str:
        return utc_text(stored)

    def spooled(self, value: Any) -> Any:
        return value.isoformat()

    def unspooled(self, data: Any) -> Any:
        return datetime.fromisoformat(data)

    def exported(self, stored: Any) -> Any:
        return iso_utc(stored)

    def in_csv(self, stored: Any) -> Any:
        return iso_utc(stored)

    def in_sqlite(self, stored: Any) -> Any:
        return utc_text(stored)  # the text of SQLAlchemy's SQLite DATETIME


class _Keys(FieldKind):
    """A sorted tuple of keys (of categories, or of services), stored as a compact JSON list."""

    def stored(self, value: Any) -> Any:
        return _json_list(value)

    def spooled(self, value: Any) -> Any:
        return list(value)

    def unspooled(self, data: Any) -> Any:
        if not isinstance(data, list) or not all(isinstance(key, str) for key in data):
            raise ValueError("keys are not a list of strings")
        return tuple(data)

    def exported(self, stored: Any) -> Any:
        return json.loads(stored)


@functools.lru_cache(maxsize=256)
def _json_list(keys: tuple[str, ...]) -> str:
    """The stored text of a list of keys (a few combinations recur endlessly)."""
    return json.dumps(list(keys), separators=(",", ":"))


# The kinds of stored values. Each is one object, so that the readers can tell
# them apart (``queries.py`` reads each kind as its canonical text).
TEXT: Final = FieldKind()
OPTIONAL_TEXT: Final = _OptionalText()
INTEGER: Final = _Integer()
SEQUENCE: Final = _Sequence()
BOOLEAN: Final = _Boolean()
UTC_TIME: Final = _UtcTime()
KEYS: Final = _Keys()
