"""The Allotment Diary: a FastAPI blog whose views and templates read the visitor's consent.

- The middleware wraps the app (``Middleware(ConsentMiddleware, ...)``, outermost).
- Views take the state as a dependency: ``consent: ConsentDep`` (``consent.fastapi``),
  and the measurement endpoint answers only with consent: ``require_consent("analytics")``.
- Templates ask ``consent_allows(request, "analytics")`` (``consent.jinja``).

The post view sets its analytics cookie on every visit and leaves the middleware
to keep it from those who did not allow it. Everything that is not FastAPI's
(articles, consent settings, layout, analytics script) is in ``examples/common``.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware

from consent import ConsentMiddleware
from consent.fastapi import ConsentDep, require_consent
from consent.jinja import CONSENT_GLOBALS
from examples.article_site.views import read_urlencoded_form
from examples.common import pages, policy
from examples.common.articles import ARTICLES, find_article
from examples.common.newsletter import newsletter_form, sign_up

HERE = Path(__file__).parent
SITE = pages.Site(name="The Allotment Diary", framework="FastAPI", articles_path="/posts/")
SESSION_COOKIE = "session"
"""The name ``SessionMiddleware`` gives its cookie, the site's one necessary cookie."""


class PageView(BaseModel):
    """What the measurement script reports: the path of the page it ran on."""

    path: str = Field(max_length=200)


def create_app(*, log_url: str | None = None, secret_key: str | None = None) -> FastAPI:
    """Build the blog. ``log_url`` is the consent log database (None: no log);
    ``secret_key`` defaults to ``CONSENT_SECRET_KEY``, then to a demo key."""
    secret_key = secret_key or policy.site_secret_key()
    settings = policy.consent_settings(
        secret_key=secret_key, session_cookie=SESSION_COOKIE, log_url=log_url
    )
    # The blog's own templates first, then the layout every example shares.
    templates = Jinja2Templates(directory=[HERE / "templates", pages.TEMPLATES_DIR])
    templates.env.globals.update(CONSENT_GLOBALS, site=SITE)
    # Page views counted by the first-party measurement endpoint, for "Most read".
    page_views: Counter[str] = Counter()

    app = FastAPI(
        title=SITE.name,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        middleware=[
            # Outermost, so that it sees every Set-Cookie the app and the session
            # middleware send, and hides refused cookies from both.
            Middleware(ConsentMiddleware, settings=settings),
            Middleware(SessionMiddleware, secret_key=secret_key, session_cookie=SESSION_COOKIE),
        ],
    )
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")

    @app.get("/", response_class=HTMLResponse)
    async def front_page(request: Request) -> Response:
        most_read = [(find_article(slug), count) for slug, count in page_views.most_common(3)]
        context = {
            "articles": ARTICLES,
            "most_read": most_read,
            "newsletter": newsletter_form(request.session),
        }
        return templates.TemplateResponse(request, "index.html", context)

    @app.get("/posts/{slug}", response_class=HTMLResponse)
    async def post(request: Request, slug: str) -> Response:
        found = find_article(slug)
        if found is None:
            raise HTTPException(status_code=404, detail="No such post")
        response = templates.TemplateResponse(request, "post.html", {"article": found})
        # Unconditional on purpose: the middleware removes it until analytics is allowed.
        cookie = policy.analytics_cookie(request.cookies)
        response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age)
        return response

    @app.get("/consent.json")
    async def consent_json(request: Request, consent: ConsentDep) -> dict[str, Any]:
        """The visitor's state, which the view receives as a dependency."""
        return pages.state_json(consent, request.cookies)

    @app.post("/collect", status_code=204, dependencies=[Depends(require_consent("analytics"))])
    async def collect(view: PageView) -> None:
        """Counts a page view; refused (403) without analytics consent, whoever calls."""
        slug = view.path.removeprefix(SITE.articles_path)
        if find_article(slug) is not None:
            page_views[slug] += 1

    @app.post("/newsletter")
    async def newsletter(request: Request) -> Response:
        refused = sign_up(await read_urlencoded_form(request), request.session)
        return PlainTextResponse(refused, 400) if refused else RedirectResponse("/", 303)

    return app


app = create_app(log_url=os.environ.get("CONSENT_LOG_URL") or None)
