"""Northgate Daily: a Litestar news site whose handlers and templates read the visitor's consent.

- The middleware wraps the whole Litestar application, ``ConsentMiddleware(Litestar(...))``:
  Litestar runs its own middleware only after routing, where it would miss the
  middleware's ``/_consent`` paths.
- Handlers take the state as a Litestar dependency, ``consent``, which reads
  ``request.scope["consent"]``.
- Templates (Jinja, through ``TemplateConfig``) ask ``consent_allows(request, "analytics")``.

The story handler returns its analytics cookie with every story, whatever the
visitor chose; the middleware takes it out until they allow analytics. What is
not Litestar's (articles, consent settings, layout, analytics script) comes from
the examples' shared package, ``examples/common``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, cast

from litestar import Litestar, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.logging import LoggingConfig
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.params import Body, FromPath
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Response, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from starlette.types import ASGIApp

from consent import ConsentMiddleware, ConsentState
from consent.jinja import CONSENT_GLOBALS
from examples.common import pages, policy
from examples.common.articles import ARTICLES, find_article
from examples.common.newsletter import newsletter_form, sign_up

HERE = Path(__file__).parent
SITE = pages.Site(name="Northgate Daily", framework="Litestar", articles_path="/news/")
SESSION_COOKIE = "session"
"""The name Litestar's session middleware gives its cookie, the site's one necessary cookie."""

AnyRequest = Request[Any, Any, Any]
UrlEncodedForm = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def consent_of(request: AnyRequest) -> ConsentState:
    """The visitor's ``ConsentState``, which ``ConsentMiddleware`` puts in the scope."""
    state: ConsentState = request.scope["consent"]  # type: ignore[typeddict-item]
    return state


@get("/")
async def front_page(request: AnyRequest) -> Template:
    form = newsletter_form(request.session)
    return Template("front_page.html", context={"articles": ARTICLES, "newsletter": form})


@get("/news/{slug:str}")
async def story(request: AnyRequest, slug: FromPath[str]) -> Template:
    found = find_article(slug)
    if found is None:
        raise NotFoundException("No such story")
    # Unconditional on purpose: the middleware removes it until analytics is allowed.
    cookie = policy.analytics_cookie(request.cookies)
    analytics = Cookie(key=cookie.name, value=cookie.value, max_age=cookie.max_age)
    return Template("story.html", context={"article": found}, cookies=[analytics])


@get("/consent.json")
async def consent_json(
    request: AnyRequest, consent: NamedDependency[ConsentState]
) -> dict[str, Any]:
    """The visitor's state, which the handler receives as the ``consent`` dependency."""
    return pages.state_json(consent, request.cookies)


@post("/newsletter", status_code=303)
async def newsletter(request: AnyRequest, data: UrlEncodedForm) -> Response[str]:
    refused = sign_up(data, request.session)
    return Response(refused, status_code=400) if refused else Redirect("/", status_code=303)


def create_app(*, log_url: str | None = None, secret_key: str | None = None) -> ASGIApp:
    """Build the site. ``log_url`` is the consent log database (None: no log);
    ``secret_key`` defaults to ``CONSENT_SECRET_KEY``, then to a demo key."""
    settings = policy.consent_settings(
        secret_key=secret_key or policy.site_secret_key(),
        session_cookie=SESSION_COOKIE,
        log_url=log_url,
    )

    def add_globals(engine: JinjaTemplateEngine) -> None:
        engine.engine.globals.update(CONSENT_GLOBALS, site=SITE)

    site = Litestar(
        route_handlers=[
            front_page,
            story,
            consent_json,
            newsletter,
            create_static_files_router(path="/static", directories=[pages.STATIC_DIR]),
        ],
        dependencies={"consent": Provide(consent_of, sync_to_thread=False)},
        # Sessions kept in Litestar's memory store; the cookie holds only their id.
        middleware=[ServerSideSessionConfig(key=SESSION_COOKIE).middleware],
        # Litestar's own logger only: the process's root logger is the server's to set up.
        logging_config=LoggingConfig(configure_root_logger=False, log_exceptions="always"),
        # The site's own templates first, then the layout every example shares.
        template_config=TemplateConfig(
            directory=[HERE / "templates", pages.TEMPLATES_DIR],
            engine=JinjaTemplateEngine,
            engine_callback=add_globals,
        ),
    )
    # Around the whole application, so that its own paths are served before routing.
    # (Litestar types the ASGI callables with its own TypedDicts: the protocol is the same.)
    return ConsentMiddleware(cast("ASGIApp", site), settings)


app = create_app(log_url=os.environ.get("CONSENT_LOG_URL") or None)
