"""The newsroom's ASGI entry point: Django's ASGI application inside ConsentMiddleware.

    uvicorn examples.django_newsroom.newsroom.asgi:application

``DJANGO_SETTINGS_MODULE`` is set here only when the process has not set it, and
``get_asgi_application()`` runs ``django.setup()``. Importing this module starts
no server. ``CONSENT_LOG_URL`` names the consent log; unset, there is none.
"""

from __future__ import annotations

import os

from django.conf import settings as django_settings  # type: ignore[import-untyped]
from django.core.asgi import get_asgi_application  # type: ignore[import-untyped]
from starlette.types import ASGIApp, Receive, Scope, Send

from consent import ConsentMiddleware, ConsentSettings
from examples.common import policy

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_newsroom.newsroom.settings")

django_application: ASGIApp = get_asgi_application()
"""Django's own ASGI application, without the middleware."""


def consent_settings(*, log_url: str | None) -> ConsentSettings:
    """The middleware's settings: the examples' policy, with Django's session cookie.

    The key and the session cookie's name come from the Django settings, so the
    two cannot drift apart.
    """
    return policy.consent_settings(
        secret_key=django_settings.SECRET_KEY,
        session_cookie=django_settings.SESSION_COOKIE_NAME,
        log_url=log_url,
    )


def answer_lifespan(app: ASGIApp) -> ASGIApp:
    """``app``, with the ASGI lifespan protocol answered for it.

    Django's ASGI handler refuses lifespan events. Answering them here lets the
    server's start and stop reach ConsentMiddleware, which opens its consent log
    at start and, at stop, finishes the writes under way and stores its counts.
    """

    async def with_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return with_lifespan


def create_application(*, log_url: str | None = None) -> ConsentMiddleware:
    """The newsroom behind ConsentMiddleware, with its consent log at ``log_url`` (None: none)."""
    return ConsentMiddleware(
        answer_lifespan(django_application), settings=consent_settings(log_url=log_url)
    )


application = create_application(log_url=os.environ.get("CONSENT_LOG_URL") or None)
