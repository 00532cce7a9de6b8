"""Tidewater Quarterly: a Quart magazine whose views and templates read the visitor's consent.

- The middleware wraps the Quart application: ``ConsentMiddleware(quart_app, settings)``.
- Views read the state from the request scope, ``request.scope["consent"]``.
- Templates ask ``consent_allows(request, "analytics")`` (``consent.jinja``, registered
  on ``app.jinja_env``); Quart's ``request`` is a template global.

The feature view sets its analytics cookie on every visit; keeping it from
visitors who have not allowed analytics is the middleware's job. The magazine's
articles, consent settings, layout and analytics script are shared with the
other examples, from ``examples/common``.
"""

from __future__ import annotations

import os
from typing import Any, cast

from quart import Quart, abort, make_response, redirect, render_template, request, session
from quart.blueprints import Blueprint
from quart.typing import ResponseReturnValue
from starlette.types import ASGIApp

from consent import ConsentMiddleware, ConsentState
from consent.jinja import CONSENT_GLOBALS
from examples.common import pages, policy
from examples.common.articles import ARTICLES, find_article
from examples.common.newsletter import newsletter_form, sign_up

SITE = pages.Site(name="Tidewater Quarterly", framework="Quart", articles_path="/features/")
SESSION_COOKIE = "session"
"""The name of Quart's session cookie, the site's one necessary cookie."""


def current_consent() -> ConsentState:
    """The visitor's ``ConsentState``, which ``ConsentMiddleware`` puts in the request scope."""
    state: ConsentState = request.scope["consent"]  # type: ignore[typeddict-item]
    return state


def create_quart_app(*, secret_key: str) -> Quart:
    """The magazine as a Quart application, before the consent middleware."""
    site = Quart(__name__, static_folder=str(pages.STATIC_DIR), template_folder="templates")
    site.secret_key = secret_key
    # Quart's own signed-cookie session, kept until the browser closes.
    site.config.update(SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_SAMESITE="Lax")
    # The magazine's own templates come first; this blueprint adds the shared layout.
    site.register_blueprint(Blueprint("common", __name__, template_folder=pages.TEMPLATES_DIR))
    site.jinja_env.globals.update(CONSENT_GLOBALS, site=SITE)

    @site.get("/")
    async def front_page() -> ResponseReturnValue:
        form = newsletter_form(session)
        return await render_template("front_page.html", articles=ARTICLES, newsletter=form)

    @site.get("/features/<slug>")
    async def feature(slug: str) -> ResponseReturnValue:
        found = find_article(slug)
        if found is None:
            abort(404)
        response = await make_response(await render_template("feature.html", article=found))
        # Unconditional on purpose: the middleware removes it until analytics is allowed.
        cookie = policy.analytics_cookie(request.cookies)
        response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, samesite="Lax")
        return response

    @site.get("/consent.json")
    async def consent_json() -> dict[str, Any]:
        """The visitor's state, which the view reads from the request scope."""
        return pages.state_json(current_consent(), request.cookies)

    @site.post("/newsletter")
    async def newsletter() -> ResponseReturnValue:
        refused = sign_up(await request.form, session)
        return (refused, 400) if refused else redirect("/", 303)

    return site


def create_app(*, log_url: str | None = None, secret_key: str | None = None) -> ASGIApp:
    """Build the magazine. ``log_url`` is the consent log database (None: no log);
    ``secret_key`` defaults to ``CONSENT_SECRET_KEY``, then to a demo key."""
    secret_key = secret_key or policy.site_secret_key()
    settings = policy.consent_settings(
        secret_key=secret_key, session_cookie=SESSION_COOKIE, log_url=log_url
    )
    # Quart types the ASGI callables with its own TypedDicts: the protocol is the same.
    return ConsentMiddleware(cast("ASGIApp", create_quart_app(secret_key=secret_key)), settings)


app = create_app(log_url=os.environ.get("CONSENT_LOG_URL") or None)
