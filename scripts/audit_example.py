"""Write the small consent log that docs/auditing.md audits, through the real middleware.

Run it from the repository root:

    .venv/bin/python scripts/audit_example.py audit.db

A Starlette news site behind ``ConsentMiddleware`` (three categories, a YouTube
service, the recommended regimes behind a CDN's country headers) is visited with
Starlette's ``TestClient``: seven visitors in France, Germany, Ireland, the
Netherlands, California and Texas accept, reject, choose one by one, send Global
Privacy Control, opt out, withdraw or just read, and the site sets cookies, some of which no
category declares. Every event goes through the middleware's own decision path
into a SQLite log; the script only sets the time each decision is recorded at,
so that the log spans three days and reads the same on every run. Consent ids,
event ids and chain hashes are random, so they change from run to run; the
cookie inventory's first and last sightings are the time the script ran.

It ends by reading the log back and printing each visitor's consent id and the
notices they were shown. The file must not exist yet.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consent import (
    REGIMES_RECOMMENDED,
    Category,
    ConsentMiddleware,
    ConsentSettings,
    Service,
)
from consent.log import ConsentEvent, SqlConsentLog, event_record, read_events

SITE = "https://news.example"


def site_settings(cache_mode: str = "vary") -> ConsentSettings:
    """The example site's consent settings (``cache_mode`` for ``consent vcl``)."""
    return ConsentSettings(
        # An example key, published here: a real site keeps its own secret.
        secret_key="audit-example-secret-key-not-for-production-0123",  # noqa: S106
        categories=[
            Category(
                key="analytics",
                title="Analytics",
                description="Audience measurement: which articles are read.",
                cookies=["_ga", "_ga_*"],
            ),
            Category(
                key="marketing",
                title="Advertising",
                description="Advertising partners' cookies.",
                cookies=["_fbp"],
                gpc_opt_out=True,
            ),
            Category(
                key="media",
                title="Videos",
                description="Videos embedded from other sites.",
                services=[
                    Service(
                        key="youtube",
                        name="YouTube",
                        provider="Google Ireland Ltd.",
                        cookies=["YSC", "VISITOR_INFO1_LIVE"],
                        hosts=["www.youtube-nocookie.com"],
                        retention="6 months",
                    )
                ],
            ),
        ],
        necessary_cookies=["session"],
        geo_header="cf-ipcountry",
        geo_region_header="cf-region-code",
        regimes=REGIMES_RECOMMENDED,
        cache_mode=cache_mode,
        log_url=None,  # the log is given to the middleware below
    )


def cached_settings() -> ConsentSettings:
    """The same site behind Varnish with ESI, for ``consent vcl``:
    ``PYTHONPATH=scripts consent vcl --settings audit_example:cached_settings``."""
    return site_settings("esi")


# --- the site ------------------------------------------------------------------------------

PAGE = (
    "<!doctype html><html lang='en'><head><title>{title}</title></head>"
    "<body><h1>{title}</h1></body></html>"
)

# What the article's response sets: a session (necessary), the categories' cookies, and
# two names no category declares (Microsoft Clarity's, which the catalogue knows, and
# an A/B test's bucket, which it does not).
ARTICLE_COOKIES = ("session=s1", "_ga=GA1.1.1", "_fbp=fb.1.1", "_clck=c1", "ab_bucket=b")


async def front_page(request: Request) -> Response:
    return HTMLResponse(PAGE.format(title="News"))


async def article(request: Request) -> Response:
    response = HTMLResponse(PAGE.format(title="Trams return to the old town"))
    for cookie in ARTICLE_COOKIES:
        response.headers.append("set-cookie", f"{cookie}; Path=/; Secure")
    return response


@dataclass
class ScriptedClock:
    """The time the next decision is recorded at."""

    now: datetime = datetime(2026, 11, 23, tzinfo=UTC)


class ClockedLog(SqlConsentLog):
    """The SQLite log, recording each event at the scripted time instead of the server's."""

    def __init__(self, url: str, clock: ScriptedClock) -> None:
        super().__init__(url)
        self.clock = clock

    async def record(self, event: ConsentEvent, notice: Mapping[str, Any]) -> None:
        """Store the event as the middleware made it, at the scripted time."""
        await super().record(dataclasses.replace(event, occurred_at=self.clock.now), notice)


