"""The consent policy of the framework examples: what they ask the visitor, and the
settings of the middleware that enforces the answer.

Each site sets one optional cookie of its own, ``site_analytics``, from its article
view on every visit, whatever the visitor chose: keeping it from visitors who have
not allowed analytics is the middleware's job. The framework's session cookie is
the one strictly necessary cookie, because it protects the newsletter form.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from consent import Category, ConsentSettings

ANALYTICS_COOKIE = "site_analytics"
"""The analytics visitor ID, set by each site's article view."""
ANALYTICS_MAX_AGE = 395 * 24 * 60 * 60
"""Thirteen months, in seconds: the longest a measurement cookie should live."""

DEMO_SECRET_KEY = "DEMO-ONLY-insecure-secret-key-set-CONSENT_SECRET_KEY"
"""Used when ``CONSENT_SECRET_KEY`` is unset, so that the examples start with no setup. Never
in production: anyone who reads this file can forge the consent cookies and sessions it signs."""

CATEGORIES = (
    Category(
        key="preferences",
        title="Preferences",
        description=(
            "Remembers display choices you make on this site in a cookie on your device "
            "for a year. Only this site reads it."
        ),
        cookies=("theme",),
    ),
    Category(
        key="analytics",
        title="Analytics",
        description=(
            "Counts visits and the articles read, with a random visitor ID this site keeps "
            "for 13 months and a measurement script of its own. Nothing is shared."
        ),
        cookies=(ANALYTICS_COOKIE,),
    ),
    Category(
        key="marketing",
        title="Advertising",
        description=(
            "Shows ads and measures them with an ad network's cookies, which can recognise "
            "your browser on other sites. Sending Global Privacy Control turns it off."
        ),
        cookies=("_fbp", "IDE"),
        gpc_opt_out=True,
    ),
)
"""What the visitor chooses among; ``necessary`` is built in. The sites set no preferences
or advertising cookie: those two categories are declared so that the banner offers a real
choice, and so that Global Privacy Control has an advertising category to turn off."""

_VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def site_secret_key() -> str:
    """``CONSENT_SECRET_KEY``, else the demo key: it signs the consent cookie and the session."""
    return os.environ.get("CONSENT_SECRET_KEY") or DEMO_SECRET_KEY


def consent_settings(
    *, secret_key: str, session_cookie: str, log_url: str | None
) -> ConsentSettings:
    """The middleware's settings for an example site.

    ``session_cookie`` is the name of the framework's session cookie, the site's
    only strictly necessary cookie; ``log_url`` is the consent log database (None:
    no log).
    """
    return ConsentSettings(
        secret_key=secret_key,
        categories=CATEGORIES,
        necessary_cookies=(session_cookie,),
        log_url=log_url,
    )


@dataclass(frozen=True)
class AnalyticsCookie:
    """The analytics cookie a site's article view sets: name, value and lifetime in seconds."""

    name: str
    value: str
    max_age: int


def analytics_cookie(cookies: Mapping[str, str]) -> AnalyticsCookie:
    """The analytics cookie to set on a request that sent ``cookies``: with the visitor ID
    the browser holds, when it is well formed, else a new one."""
    held = cookies.get(ANALYTICS_COOKIE, "")
    value = held if _VISITOR_ID.fullmatch(held) else secrets.token_urlsafe(16)
    return AnalyticsCookie(name=ANALYTICS_COOKIE, value=value, max_age=ANALYTICS_MAX_AGE)
