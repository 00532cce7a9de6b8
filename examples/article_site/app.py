"""The Harbourton Courier: a small news site that shows `consent` at work.

`consent demo` runs it with its third parties on a second origin. Alone, from the
repository root (the third parties then come from the site itself):

    uvicorn examples.article_site.app:app --reload

or with a consent log:

    CONSENT_LOG_URL=sqlite:///consent-log.db uvicorn examples.article_site.app:app
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from consent import ConsentMiddleware
from consent.settings import CacheMode

from .cookie_policy import SESSION_COOKIE, SESSION_DAYS, build_consent_settings
from .thirdparty import create_tracker_app
from .views import DAY, SiteViews, make_templates

STATIC_DIR = Path(__file__).parent / "static"

DEMO_SECRET_KEY = "DEMO-ONLY-insecure-secret-key-set-CONSENT_SECRET_KEY"
"""Used when no key is given, so the demo starts with no setup. Never use it in production:
anyone who reads this file can forge consent cookies and sessions signed with it."""

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def create_app(
    *,
    log_url: str | None = None,
    secret_key: str | None = None,
    tracker_origin: str = "",
    debug: bool = False,
    freeze_startup_heap: bool = False,
    cache_mode: CacheMode = "vary",
) -> Starlette:
    """Build the site.

    `log_url` is the consent log database (None: no log). `secret_key` signs the
    consent cookie and the session; it defaults to `CONSENT_SECRET_KEY`, then to a
    demo key. `tracker_origin` (e.g. `http://127.0.0.2:8001`, where
    `thirdparty.create_tracker_app()` runs, as `consent demo` does) is where the
    third-party scripts, pixel and videos are loaded from, and the cookie declaration
    names its host and its privacy pages; empty means this app serves them itself
    under `/thirdparty`, so the site also runs alone in one process.
    `freeze_startup_heap` calls `gc.freeze()` once the site has started, which keeps
    the garbage collector's full passes short (docs/operations.md, "Latency under
    load"); for a process that serves the site, not for one that builds many apps.
    `cache_mode` is the middleware's (docs/caches.md): "esi" or "shared" to serve the
    site's pages from a cache such as Varnish.
    """
    if tracker_origin and not _ORIGIN.match(tracker_origin.rstrip("/")):
        raise ValueError(
            f"tracker_origin must be an origin such as 'http://127.0.0.2:8001', "
            f"got {tracker_origin!r}"
        )
    if secret_key is None:
        secret_key = os.environ.get("CONSENT_SECRET_KEY") or DEMO_SECRET_KEY

    settings = build_consent_settings(
        secret_key=secret_key,
        log_url=log_url,
        cache_mode=cache_mode,
        tracker_origin=tracker_origin.rstrip("/"),
    )
    templates = make_templates(
        tracker_url=tracker_origin.rstrip("/") or "/thirdparty",
        preferences_url=f"{settings.path_prefix}/preferences",
    )
    views = SiteViews(templates, settings)

    routes: list[BaseRoute] = [
        *views.routes,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    if not tracker_origin:
        routes.append(Mount("/thirdparty", create_tracker_app(), name="thirdparty"))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if freeze_startup_heap:
            # What start-up built lives as long as the process: out of every full pass.
            gc.freeze()
        yield

    return Starlette(
        debug=debug,
        routes=routes,
        lifespan=lifespan,
        middleware=[
            # Outermost, so that it sees every Set-Cookie the app and the session
            # middleware send, and hides refused cookies from both.
            Middleware(ConsentMiddleware, settings=settings),
            Middleware(
                SessionMiddleware,
                secret_key=secret_key,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_DAYS * DAY,
                https_only=False,
                same_site="lax",
            ),
        ],
        exception_handlers={404: views.not_found},
    )


app = create_app(log_url=os.environ.get("CONSENT_LOG_URL"), freeze_startup_heap=True)
