"""What one decision leaves in the consent log, and the one definition of how it is stored.

:data:`STORED_FIELDS` lists every column of a stored event in chain order, each
with its :class:`FieldKind`: the column type, the text of it that the hash
covers, its JSON in a spool line, and its form in an export. The table
(``schema.py``), the canonical text (``chain.py``), the spool (``spool.py``),
the stored rows (``statements.py``) and the exports (``read.py``) are all built
from it, so that a field is added or changed in one place.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, Text
from sqlalchemy.types import TypeEngine

Action = Literal["accept_all", "reject_all", "custom", "withdraw", "gpc"]
"""What a decision did; ``gpc`` is a refusal made by the browser's Global Privacy Control."""
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
"""Every action, in the order reports list them."""

Mechanism = Literal["banner", "preferences", "api", "gpc"]
"""How the decision was made; ``gpc`` is the browser's Global Privacy Control signal."""
MECHANISMS: Final[tuple[Mechanism, ...]] = get_args(Mechanism)
"""Every mechanism."""


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One decision, as it is proven later: who, when, what, how, after being told what."""

    consent_id: str
    occurred_at: datetime
    """Server time, UTC."""
    action: Action
    granted: tuple[str, ...]
    """Granted category keys, sorted; ``necessary`` included."""
    denied: tuple[str, ...]
    """Refused category keys, sorted."""
    revision: int
    locale: str
    mechanism: Mechanism
    notice_hash: str
    """SHA-256 of the notice shown (texts and categories), stored once beside the log."""
    gpc: bool
    """Whether the decision was made with ``Sec-GPC: 1``."""
    ip: str | None = None
    """Truncated network (/24 or /48) when ``log_ip="truncated"``; else None."""
    event_id: str = field(default_factory=lambda: new_event_id())
    """Unique identifier made with the event, so that storing it twice is recognised."""


def new_event_id() -> str:
    """A UUID version 7 (RFC 9562), as 32 hex digits: milliseconds since 1970, then random.

    Ids made one after the other sort together, so that the unique index on them
    grows at its end instead of touching a random page of the index per event.
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    # Version 7 in bits 48-51, variant 0b10 in bits 64-65 (from the top).
    value = (value & ~(0xF << 76)) | 0x7 << 76
    value = (value & ~(0x3 << 62)) | 0x2 << 62
    return uuid.UUID(int=value).hex


def truncate_ip(address: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of an address, or None if it is not one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass(slots=True)
class CookieCount:
    """What the middleware saw of one cookie name."""

    category: str
    """Its category key, ``necessary``, or ``UNDECLARED``."""
    seen: int
    """Times seen, in requests and responses."""
    blocked: int
    """Times blocked (a ``Set-Cookie`` removed, or a request cookie hidden from the app)."""
    first_seen: float
    """Unix time."""
    last_seen: float
    """Unix time."""


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


class _CategoryKeys(FieldKind):
    """A sorted tuple of category keys, stored as a compact JSON list."""

    def stored(self, value: Any) -> Any:
        return _json_list(value)

    def spooled(self, value: Any) -> Any:
        return list(value)

    def unspooled(self, data: Any) -> Any:
        if not isinstance(data, list) or not all(isinstance(key, str) for key in data):
            raise ValueError("category keys are not a list of strings")
        return tuple(data)

    def exported(self, stored: Any) -> Any:
        return json.loads(stored)


@functools.lru_cache(maxsize=256)
def _json_list(keys: tuple[str, ...]) -> str:
    """The stored text of a list of category keys (a few combinations recur endlessly)."""
    return json.dumps(list(keys), separators=(",", ":"))


# The kinds of stored values. Each is one object, so that the readers can tell
# them apart (``queries.py`` reads each kind as its canonical text).
TEXT: Final = FieldKind()
OPTIONAL_TEXT: Final = _OptionalText()
INTEGER: Final = _Integer()
SEQUENCE: Final = _Sequence()
BOOLEAN: Final = _Boolean()
UTC_TIME: Final = _UtcTime()
CATEGORY_KEYS: Final = _CategoryKeys()


@dataclass(frozen=True, slots=True)
class EventField:
    """One stored column of an event."""

    name: str
    kind: FieldKind
    length: int | None = None
    """Longest text, for the text kinds."""
    nullable: bool = False
    index: bool = False
    unique: bool = False
    primary_key: bool = False


SEQ: Final = EventField("seq", SEQUENCE, primary_key=True)
"""The event's place in the chain: stored and hashed, but not a :class:`ConsentEvent` field."""

EVENT_FIELDS: Final = (
    EventField("event_id", TEXT, 32, unique=True),
    EventField("consent_id", TEXT, 64, index=True),
    EventField("occurred_at", UTC_TIME, index=True),
    EventField("action", TEXT, 16),
    EventField("granted", CATEGORY_KEYS),
    EventField("denied", CATEGORY_KEYS),
    EventField("revision", INTEGER),
    EventField("locale", TEXT, 35),
    EventField("mechanism", TEXT, 16),
    EventField("notice_hash", TEXT, 64),
    EventField("gpc", BOOLEAN),
    EventField("ip", OPTIONAL_TEXT, 64, nullable=True),
)
"""The fields of :class:`ConsentEvent`, in chain order."""

HASHED_FIELDS: Final = (SEQ, *EVENT_FIELDS)
"""What an event's hash covers, in this order: changing it makes every stored log fail."""

STORED_FIELDS: Final = (
    *HASHED_FIELDS,
    EventField("prev_hash", TEXT, 64),
    EventField("hash", TEXT, 64),
)
"""Every column of a stored event: the hashed fields, then the links of the chain."""

FIELDS_BY_NAME: Final = {stored.name: stored for stored in STORED_FIELDS}
"""Each column of a stored event by its name."""

if {f.name for f in EVENT_FIELDS} != {f.name for f in dataclasses.fields(ConsentEvent)}:
    raise TypeError("EVENT_FIELDS must name every field of ConsentEvent, and only those")


def stored_values(event: ConsentEvent) -> dict[str, Any]:
    """The event's fields as its row stores them (without ``seq`` and the chain links)."""
    return {f.name: f.kind.stored(getattr(event, f.name)) for f in EVENT_FIELDS}
