"""WSGI apps (Flask, Django under WSGI, Bottle...) served inside ConsentMiddleware.

A WSGI app reaches ConsentMiddleware through an adapter that makes it an ASGI
app. a2wsgi's ``WSGIMiddleware`` puts the ASGI scope in the WSGI environ under
``"asgi.scope"`` (a documented key of a2wsgi), and ConsentMiddleware has put
the visitor's state in that scope, so a view reads it with::

    from consent.wsgi import consent_state

    state = consent_state(request.environ)   # Flask; Django: request.META

An adapter that does not forward the scope leaves the view only what the
middleware did to the request: refused cookies are missing from ``HTTP_COOKIE``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from .state import ConsentState, get_consent

__all__ = ["ASGI_SCOPE_KEY", "consent_state"]

ASGI_SCOPE_KEY = "asgi.scope"
"""The environ key under which a2wsgi's ``WSGIMiddleware`` passes the ASGI scope."""


def consent_state(environ: Mapping[str, Any]) -> ConsentState:
    """The visitor's ``ConsentState`` from a WSGI environ built by a2wsgi's ``WSGIMiddleware``.

    Raises ``RuntimeError`` when the environ carries no ASGI scope (the app is
    served by a WSGI server, or through an adapter that does not forward the
    scope) or when the scope has no state (ConsentMiddleware is not outside it).
    """
    scope = environ.get(ASGI_SCOPE_KEY)
    if not isinstance(scope, MutableMapping):
        raise RuntimeError(
            f"no ASGI scope in the WSGI environ ({ASGI_SCOPE_KEY!r}): serve the WSGI app "
            "through a2wsgi.WSGIMiddleware, wrapped by ConsentMiddleware"
        )
    return get_consent(scope)