def create_site(log: SqlConsentLog) -> Starlette:
    """The news site behind ConsentMiddleware, which starts and closes the log with it."""
    return Starlette(
        routes=[Route("/", front_page), Route("/articles/trams", article)],
        middleware=[Middleware(ConsentMiddleware, settings=site_settings(), log=log)],
    )


# --- the visitors --------------------------------------------------------------------------


@dataclass
class Visitor:
    """One browser: its place, language, Global Privacy Control, and cookie jar."""

    name: str
    country: str
    region: str = ""
    language: str = "en"
    gpc: bool = False
    cookies: httpx2.Cookies = field(default_factory=httpx2.Cookies)

    @property
    def place(self) -> str:
        return f"{self.country}-{self.region}" if self.region else self.country

    def headers(self) -> dict[str, str]:
        """What the CDN in front adds (country, region), and what the browser sends."""
        headers = {"cf-ipcountry": self.country, "accept-language": self.language}
        if self.region:
            headers["cf-region-code"] = self.region
        if self.gpc:
            headers["sec-gpc"] = "1"
        return headers


class Browsing:
    """Visitors' requests through one TestClient, each with their own cookies."""

    def __init__(self, client: TestClient, clock: ScriptedClock) -> None:
        self.client = client
        self.clock = clock

    def read(self, visitor: Visitor, path: str, at: str) -> str:
        """The visitor reads a page at a time (ISO 8601, UTC); returns its HTML."""
        return self._send(visitor, "GET", path, at).text

    def decide(self, visitor: Visitor, at: str, **form: str | list[str]) -> None:
        """The visitor submits one of the banner's or preferences page's forms."""
        response = self._send(visitor, "POST", "/_consent", at, data=form)
        if response.status_code != 303:
            raise RuntimeError(f"{visitor.name}: decision answered {response.status_code}")

    def _send(
        self, visitor: Visitor, method: str, path: str, at: str, data: Any = None
    ) -> httpx2.Response:
        self.clock.now = datetime.fromisoformat(at).replace(tzinfo=UTC)
        self.client.cookies = visitor.cookies
        headers = visitor.headers()
        if method == "POST":
            headers["origin"] = SITE
        response = self.client.request(
            method, path, headers=headers, data=data, follow_redirects=False
        )
        visitor.cookies = httpx2.Cookies(self.client.cookies)
        return response


def expect(condition: bool, what: str) -> None:
    """Stop the example if the site does not do what it shows."""
    if not condition:
        raise RuntimeError(f"expected: {what}")


def browse(browsing: Browsing, visitors: dict[str, Visitor]) -> None:
    """Three days of the site's decisions."""
    anna, ben, chloe, dan, eve, finn, gus = visitors.values()
    banner, preferences = "banner", "preferences"

    # Monday: a French reader accepts all; a German one rejects all; a Californian
    # accepts all from the "Your Privacy Choices" page.
    page = browsing.read(anna, "/articles/trams", "2026-11-23T09:12:04")
    expect("data-consent-banner" in page, "an undecided visitor in France gets the banner")
    browsing.decide(anna, "2026-11-23T09:12:31", action="accept_all", mechanism=banner, locale="fr")
    browsing.read(anna, "/articles/trams", "2026-11-23T09:13:02")
    browsing.read(ben, "/articles/trams", "2026-11-23T09:40:17")
    browsing.decide(ben, "2026-11-23T09:40:51", action="reject_all", mechanism=banner, locale="de")
    browsing.read(ben, "/articles/trams", "2026-11-23T09:41:30")
    browsing.read(eve, "/articles/trams", "2026-11-23T17:05:44")
    browsing.decide(eve, "2026-11-23T17:06:10", action="accept_all", mechanism=preferences)

    # Tuesday: an Irish reader allows analytics and YouTube alone; the Californian
    # comes back with Global Privacy Control on, which opts her out of advertising
    # (no pop-up, one "gpc" event); a Dutch reader with GPC accepts all, which does
    # not reach advertising.
    browsing.read(chloe, "/", "2026-11-24T10:15:02")
    browsing.decide(
        chloe,
        "2026-11-24T10:16:45",
        action="save",
        categories=["analytics"],
        services=["youtube"],
        mechanism=preferences,
    )
    browsing.read(chloe, "/articles/trams", "2026-11-24T10:17:03")
    eve.gpc = True
    browsing.read(eve, "/articles/trams", "2026-11-24T11:02:38")
    browsing.read(finn, "/articles/trams", "2026-11-24T16:30:12")
    browsing.decide(finn, "2026-11-24T16:30:40", action="accept_all", mechanism=banner, locale="nl")
    browsing.read(finn, "/articles/trams", "2026-11-24T16:31:05")

    # Wednesday: a Californian clicks "Do Not Sell or Share My Personal Information";
    # a Texan reads with nothing decided (opt-out: no event); the French reader
    # withdraws from the "Cookie settings" control.
    page = browsing.read(dan, "/articles/trams", "2026-11-25T08:45:09")
    expect("Do Not Sell" in page, "an undecided visitor in California gets the opt-out notice")
    browsing.decide(dan, "2026-11-25T08:45:20", action="reject_all", mechanism=banner)
    browsing.read(gus, "/articles/trams", "2026-11-25T12:00:00")
    browsing.decide(anna, "2026-11-25T19:20:33", action="reject_all", mechanism=banner, locale="fr")


