"""Google Consent Mode's defaults, the first tag of every page's ``<head>``."""

from __future__ import annotations

import html
import json
from typing import Any

from .settings import GOOGLE_CONSENT_TYPES, ConsentSettings
from .snippet import HOLES, NONCE, Snippet, snippet_of


class ConsentModeTag:
    """The ``<script>`` that gives Google Consent Mode its defaults before any other tag.

    Everything starts ``denied`` (``security_storage`` is always ``granted``); a
    decided visitor's page also sends the ``update`` with their choice, since
    Consent Mode stores nothing itself. With a CSP nonce the script is inline
    (no request holds up the first paint); without one it is the external file,
    which a strict CSP allows.
    """

    def __init__(self, settings: ConsentSettings, script_url: str, source: str) -> None:
        # Categories and services alike: a service allowed alone grants its own types.
        self._types = {c.key: c.google_consent_types for c in settings.categories}
        self._types.update(
            (s.key, s.google_consent_types) for c in settings.categories for s in c.services
        )
        self.enabled = any(self._types.values())
        self._script_url = script_url
        self._source = source
        self._tags: dict[tuple[bool, frozenset[str], bool], Snippet] = {}

    def state(self, decided: bool, granted: frozenset[str]) -> dict[str, Any]:
        """The ``default`` and ``update`` commands for a visitor.

        Before any choice, the default grants what the regime grants: nothing
        optional where consent comes first, the rest where it does not.
        """
        allowed = {t for key in granted for t in self._types.get(key, ())}
        default: dict[str, Any] = dict.fromkeys(GOOGLE_CONSENT_TYPES, "denied")
        if not decided:
            default.update(dict.fromkeys(allowed, "granted"))
        default["security_storage"] = "granted"
        default["wait_for_update"] = 500
        update = None
        if decided:
            update = {t: "granted" if t in allowed else "denied" for t in GOOGLE_CONSENT_TYPES}
        return {"default": default, "update": update}

    def render(self, decided: bool, granted: frozenset[str], nonce: str) -> bytes:
        """The tag for one request."""
        key = (decided, granted, bool(nonce))
        tag = self._tags.get(key)
        if tag is None:
            data = html.escape(json.dumps(self.state(decided, granted), separators=(",", ":")))
            hole = HOLES[NONCE]
            if nonce:
                markup = f'<script{hole} data-consent-mode="{data}">{self._source}</script>'
            else:
                src = html.escape(self._script_url)
                markup = f'<script src="{src}" data-consent-mode="{data}"></script>'
            tag = snippet_of(markup)
            # Few distinct choices exist, but keep the cache bounded all the same.
            if len(self._tags) < 256:
                self._tags[key] = tag
        return tag.render("", nonce)
