"""Reading the cookies of the consent managers a site may be moving from.

A visitor who chose with the site's earlier JavaScript consent manager arrives with
that manager's cookie. The readers here turn its raw value, exactly as it comes in the
``Cookie`` header, into an :class:`ImportedChoice`; anything they cannot read with
certainty is ``None``, which means "no earlier choice".

vanilla-cookieconsent 3 (cookie ``cc_cookie``; ``cookie.name`` renames it, and
``cookie.useLocalStorage`` keeps it out of cookies) writes
``encodeURIComponent(JSON.stringify(content))``, for example (decoded)::

    {"categories":["necessary","analytics"],"revision":2,"data":null,
     "consentTimestamp":"2025-01-02T10:00:00.000Z","consentId":"<uuid4>",
     "services":{"necessary":[],"analytics":["ga"],"ads":[]},"languageCode":"en",
     "lastConsentTimestamp":"2025-01-02T10:00:00.000Z","expirationTime":1751450400000}

``categories`` lists the accepted categories (the read-only ones always, so "reject
all" leaves ``["necessary"]``); ``services`` has a key for every configured category,
listing its accepted services. The library honours a cookie only when ``categories``
is a list, ``consentId`` a string and both timestamps are set (and ``revision`` is the
site's, which the caller judges); so does :func:`read_cc_cookie`. Version 2 cookies
(``level``, ``consent_uuid``, raw JSON by default) are not honoured by version 3,
and read as ``None`` here too.

Klaro (cookie ``klaro``; ``storageName`` or the older ``cookieName`` renames it, and
``storageMethod: "localStorage"`` keeps it out of cookies) writes
``encodeURIComponent(JSON.stringify(consents))`` (its first releases wrote the JSON
unencoded, which reads the same): one boolean per service::

    {"google-analytics":true,"youtube":false,"session":true}

No version encodes it otherwise (no base64, whatever the configuration), and it holds
no date. Declining writes ``false`` for every service that is not required.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import unquote

MAX_VALUE_CHARS = 4096
"""A longer value is refused before any parsing."""
MAX_NESTING = 8
"""Deepest JSON nesting read: the managers' own fields need three levels, which leaves
room for what a site keeps in cc's ``data``."""
MAX_ENTRIES = 64
"""Most entries in one JSON object or list the readers consider."""
MAX_KEY_CHARS = 64
"""Longest category or service key kept."""
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""A decision time before this is not believed."""

_MALFORMED_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NO_SERVICES: Mapping[str, frozenset[str]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ImportedChoice:
    """A choice read from another consent manager's cookie."""

    manager: Literal["cc_cookie", "klaro"]
    """Which manager's cookie it came from."""
    accepted: frozenset[str]
    """The old manager's keys the visitor accepted: categories (cc), services (Klaro)."""
    refused: frozenset[str]
    """Keys known to be refused: categories not accepted (cc, when the cookie lists
    every category), services set to ``false`` (Klaro)."""
    services: Mapping[str, frozenset[str]]
    """cc: the accepted services of each category the cookie lists; Klaro: empty."""
    decided_at: datetime | None
    """When the visitor last chose (UTC), when the cookie says so believably."""
    revision: int | None
    """cc: the site's policy revision the choice was made under."""
    foreign_id: str | None
    """cc: the manager's own consent identifier, a UUID."""


def read_cc_cookie(value: str) -> ImportedChoice | None:
    """The choice in a vanilla-cookieconsent 3 ``cc_cookie`` value, or None.

    Never raises: a value the library itself would not honour, or one too large,
    too deep or malformed, reads as None.
    """
    content = _json_object(value)
    if content is None:
        return None
    accepted = _keys(content.get("categories"))
    consent_id = content.get("consentId")
    if (
        accepted is None
        or not isinstance(consent_id, str)
        or not consent_id
        or not _is_set(content.get("consentTimestamp"))
        or not _is_set(content.get("lastConsentTimestamp"))
    ):
        return None
    services = _services(content.get("services"))
    revision = content.get("revision")
    return ImportedChoice(
        manager="cc_cookie",
        accepted=accepted,
        # Version 3 lists every configured category under "services", accepted or not.
        refused=frozenset(services) - accepted,
        services=services,
        decided_at=_timestamp(content.get("lastConsentTimestamp")),
        revision=revision if _is_revision(revision) else None,
        foreign_id=consent_id.lower() if _UUID.fullmatch(consent_id) else None,
    )


