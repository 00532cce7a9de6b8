"""What one decision leaves in the consent log."""

from __future__ import annotations

import ipaddress
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Action = Literal["accept_all", "reject_all", "custom", "withdraw", "gpc"]
Mechanism = Literal["banner", "preferences", "api", "gpc"]
"""How the decision was made; ``gpc`` is the browser's Global Privacy Control signal."""


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
