"""What the site stores in visitors' browsers, and why: one place for the banner and the policy.

The consent settings built here drive both the middleware and the privacy page,
so the cookie table a visitor reads cannot drift from what is actually enforced.
"""

from __future__ import annotations

from dataclasses import dataclass

from consent import Category, ConsentSettings
from consent.settings import CacheMode

SESSION_COOKIE = "session"
LOAD_BALANCER_COOKIE = "SERVERID"
"""Set by a load balancer in front of the site (HAProxy's name), never by the site."""
THEME_COOKIE = "theme"
ANALYTICS_COOKIE = "site_analytics"

SESSION_DAYS = 14
"""Lifetime of the sign-in session; also passed to Starlette's SessionMiddleware."""
THEME_DAYS = 365
ANALYTICS_DAYS = 395

CATEGORIES: tuple[Category, ...] = (
    Category(
        key="preferences",
        title="Preferences",
        description=(
            "Remembers the reading mode you pick (light or dark) in a cookie on your device. "
            "Only this site reads it, and nothing about it is shared with anyone."
        ),
        cookies=(THEME_COOKIE,),
        google_consent_types=("functionality_storage", "personalization_storage"),
    ),
    Category(
        key="analytics",
        title="Analytics",
        description=(
            "Counts visits and the articles read, using a random visitor ID kept by this site "
            "and a measurement script from an analytics provider, which receives the pages "
            "you view. We use it to see which articles people read, never to show you ads."
        ),
        cookies=("_ga", "_ga_*", "_gid", ANALYTICS_COOKIE),
        google_consent_types=("analytics_storage",),
    ),
    Category(
        key="marketing",
        title="Advertising",
        description=(
            "Shows ads and measures them with an ad network's script and tracking pixel, "
            "which receive the pages you visit and can recognise your browser across other "
            "sites to build an interest profile. Sending Global Privacy Control turns it off."
        ),
        cookies=("_fbp", "_gcl_au", "IDE"),
        gpc_opt_out=True,
        google_consent_types=("ad_storage", "ad_user_data", "ad_personalization"),
    ),
    Category(
        key="media",
        title="Embedded videos",
        description=(
            "Loads videos in articles from an external video player. When it loads, the "
            "video provider receives your IP address and the page you are reading, and "
            "may store its own cookies."
        ),
    ),
)


def build_consent_settings(
    *, secret_key: str, log_url: str | None, cache_mode: CacheMode = "vary"
) -> ConsentSettings:
    """The middleware's settings for this site.

    `necessary_cookies` lists the sign-in session (it exists because the visitor asked
    to sign in) and the affinity cookie of a load balancer in front of the site. The
    consent cookie is necessary by construction.
    """
    return ConsentSettings(
        secret_key=secret_key,
        categories=CATEGORIES,
        necessary_cookies=(SESSION_COOKIE, LOAD_BALANCER_COOKIE),
        policy_revision=1,
        log_url=log_url,
        privacy_policy_url="/privacy",
        cache_mode=cache_mode,
    )


@dataclass(frozen=True)
class CookieNote:
    """What the policy says about one cookie beyond its category."""

    purpose: str
    lifetime: str
    party: str


FIRST_PARTY = "First party"
THIRD_PARTY = "Third party"
THIRD_PARTY_SCRIPT = "Third-party script, on this site's domain"

# Purposes and lifetimes are facts about the code that sets each cookie, which
# the middleware cannot know; the names and categories come from the settings.
COOKIE_NOTES: dict[str, CookieNote] = {
    SESSION_COOKIE: CookieNote(
        "Keeps you signed in after you sign in; not set until you do.",
        f"{SESSION_DAYS} days",
        FIRST_PARTY,
    ),
    LOAD_BALANCER_COOKIE: CookieNote(
        "Set by the load balancer in front of the site, where there is one, so that your "
        "requests reach the same server; it holds no personal data.",
        "Until you close the browser",
        FIRST_PARTY,
    ),
    THEME_COOKIE: CookieNote(
        "Remembers whether you read in light or dark mode.",
        f"{THEME_DAYS} days",
        FIRST_PARTY,
    ),
    ANALYTICS_COOKIE: CookieNote(
        "A random visitor ID this site's server sets on each article view, to count "
        "returning readers.",
        f"{ANALYTICS_DAYS} days",
        FIRST_PARTY,
    ),
    "_ga": CookieNote(
        "Visitor ID written by the analytics script on this site's domain.",
        f"{ANALYTICS_DAYS} days",
        THIRD_PARTY_SCRIPT,
    ),
    "_ga_*": CookieNote(
        "Session state of a Google Analytics property. Declared so that it follows your "
        "Analytics choice if a script sets it; the demo script does not.",
        "Up to 13 months",
        THIRD_PARTY_SCRIPT,
    ),
    "_gid": CookieNote(
        "Daily visitor ID used by Google Analytics. Declared; the demo script does not set it.",
        "24 hours",
        THIRD_PARTY_SCRIPT,
    ),
    "_fbp": CookieNote(
        "Browser ID written by the ad network's script to link ad views to visits.",
        "90 days",
        THIRD_PARTY_SCRIPT,
    ),
    "_gcl_au": CookieNote(
        "Links ad clicks to later visits (Google Ads conversion linker). Declared; the demo "
        "does not set it.",
        "90 days",
        THIRD_PARTY_SCRIPT,
    ),
    "IDE": CookieNote(
        "Advertising ID an ad network keeps on its own domain, reachable through the "
        "tracking pixel. Declared; the demo pixel does not set it.",
        "Up to 13 months",
        THIRD_PARTY,
    ),
}

UNDESCRIBED = CookieNote("See the category description.", "Varies", FIRST_PARTY)


@dataclass(frozen=True)
class CookieRow:
    """One line of the cookie table on the privacy page."""

    name: str
    category: str
    purpose: str
    lifetime: str
    party: str


def cookie_table(settings: ConsentSettings) -> list[CookieRow]:
    """Every cookie the settings declare, necessary ones first, for the privacy page."""
    consent_lifetime = (
        f"{settings.accept_days} days after allowing anything, "
        f"{settings.reject_days} days after refusing everything"
    )
    rows = [
        CookieRow(
            name=settings.cookie_name,
            category="Strictly necessary",
            purpose="Stores your cookie choices, signed so they cannot be altered.",
            lifetime=consent_lifetime,
            party=FIRST_PARTY,
        )
    ]
    for name in settings.necessary_cookies:
        note = COOKIE_NOTES.get(name, UNDESCRIBED)
        rows.append(CookieRow(name, "Strictly necessary", note.purpose, note.lifetime, note.party))
    for category in settings.categories:
        for name in category.cookies:
            note = COOKIE_NOTES.get(name, UNDESCRIBED)
            rows.append(CookieRow(name, category.title, note.purpose, note.lifetime, note.party))
    return rows
