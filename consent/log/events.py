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
import ipaddress
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, get_args

from .kinds import (
    BOOLEAN,
    CATEGORY_KEYS,
    INTEGER,
    OPTIONAL_TEXT,
    SEQUENCE,
    TEXT,
    UTC_TIME,
    FieldKind,
)

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
