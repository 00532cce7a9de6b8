"""What the site stores in visitors' browsers, and who it loads from: one place for the
banner, the preferences and the privacy page.

The consent settings built here drive the middleware and the cookie declaration
the privacy page shows (`consent.declaration.cookie_declaration`), so what a
visitor reads cannot drift from what is actually enforced.

The site's own cookies belong to their category; the third parties it loads (a
measurement script, an ad network, two video hosts) are `Service`s, each of
which a visitor can allow alone. All four are stand-ins served by `thirdparty.py`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from consent import Category, ConsentSettings, Service
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

ANALYTICS_SERVICE = "quayside-metrics"
AD_NETWORK_SERVICE = "lanternfish-ads"
HARBOURTON_VIDEO = "harbourton-video"
VISTALINE_VIDEO = "vistaline"


def _services_loaded_from(tracker_origin: str) -> dict[str, Service]:
    """The stand-in third parties, by key, as loaded from `tracker_origin`.

    With a tracker origin, each links to its privacy policy there, and the video
    players name its host; without one the site serves them itself, so they have no
    host of their own. The measurement and ad scripts name none although they load
    from there too: the cookies they set are on this site's domain, and the cookie
    declaration counts every cookie of a service with hosts as a third party's.
    """
    host = urlsplit(tracker_origin).hostname or ""
    # A service's hosts are host names; an IPv6 literal is not one.
    hosts = (host,) if host and ":" not in host else ()

    def policy(key: str) -> str:
        return f"{tracker_origin.rstrip('/')}/privacy/{key}" if tracker_origin else ""

    return {
        ANALYTICS_SERVICE: Service(
            key=ANALYTICS_SERVICE,
            name="Quayside Metrics",
            provider="Quayside Metrics Ltd.",
            description=(
                "Its measurement script receives the address of each page you read. It keeps "
                "a visitor ID in the _ga cookie on this site's domain for 13 months; _ga_* "
                "(session state, up to 13 months) and _gid (a daily ID, 24 hours) are declared "
                "so that they follow your choice if a version of the script sets them."
            ),
            cookies=("_ga", "_ga_*", "_gid"),
            retention="Up to 13 months",
            privacy_policy_url=policy(ANALYTICS_SERVICE),
        ),
        AD_NETWORK_SERVICE: Service(
            key=AD_NETWORK_SERVICE,
            name="Lanternfish Ads",
            provider="Lanternfish Advertising Ltd.",
            description=(
                "Its script fills the advertisement slot and its tracking pixel counts the "
                "views. The script keeps a browser ID in the _fbp cookie on this site's domain "
                "for 90 days, to link ad views to visits; _gcl_au (ad clicks to later visits, "
                "90 days) and IDE (an advertising ID on the network's own domain, up to 13 "
                "months) are declared so that they follow your choice if it sets them."
            ),
            cookies=("_fbp", "_gcl_au", "IDE"),
            retention="Up to 13 months",
            privacy_policy_url=policy(AD_NETWORK_SERVICE),
        ),
        HARBOURTON_VIDEO: Service(
            key=HARBOURTON_VIDEO,
            name="Harbourton Video",
            provider="Harbourton Video Ltd.",
            description=(
                "The city's video host, which plays the council's films. Its player receives "
                "your IP address and the page you are reading."
            ),
            hosts=hosts,
            privacy_policy_url=policy(HARBOURTON_VIDEO),
        ),
        VISTALINE_VIDEO: Service(
            key=VISTALINE_VIDEO,
            name="Vistaline",
            provider="Vistaline Media B.V.",
            description=(
                "The video platform our reporters publish their films on. Its player receives "
                "your IP address and the page you are reading."
            ),
            hosts=hosts,
            privacy_policy_url=policy(VISTALINE_VIDEO),
        ),
    }


def site_categories(tracker_origin: str = "") -> tuple[Category, ...]:
    """The categories a visitor chooses from, with the third parties loaded from
    `tracker_origin` (empty: served by the site itself)."""
    services = _services_loaded_from(tracker_origin)
    return (
        Category(
            key="preferences",
            title="Preferences",
            description=(
                "Remembers the reading mode you pick (light or dark) in a cookie on your "
                "device for a year. Only this site reads it, and nothing about it is shared "
                "with anyone."
            ),
            cookies=(THEME_COOKIE,),
            google_consent_types=("functionality_storage", "personalization_storage"),
        ),
        Category(
            key="analytics",
            title="Analytics",
            description=(
                "Counts visits and the articles read, using a random visitor ID this site's "
                "server keeps for 13 months and a measurement script from an analytics "
                "provider, which receives the pages you view. We use it to see which "
                "articles people read, never to show you ads."
            ),
            cookies=(ANALYTICS_COOKIE,),
            services=(services[ANALYTICS_SERVICE],),
            google_consent_types=("analytics_storage",),
        ),
        Category(
            key="marketing",
            title="Advertising",
            description=(
                "Shows ads and measures them with an ad network's script and tracking pixel, "
                "which receive the pages you visit and can recognise your browser across "
                "other sites to build an interest profile. Sending Global Privacy Control "
                "turns it off."
            ),
            services=(services[AD_NETWORK_SERVICE],),
            gpc_opt_out=True,
            google_consent_types=("ad_storage", "ad_user_data", "ad_personalization"),
        ),
        Category(
            key="media",
            title="Embedded videos",
            description=(
                "Loads videos in articles from external video players. When one loads, its "
                "provider receives your IP address and the page you are reading, and may "
                "store its own cookies. You can allow each video service on its own."
            ),
            services=(services[HARBOURTON_VIDEO], services[VISTALINE_VIDEO]),
        ),
    )


def build_consent_settings(
    *,
    secret_key: str,
    log_url: str | None,
    cache_mode: CacheMode = "vary",
    tracker_origin: str = "",
) -> ConsentSettings:
    """The middleware's settings for this site.

    `necessary_cookies` lists the sign-in session (it exists because the visitor asked
    to sign in) and the affinity cookie of a load balancer in front of the site. The
    consent cookie is necessary by construction. `tracker_origin` is where the third
    parties load from (see `create_app`).
    """
    return ConsentSettings(
        secret_key=secret_key,
        categories=site_categories(tracker_origin),
        necessary_cookies=(SESSION_COOKIE, LOAD_BALANCER_COOKIE),
        policy_revision=1,
        log_url=log_url,
        privacy_policy_url="/privacy",
        cache_mode=cache_mode,
    )
