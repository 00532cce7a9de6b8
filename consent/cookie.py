"""The consent cookie: sign a visitor's choice, and read it back.

This is the only module that knows the cookie's format and the only user of
itsdangerous. A value that is missing, tampered with, signed with an unknown
key, too old, or of another policy revision reads as "not decided": the banner
comes back and nothing optional passes.

Format (before signing): ``1.<consent id>.<revision>.<how>.<granted>`` where
``how`` is ``a`` (accept all), ``r`` (reject all) or ``s`` (saved one by one)
and ``granted`` lists the granted category keys joined by ``~``. A visitor who
allowed services one by one, outside the categories they granted, gets
``2.<consent id>.<revision>.<how>.<granted>.<services>``: ``services`` is four
characters that fingerprint the site's list of services, then one bit per
service in that list, base64url. 30 services take 9 characters, so the cookie
stays under 200 bytes; a site whose list of services changed reads the bits as
nothing allowed one by one (the categories still count). itsdangerous appends
``.<timestamp>.<signature>``. Every character is URL-safe.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from .cache import BUDGETS, BoundedCache
from .settings import ConsentSettings

Method = Literal["a", "r", "s"]
FORMAT_VERSION = "1"
SERVICES_FORMAT_VERSION = "2"
_SALT = "consent.cookie.v1"
_CONSENT_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_METHODS: dict[str, Method] = {"a": "a", "r": "r", "s": "s"}


@dataclass(frozen=True, slots=True)
class StoredChoice:
    """A verified choice, as the cookie holds it."""

    consent_id: str
    revision: int
    method: Method
    granted: frozenset[str]
    """Granted category keys, ``necessary`` not included."""
    services: frozenset[str]
    """Services allowed one by one, outside the granted categories."""
    signed_at: int
    """Unix time the cookie was signed."""
    expires_at: int
    """Unix time after which the choice no longer counts."""


def new_consent_id() -> str:
    """A random, URL-safe identifier for one browser's sequence of choices."""
    return secrets.token_urlsafe(16)


class ConsentCookie:
    """Signs choices into cookie values and verifies them, with a bounded cache.

    Verification costs an HMAC; a returning visitor sends the same value on
    every request, so verified values are remembered and checked again only
    for their expiry.
    """

    def __init__(self, settings: ConsentSettings) -> None:
        keys = [k.get_secret_value() for k in reversed(settings.old_secret_keys)]
        keys.append(settings.secret_key.get_secret_value())
        # itsdangerous signs with the last key and accepts any of them.
        self._signer = TimestampSigner(keys, salt=_SALT)
        self._revision = settings.policy_revision
        self._known_categories = frozenset(settings.category_keys)
        self._accept_seconds = settings.accept_days * 86400
        self._reject_seconds = settings.reject_days * 86400
        self._verified: BoundedCache[str, StoredChoice] = BoundedCache(BUDGETS["choices"])
        self._services = ServiceBits(tuple(settings.service_categories))

    def lifetime(self, granted: frozenset[str]) -> int:
        """Seconds a choice is kept: the accept lifetime if it grants anything."""
        return self._accept_seconds if granted else self._reject_seconds

    def sign(
        self,
        consent_id: str,
        method: Method,
        granted: frozenset[str],
        services: frozenset[str] = frozenset(),
    ) -> str:
        """The cookie value for a new choice (``services``: those allowed one by one)."""
        fields = [consent_id, str(self._revision), method, "~".join(sorted(granted))]
        if services:
            payload = ".".join((SERVICES_FORMAT_VERSION, *fields, self._services.encode(services)))
        else:
            payload = ".".join((FORMAT_VERSION, *fields))
        return self._signer.sign(payload).decode("ascii")

    def read(self, value: str | None) -> StoredChoice | None:
        """The choice a cookie value holds, or None when it does not count."""
        if not value:
            return None
        now = time.time()
        choice = self._verified.get(value)
        if choice is None:
            choice = self._verify(value)
            if choice is None:
                return None
            self._verified.put(value, choice, 512 + 2 * len(value))
        if now >= choice.expires_at:
            return None
        return choice

    def consent_id_of(self, value: str | None) -> str | None:
        """The identifier in a genuine cookie, even one expired or of an older revision."""
        if not value or len(value) > 1024:
            return None
        try:
            payload = self._signer.unsign(value)
            consent_id = payload.decode("ascii").split(".")[1]
        except (BadSignature, UnicodeDecodeError, IndexError):
            return None
        return consent_id if _CONSENT_ID.match(consent_id) else None

    def _verify(self, value: str) -> StoredChoice | None:
        if len(value) > 1024:
            return None
        try:
            payload, signed_at = self._signer.unsign(
                value, max_age=self._accept_seconds, return_timestamp=True
            )
            version, consent_id, revision, method, granted, *rest = payload.decode("ascii").split(
                "."
            )
        except (BadSignature, SignatureExpired, UnicodeDecodeError, ValueError):
            return None
        how = _METHODS.get(method)
        services = frozenset[str]()
        if version == SERVICES_FORMAT_VERSION and len(rest) == 1:
            services = self._services.decode(rest[0])
        elif version != FORMAT_VERSION or rest:
            return None
        if how is None or revision != str(self._revision) or not _CONSENT_ID.match(consent_id):
            return None
        # A category the site no longer declares grants nothing.
        granted_set = frozenset(granted.split("~")) & self._known_categories
        signed = int(signed_at.timestamp())
        return StoredChoice(
            consent_id=consent_id,
            revision=self._revision,
            method=how,
            granted=granted_set,
            services=services,
            signed_at=signed,
            expires_at=signed + self.lifetime(granted_set | services),
        )


class ServiceBits:
    """Services allowed one by one, as bits over the site's list of services."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        digest = hashlib.sha256("\n".join(keys).encode("ascii")).digest()
        self.fingerprint = base64.urlsafe_b64encode(digest[:3]).decode("ascii")
        self._index = {key: index for index, key in enumerate(keys)}

    def encode(self, services: frozenset[str]) -> str:
        bits = bytearray((len(self.keys) + 7) // 8)
        for key in services:
            index = self._index[key]
            bits[index // 8] |= 1 << (index % 8)
        return self.fingerprint + base64.urlsafe_b64encode(bits).decode("ascii").rstrip("=")

    def decode(self, text: str) -> frozenset[str]:
        """The services in ``text``; none when it was written for another list of them."""
        if not text.startswith(self.fingerprint) or len(text) > 4 + 2 * len(self.keys) + 4:
            return frozenset()
        encoded = text[4:]
        try:
            bits = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except ValueError:
            return frozenset()
        return frozenset(
            key
            for index, key in enumerate(self.keys)
            if index // 8 < len(bits) and bits[index // 8] >> (index % 8) & 1
        )