def read_klaro(value: str) -> ImportedChoice | None:
    """The choice in a Klaro ``klaro`` cookie value, or None.

    Never raises. Entries whose key is not a sane string or whose value is not a
    JSON boolean are ignored; a cookie with no such entry reads as None.
    """
    content = _json_object(value)
    if content is None or len(content) > MAX_ENTRIES:
        return None
    accepted = frozenset(key for key, given in content.items() if given is True and _is_key(key))
    refused = frozenset(key for key, given in content.items() if given is False and _is_key(key))
    if not accepted and not refused:
        return None
    return ImportedChoice(
        manager="klaro",
        accepted=accepted,
        refused=refused,
        services=_NO_SERVICES,
        decided_at=None,
        revision=None,
        foreign_id=None,
    )


def _json_object(value: str) -> dict[str, Any] | None:
    """The JSON object a cookie value holds, percent-encoded or not, maybe quoted."""
    if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS:
        return None
    quoted = len(value) >= 2 and value[0] == value[-1] == '"'
    text = value[1:-1] if quoted else value
    # decodeURIComponent, which both libraries read with, throws on a "%" that starts
    # no escape and on escapes that are not UTF-8: such a value is no choice to them.
    if _MALFORMED_ESCAPE.search(text):
        return None
    try:
        text = unquote(text, errors="strict")
    except UnicodeDecodeError:
        return None
    if _too_deep(text):
        return None
    try:
        content = json.loads(text, parse_constant=_not_json)
    except ValueError:
        return None
    return content if isinstance(content, dict) else None


def _too_deep(text: str) -> bool:
    """Whether the JSON text nests objects and lists deeper than MAX_NESTING."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _not_json(constant: str) -> Any:
    """``NaN`` and ``Infinity`` are Python's extension, not JSON."""
    raise ValueError(constant)


def _is_key(key: object) -> bool:
    return isinstance(key, str) and 0 < len(key) <= MAX_KEY_CHARS and key.isprintable()


def _is_set(field: object) -> bool:
    return isinstance(field, str) and field != ""


def _is_revision(revision: object) -> bool:
    return type(revision) is int and 0 <= revision < 2**31


def _keys(items: object) -> frozenset[str] | None:
    """The sane string keys of a JSON list; None when it is not a list or too long."""
    if not isinstance(items, list) or len(items) > MAX_ENTRIES:
        return None
    return frozenset(item for item in items if _is_key(item))


def _services(raw: object) -> Mapping[str, frozenset[str]]:
    """cc's ``services``: what cannot be read is left out, never guessed."""
    if not isinstance(raw, dict) or len(raw) > MAX_ENTRIES:
        return _NO_SERVICES
    services: dict[str, frozenset[str]] = {}
    for category, names in raw.items():
        keys = _keys(names)
        if _is_key(category) and keys is not None:
            services[category] = keys
    return MappingProxyType(services)


def _timestamp(raw: object) -> datetime | None:
    """An ISO 8601 time with its offset, in UTC, if between 2000 and now."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    try:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            return None
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment if EARLIEST <= moment <= datetime.now(UTC) else None


READERS: Mapping[str, Callable[[str], ImportedChoice | None]] = {
    "cc_cookie": read_cc_cookie,
    "klaro": read_klaro,
}
"""The readers by the cookie each reads: the cookies ``import_cookies`` may name."""
