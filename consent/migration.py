"""Moving from another consent manager: an earlier choice becomes the visitor's consent.

``import_cookies={"cc_cookie": {"analytics": "analytics", "ads": "marketing"},
"klaro": {"google-analytics": "analytics"}}`` names, for each manager's cookie, what
its keys (vanilla-cookieconsent's categories and services, Klaro's services) are
here: a category or a service. A visitor who arrives with such a cookie and no
consent cookie of ours keeps the choice they made: what they accepted and is mapped
is granted, everything else is refused. The middleware signs it into the consent
cookie on that first response, logs it once (mechanism ``import``) and expires the
old cookie. A cookie that cannot be read changes nothing: the banner shows as usual.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from .cookie import Method
from .cookie_headers import cookie_value
from .imports import READERS, ImportedChoice
from .log import Action
from .settings import ConsentSettings


@dataclass(frozen=True, slots=True)
class Imported:
    """An earlier manager's choice, in this site's terms."""

    cookie_name: str
    """The old cookie, to expire."""
    digest: bytes
    """Of the old cookie's value: the same choice is logged once."""
    method: Method
    action: Action
    """How the log records it: ``accept_all``, ``reject_all`` or ``custom``."""
    granted: frozenset[str]
    """Granted category keys (``necessary`` not included)."""
    services: frozenset[str]
    """Services allowed one by one, outside the granted categories."""
    max_age: int | None
    """Seconds the choice has left, counted from when it was made (when the old cookie
    says); None: a whole lifetime."""
    consent_id: str
    """The old manager's identifier of the choice (vanilla-cookieconsent's UUID), so that
    the two logs meet; else one made from the old cookie, the same for each request."""


class Importer:
    """Finds an earlier manager's cookie in a ``Cookie`` header and maps its choice."""

    def __init__(self, settings: ConsentSettings) -> None:
        self._maps = settings.import_cookies
        self.markers = tuple(name.encode("latin-1") + b"=" for name in self._maps)
        self._categories = frozenset(settings.category_keys)
        self._service_categories = settings.service_categories
        self._accept_seconds = settings.accept_days * 86400
        self._reject_seconds = settings.reject_days * 86400

    def read(self, cookie_header: bytes) -> Imported | None:
        """The first readable earlier choice in the header, or None."""
        for (name, mapping), marker in zip(self._maps.items(), self.markers, strict=True):
            if marker not in cookie_header:
                continue
            value = cookie_value(cookie_header, name)
            choice = READERS[name](value) if value else None
            if choice is not None:
                imported = self._mapped(name, value or "", choice, mapping)
                if imported.max_age is None or imported.max_age > 0:
                    return imported  # else older than this site keeps a choice: ask again
        return None

    def _mapped(
        self, name: str, value: str, choice: ImportedChoice, mapping: Mapping[str, str]
    ) -> Imported:
        accepted = set(choice.accepted)
        for services in choice.services.values():
            accepted |= services
        targets = {mapping[key] for key in accepted if key in mapping}
        granted = frozenset(targets & self._categories)
        services = frozenset(
            key
            for key in targets
            if key in self._service_categories and self._service_categories[key] not in granted
        )
        # Never "chosen one by one": a GPC signal still opts out of what it covers.
        method: Method = "a" if granted or services else "r"
        action: Action = "custom"
        if granted == self._categories and self._categories:
            action = "accept_all"
        elif not granted and not services:
            action = "reject_all"
        max_age = None
        if choice.decided_at is not None:
            lifetime = self._accept_seconds if granted or services else self._reject_seconds
            age = datetime.now(UTC) - choice.decided_at
            max_age = lifetime - int(age.total_seconds())
        digest = hashlib.sha256(f"{name}={value}".encode()).digest()[:16]
        return Imported(
            cookie_name=name,
            digest=digest,
            method=method,
            action=action,
            max_age=max_age,
            granted=granted,
            services=services,
            consent_id=choice.foreign_id
            or base64.urlsafe_b64encode(digest).decode("ascii").rstrip("="),
        )
