"""The Hillside Journal: a Flask site whose cookies ConsentMiddleware keeps in line.

Flask speaks WSGI. a2wsgi's ``WSGIMiddleware`` makes it an ASGI application, and
ConsentMiddleware wraps that, outermost::

    app = ConsentMiddleware(WSGIMiddleware(flask_app), settings=settings)

Serve it with ``uvicorn examples.flask_journal.app:app`` (a consent log only when
``CONSENT_LOG_URL`` is set) or ``python -m examples.flask_journal``.

The views are written as any Flask site writes them; the entry view sets its
analytics cookie every time. A view or template reads the visitor's choice with
``consent.wsgi.consent_state(request.environ)``: a2wsgi passes the ASGI scope,
where the middleware keeps it, as ``environ["asgi.scope"]``. The journal's
articles, consent settings, layout and analytics script are the ones all the
examples share (``examples/common``).
"""

from __future__ import annotations

import os
from typing import Any, cast

from a2wsgi import WSGIMiddleware
from a2wsgi.wsgi_typing import WSGIApp
from flask import Flask, abort, make_response, redirect, render_template, request, session
from flask.blueprints import Blueprint
from flask.typing import ResponseReturnValue
from starlette.types import ASGIApp

from consent import ConsentMiddleware, ConsentSettings, ConsentState
from consent.wsgi import consent_state
from examples.common import pages, policy
from examples.common.articles import ARTICLES, find_article
from examples.common.newsletter import newsletter_form, sign_up

SITE = pages.Site(name="The Hillside Journal", framework="Flask", articles_path="/articles/")
SESSION_COOKIE = "session"
"""The name of Flask's session cookie, the site's one necessary cookie."""
MAX_FORM_BYTES = 16 * 1024


def create_flask_app(*, secret_key: str) -> Flask:
    """The journal as a plain Flask (WSGI) application, without the middleware."""
    flask_app = Flask(__name__, static_folder=pages.STATIC_DIR)
    flask_app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=MAX_FORM_BYTES,
    )
    # The journal's own templates come first; this blueprint adds the shared layout.
    flask_app.register_blueprint(Blueprint("common", __name__, template_folder=pages.TEMPLATES_DIR))
    flask_app.jinja_env.globals["site"] = SITE

    @flask_app.context_processor
    def consent_context() -> dict[str, ConsentState]:
        # Every template gets `consent`: {% if consent.allows("analytics") %}
        return {"consent": consent_state(request.environ)}

    @flask_app.get("/")
    def front_page() -> str:
        return render_template("index.html", articles=ARTICLES, newsletter=newsletter_form(session))

    @flask_app.get("/articles/<slug>")
    def entry(slug: str) -> ResponseReturnValue:
        found = find_article(slug)
        if found is None:
            abort(404)
        response = make_response(render_template("entry.html", article=found))
        # Deliberately unconditional: the middleware removes this Set-Cookie for
        # visitors who have not granted "analytics", and hides a refused one from us.
        cookie = policy.analytics_cookie(request.cookies)
        response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, samesite="Lax")
        return response

    @flask_app.post("/newsletter")
    def newsletter() -> ResponseReturnValue:
        refused = sign_up(request.form, session)
        return (refused, 400) if refused else redirect("/", code=303)

    @flask_app.get("/consent.json")
    def consent_json() -> dict[str, Any]:
        """The visitor's state, which the view reads from the scope a2wsgi passes on."""
        return pages.state_json(consent_state(request.environ), request.cookies)

    return flask_app


def consent_settings(*, secret_key: str, log_url: str | None) -> ConsentSettings:
    """The middleware's settings: the examples' policy, with Flask's session cookie."""
    return policy.consent_settings(
        secret_key=secret_key, session_cookie=SESSION_COOKIE, log_url=log_url
    )


def serve_over_asgi(flask_app: Flask, settings: ConsentSettings) -> ConsentMiddleware:
    """``flask_app`` as an ASGI application: inside a2wsgi's WSGIMiddleware, inside
    ConsentMiddleware. Flask runs in a2wsgi's worker threads; the middleware stays
    on the event loop."""
    # a2wsgi types environs and scopes as TypedDicts of its own, which the hints of
    # Flask and Starlette do not match; at run time all of them are plain dicts.
    asgi_flask = cast(ASGIApp, WSGIMiddleware(cast(WSGIApp, flask_app)))
    return ConsentMiddleware(asgi_flask, settings=settings)


def create_app(*, log_url: str | None = None, secret_key: str | None = None) -> ConsentMiddleware:
    """The journal as an ASGI application, behind ConsentMiddleware.

    ``log_url`` is the consent log database (None: no log). ``secret_key`` signs
    Flask's session and the consent cookie; it defaults to ``CONSENT_SECRET_KEY``,
    then to a demo key.
    """
    secret_key = secret_key or policy.site_secret_key()
    return serve_over_asgi(
        create_flask_app(secret_key=secret_key),
        consent_settings(secret_key=secret_key, log_url=log_url),
    )


app = create_app(log_url=os.environ.get("CONSENT_LOG_URL") or None)
"""The ASGI application: ``uvicorn examples.flask_journal.app:app``."""
