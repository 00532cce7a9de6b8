"""The site's pages and forms.

The handlers are written as an ordinary site would write them, with no
knowledge of consent: the article page sets its analytics cookie on every
view, and the theme form always sets its cookie. Keeping those cookies away
from visitors who refused them is the middleware's job, which is the point.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from consent import ConsentSettings, ConsentState, get_consent
from consent.declaration import cookie_declaration

from .articles import ARTICLES, find_article
from .cookie_policy import (
    AD_NETWORK_SERVICE,
    ANALYTICS_COOKIE,
    ANALYTICS_DAYS,
    ANALYTICS_SERVICE,
    THEME_COOKIE,
    THEME_DAYS,
)

TEMPLATES_DIR = Path(__file__).parent / "templates"
SITE_NAME = "The Harbourton Courier"
THEMES = ("light", "dark")
DEMO_PASSWORD = "demo"
DAY = 24 * 60 * 60

MAX_FORM_BYTES = 16 * 1024
MAX_USERNAME = 40
_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def long_date(value: date) -> str:
    """A date as a newspaper prints it: "14 April 2026"."""
    return f"{value.day} {value:%B %Y}"


def make_templates(*, tracker_url: str, preferences_url: str) -> Jinja2Templates:
    """Jinja2 templates with autoescaping and the values every page needs."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        # A misspelt variable should fail loudly in development, not render as "".
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["long_date"] = long_date
    env.globals.update(
        site_name=SITE_NAME,
        tracker=tracker_url,
        preferences_url=preferences_url,
        themes=THEMES,
        analytics_service=ANALYTICS_SERVICE,
        ad_service=AD_NETWORK_SERVICE,
    )

    def page_context(request: Request) -> dict[str, Any]:
        theme = request.cookies.get(THEME_COOKIE)
        return {
            "user": request.session.get("user"),
            # No cookie (or a refused one, which the middleware hides) means
            # "follow the device setting", handled in CSS.
            "theme": theme if theme in THEMES else "auto",
            "current_path": _path_with_query(request),
        }

    return Jinja2Templates(env=env, context_processors=[page_context])


@dataclass(frozen=True)
class Choice:
    """One category of the visitor's current choices, as the privacy page words it."""

    title: str
    summary: str
    """Either "allowed" or "refused", or each service's state when only some are allowed."""


def current_choices(settings: ConsentSettings, consent: ConsentState) -> list[Choice]:
    """What the visitor allows, by category: a category allowed as a whole covers all of
    its services; else the services allowed one by one are named beside the others."""
    choices = []
    for category in settings.categories:
        allowed = [consent.allows(service.key) for service in category.services]
        if consent.allows(category.key) or not any(allowed):
            summary = "allowed" if consent.allows(category.key) else "refused"
        else:
            summary = ", ".join(
                f"{service.name} {'allowed' if one else 'refused'}"
                for service, one in zip(category.services, allowed, strict=True)
            )
        choices.append(Choice(category.title, summary))
    return choices


