"""The newsletter form on every example's front page, and why it makes the session necessary.

The form carries an anti-forgery token that the visitor's session holds: the
framework's session cookie is set on the first visit, before any choice, and is
strictly necessary because it protects a form the visitor uses. Each site reads
and writes its session its framework's way and hands it here as a mapping.
(The Django example uses Django's own ``CsrfViewMiddleware`` instead.)
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

MAX_EMAIL = 254
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class NewsletterForm:
    """What the front page's form shows: its token, or the address already signed up."""

    csrf: str
    subscribed: str | None


def newsletter_form(session: MutableMapping[str, Any]) -> NewsletterForm:
    """The form for the visitor of ``session``; its first token starts the session."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    subscribed = session.get("newsletter")
    return NewsletterForm(
        csrf=token, subscribed=subscribed if isinstance(subscribed, str) else None
    )


def sign_up(fields: Mapping[str, str], session: MutableMapping[str, Any]) -> str | None:
    """Sign up the address the form's ``fields`` give, in ``session``.

    Returns None when done, else why the form is refused (to answer with ``400``):
    a token that is not the session's, or no email address.
    """
    token = session.get("csrf")
    sent = fields.get("csrf", "")
    if not isinstance(token, str) or not secrets.compare_digest(sent.encode(), token.encode()):
        return "The form has expired: reload the page and try again."
    address = fields.get("email", "").strip()
    if len(address) > MAX_EMAIL or not _EMAIL.fullmatch(address):
        return "Enter an email address."
    session["newsletter"] = address
    return None
