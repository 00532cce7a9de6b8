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
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, get_args

from .kinds import (
    BOOLEAN,
    INTEGER,
    KEYS,
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

Mechanism = Literal["banner", "preferences", "api", "gpc", "import"]
"""How the decision was made; ``gpc`` is the browser's Global Privacy Control signal,
``import`` a choice made with the site's earlier consent manager (``import_cookies``)."""
MECHANISMS: Final[tuple[Mechanism, ...]] = get_args(Mechanism)
"""Every mechanism."""

Regime = Literal["opt-in", "opt-out", "none"]
"""The law a decision was made under, where the visitor was: opt-in consent, an
opt-out of the sale or sharing of personal information, or no consent law."""
REGIMES: Final[tuple[Regime, ...]] = get_args(Regime)
"""Every regime, in the order reports list them."""

_REGION_CODE: Final = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")
# The shape of ``consent.Service.key``: the log holds what the settings accept.
_SERVICE_KEY: Final = re.compile(r"[a-z][a-z0-9_-]{0,47}")


def is_region_code(value: str) -> bool:
    """Whether ``value`` is a region as the log stores it: ``FR`` or ``US-CA`` (upper case).

    An ISO 3166-1 alpha-2 country, or an ISO 3166-2 subdivision (the country, a
    hyphen, one to three letters or digits).
    """
    return _REGION_CODE.fullmatch(value) is not None


def is_service_key(value: str) -> bool:
    """Whether ``value`` is a service key as the log stores it: ``youtube``, ``google-analytics``.

    A lower-case letter, then up to 47 lower-case letters, digits, ``_`` or ``-``
    (what ``Service.key`` accepts).
    """
    return _SERVICE_KEY.fullmatch(value) is not None


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
    regime: Regime = "opt-in"
    """The law the decision was made under (events stored before regimes existed: opt-in)."""
    region: str | None = None
    """Where the visitor was: a country (``FR``) or subdivision (``US-CA``), upper case
    (:func:`is_region_code`); None when unknown."""
    services: tuple[str, ...] = ()
    """Keys of the services the decision allows, sorted: those of its granted categories
    and those allowed one by one (:func:`is_service_key`). Events stored before
    services existed: none."""
    event_id: str = field(default_factory=lambda: new_event_id())
    """Unique identifier made with the event, so that storing it twice is recognised."""

    def __post_init__(self) -> None:
        # Checked here, where the caller made the mistake: a value the table cannot
        # hold would otherwise fail every later write, and wait in the spool forever.
        if self.regime not in REGIMES:
            raise ValueError(f"regime: {self.regime!r} is not one of {', '.join(REGIMES)}")
        if self.region is not None and not is_region_code(self.region):
            raise ValueError(
                f"region: {self.region!r} is not a country (FR) or subdivision (US-CA) code"
            )
        if not isinstance(self.services, tuple):
            raise ValueError(f"services: {self.services!r} is not a tuple of service keys")
        for key in self.services:
            if not isinstance(key, str) or not is_service_key(key):
                raise ValueError(f"services: {key!r} is not a service key (youtube)")
        if list(self.services) != sorted(set(self.services)):
            raise ValueError(f"services: {self.services!r} are not sorted and unique")


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
    added_in: int = 1
    """The schema version that added the column (``schema.MIGRATIONS``)."""
    default: Any = None
    """For a column added after version 1: what the events stored before it hold
    (the :class:`ConsentEvent` field's default). While it and every later column
    hold their defaults, an event's hash leaves them out (see ``chain.py``)."""


SEQ: Final = EventField("seq", SEQUENCE, primary_key=True)
"""The event's place in the chain: stored and hashed, but not a :class:`ConsentEvent` field."""

EVENT_FIELDS: Final = (
    EventField("event_id", TEXT, 32, unique=True),
    EventField("consent_id", TEXT, 64, index=True),
    EventField("occurred_at", UTC_TIME, index=True),
    EventField("action", TEXT, 16),
    EventField("granted", KEYS),
    EventField("denied", KEYS),
    EventField("revision", INTEGER),
    EventField("locale", TEXT, 35),
    EventField("mechanism", TEXT, 16),
    EventField("notice_hash", TEXT, 64),
    EventField("gpc", BOOLEAN),
    EventField("ip", OPTIONAL_TEXT, 64, nullable=True),
    EventField("regime", TEXT, 16, added_in=2, default="opt-in"),
    EventField("region", OPTIONAL_TEXT, 6, nullable=True, added_in=2, default=None),
    EventField("services", KEYS, added_in=3, default=()),
)
"""The fields of :class:`ConsentEvent`, in chain order: a column added later comes
after every earlier one, so that the events stored before it keep their hashes."""

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
if [f.added_in for f in EVENT_FIELDS] != sorted(f.added_in for f in EVENT_FIELDS):
    raise TypeError("EVENT_FIELDS must list the fields added later after the earlier ones")
_DEFAULTS: Final = {defined.name: defined.default for defined in dataclasses.fields(ConsentEvent)}
if any(f.added_in > 1 and f.default != _DEFAULTS[f.name] for f in EVENT_FIELDS):
    raise TypeError("a field added later must have the default of its ConsentEvent field")


def stored_values(event: ConsentEvent) -> dict[str, Any]:
    """The event's fields as its row stores them (without ``seq`` and the chain links)."""
    return {f.name: f.kind.stored(getattr(event, f.name)) for f in EVENT_FIELDS}