class SiteViews:
    """The request handlers, sharing the templates and the consent settings."""

    def __init__(self, templates: Jinja2Templates, settings: ConsentSettings) -> None:
        self.templates = templates
        self.settings = settings
        # The privacy page's cookie tables: what the middleware enforces, in English,
        # made once (the settings do not change while the site runs).
        self.declaration = cookie_declaration(settings, "en")
        self.services = {s.key: s for category in settings.categories for s in category.services}

    @property
    def routes(self) -> list[Route]:
        """The site's routes; static files and the tracker are mounted by the app."""
        return [
            Route("/", self.front_page, methods=["GET"], name="front_page"),
            Route("/articles/{slug}", self.article, methods=["GET"], name="article"),
            Route("/theme", self.set_theme, methods=["POST"], name="theme"),
            Route("/login", self.login_form, methods=["GET"], name="login_form"),
            Route("/login", self.login, methods=["POST"], name="login"),
            Route("/logout", self.logout, methods=["POST"], name="logout"),
            Route("/privacy", self.privacy, methods=["GET"], name="privacy"),
        ]

    def cacheable(self, request: Request, response: Response) -> Response:
        """Behind a page cache (``cache_mode`` "esi" or "shared"), a page that is the same
        for every visitor is marked for it: five minutes in the shared cache, checked by
        browsers each time. A signed-in reader's page, or one in their reading mode, is
        theirs alone."""
        if self.settings.cache_mode == "vary":
            return response
        personal = "user" in request.session or THEME_COOKIE in request.cookies
        response.headers["cache-control"] = (
            "private, no-store" if personal else "public, max-age=0, s-maxage=300"
        )
        return response

    async def front_page(self, request: Request) -> Response:
        """The list of articles, newest first."""
        page = self.templates.TemplateResponse(request, "index.html", {"articles": ARTICLES})
        return self.cacheable(request, page)

    async def article(self, request: Request) -> Response:
        """One article; records a visit in the `site_analytics` cookie every time."""
        article = find_article(request.path_params["slug"])
        if article is None:
            raise HTTPException(status_code=404)
        video_service = self.services[article.video.service] if article.video else None
        response = self.templates.TemplateResponse(
            request, "article.html", {"article": article, "video_service": video_service}
        )
        # Deliberately unconditional, as most sites' analytics code is: the middleware
        # removes this header for visitors who have not granted "analytics".
        visitor_id = request.cookies.get(ANALYTICS_COOKIE, "")
        if not _VISITOR_ID.match(visitor_id):
            visitor_id = secrets.token_urlsafe(16)
        response.set_cookie(
            ANALYTICS_COOKIE,
            visitor_id,
            max_age=ANALYTICS_DAYS * DAY,
            samesite="lax",
            httponly=True,
        )
        return self.cacheable(request, response)

    async def set_theme(self, request: Request) -> Response:
        """Store the reading mode in the `theme` cookie and go back to the page."""
        form = await read_urlencoded_form(request)
        response = RedirectResponse(safe_local_path(form.get("next")), status_code=303)
        theme = form.get("theme")
        if theme in THEMES:
            response.set_cookie(
                THEME_COOKIE, theme, max_age=THEME_DAYS * DAY, samesite="lax", httponly=True
            )
        return response

    async def login_form(self, request: Request) -> Response:
        """The sign-in form."""
        return self.templates.TemplateResponse(request, "login.html", {"error": None})

    async def login(self, request: Request) -> Response:
        """Sign in with any username and the password "demo"."""
        form = await read_urlencoded_form(request)
        username = " ".join(form.get("username", "").split())[:MAX_USERNAME]
        password = form.get("password", "")
        if not username or not secrets.compare_digest(password.encode(), DEMO_PASSWORD.encode()):
            return self.templates.TemplateResponse(
                request,
                "login.html",
                {"error": "Enter a username and the password demo.", "username": username},
                status_code=400,
            )
        request.session["user"] = username
        return RedirectResponse("/", status_code=303)

    async def logout(self, request: Request) -> Response:
        """Sign out; SessionMiddleware then expires the session cookie."""
        request.session.clear()
        return RedirectResponse("/", status_code=303)

    async def privacy(self, request: Request) -> Response:
        """The privacy and cookie policy: the cookie declaration, and the visitor's
        current choices."""
        consent = get_consent(request)
        page = self.templates.TemplateResponse(
            request,
            "privacy.html",
            {
                "declaration": self.declaration,
                "policy_url": f"{self.settings.path_prefix}/policy",
                "decided": consent.decided,
                "gpc": consent.gpc,
                "choices": current_choices(self.settings, consent),
                "log_enabled": self.settings.log_url is not None,
                "log_truncated_ip": self.settings.log_ip == "truncated",
            },
        )
        if self.settings.cache_mode != "vary":
            page.headers["cache-control"] = "private, no-store"  # the visitor's own choices
        return page

    async def not_found(self, request: Request, exc: Exception) -> Response:
        """The 404 page, for unknown paths and unknown article slugs alike."""
        return self.templates.TemplateResponse(
            request, "404.html", {"articles": ARTICLES[:3]}, status_code=404
        )


async def read_urlencoded_form(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form post (first value of each); empty when unreadable.

    The site's forms only ever send `application/x-www-form-urlencoded`, which
    the standard library parses; `request.form()` would need python-multipart.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


def safe_local_path(target: str | None) -> str:
    """`target` when it is a path on this site, else "/": forms must not redirect off-site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(char) < 0x20 for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _path_with_query(request: Request) -> str:
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path