def make_visitors() -> dict[str, Visitor]:
    """The seven browsers of the example, by name."""
    visitors = [
        Visitor("anna", "FR", language="fr-FR,fr;q=0.9"),
        Visitor("ben", "DE", language="de-DE,de;q=0.9,en;q=0.5"),
        Visitor("chloe", "IE", language="en-IE,en;q=0.9"),
        Visitor("dan", "US", region="CA", language="en-US,en;q=0.9"),
        Visitor("eve", "US", region="CA", language="en-US,en;q=0.9"),
        Visitor("finn", "NL", language="nl-NL,nl;q=0.9", gpc=True),
        Visitor("gus", "US", region="TX", language="en-US,en;q=0.9"),
    ]
    return {visitor.name: visitor for visitor in visitors}


# --- the summary ---------------------------------------------------------------------------


async def summary(url: str, visitors: dict[str, Visitor]) -> str:
    """Each visitor's consent id and decisions, then the notices shown, read from the log."""
    events = [event_record(row) async for batch in read_events(url) for row in batch]
    by_id: dict[str, list[str]] = {}
    notices: dict[str, str] = {}
    for event in events:
        by_id.setdefault(event["consent_id"], []).append(event["action"])
        notices.setdefault(event["notice_hash"], event["locale"])
    days = f"{events[0]['occurred_at'][:10]} to {events[-1]['occurred_at'][:10]}"
    lines = [f"{len(events)} events, {days}", ""]
    lines.append(f"{'visitor':<8} {'place':<6} {'consent id':<23} decisions")
    for visitor in visitors.values():
        consent_id = _consent_id(visitor)
        actions = ", ".join(by_id.get(consent_id or "", [])) or "none (no event)"
        lines.append(f"{visitor.name:<8} {visitor.place:<6} {consent_id or '—':<23} {actions}")
    lines += ["", "notices shown (locale, notice hash):"]
    lines += [f"  {locale:<6} {notice_hash}" for notice_hash, locale in notices.items()]
    return "\n".join(lines)


def _consent_id(visitor: Visitor) -> str | None:
    """The consent id in the visitor's consent cookie (its first field), if any."""
    value = visitor.cookies.get("consent")
    return value.split(".")[1] if value else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="the SQLite file to write (must not exist)")
    path = parser.parse_args().database
    if path.exists():
        print(f"error: {path} exists; give a new file", file=sys.stderr)
        return 2
    url = f"sqlite:///{path}"
    clock = ScriptedClock()
    log = ClockedLog(url, clock)
    visitors = make_visitors()
    with TestClient(create_site(log), base_url=SITE) as client:
        browse(Browsing(client, clock), visitors)
    print(f"consent log written to {path}: " + asyncio.run(summary(url, visitors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
