"""The visitor's consent in Jinja2 templates, whatever the framework renders them.

Optional, and imported by nothing in the package. Register the functions as
globals of the template environment, then pass them the ``request`` the
template already has::

    {% if consent_allows(request, "analytics") %}
      <p>You allowed analytics: this visit is counted.</p>
    {% endif %}

Registration, by framework:

- Starlette, FastAPI: ``templates = Jinja2Templates(directory="templates")``, then
  ``templates.env.globals.update(CONSENT_GLOBALS)``; ``request`` is in every context.
- Litestar: ``TemplateConfig(directory=..., engine=JinjaTemplateEngine,
  engine_callback=lambda engine: engine.engine.globals.update(CONSENT_GLOBALS))``;
  Litestar puts ``request`` in every context.
- Quart, Flask: ``app.jinja_env.globals.update(CONSENT_GLOBALS)``; ``request`` is a
  template global. A Flask app served through ``a2wsgi.WSGIMiddleware`` finds the
  state through ``environ["asgi.scope"]``, which a2wsgi sets.
- Django (``django.template.backends.jinja2.Jinja2``): an environment factory that
  updates ``env.globals``; an ``ASGIRequest`` carries ``.scope``.

What a template may pass as ``source``: the request object of any of these
frameworks (anything with an ASGI ``.scope``, or a WSGI ``.environ`` with
``"asgi.scope"``), a raw ASGI scope or WSGI environ, or a ``ConsentState``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from .state import SCOPE_KEY, ConsentState, get_consent
from .wsgi import ASGI_SCOPE_KEY as _WSGI_SCOPE_KEY

__all__ = ["CONSENT_GLOBALS", "consent_allows", "consent_state"]


def consent_state(source: Any) -> ConsentState:
    """The ``ConsentState`` that ``ConsentMiddleware`` gave the request ``source`` stands for.

    Raises ``RuntimeError`` when the request went through no ``ConsentMiddleware``
    (a set-up error, which a page must not hide as "no consent"), and ``TypeError``
    when ``source`` is nothing a request can be read from (a misspelt or missing
    template variable, say).
    """
    if isinstance(source, ConsentState):
        return source
    return get_consent(_scope_of(source))


def consent_allows(source: Any, key: str) -> bool:
    """Whether the visitor of the request ``source`` allows the category or service ``key``.

    ``consent_allows(request, "analytics")`` in a template; see the module's
    documentation for what ``source`` may be.
    """
    return consent_state(source).allows(key)


CONSENT_GLOBALS: Mapping[str, Callable[..., Any]] = {
    "consent_allows": consent_allows,
    "consent_state": consent_state,
}
"""Both functions by their names, for ``environment.globals.update(CONSENT_GLOBALS)``."""


def _scope_of(source: Any) -> MutableMapping[str, Any]:
    """The ASGI scope behind a request object, scope or WSGI environ."""
    # Request objects first: Starlette's request is itself a mapping over its scope.
    scope = getattr(source, "scope", None)
    if isinstance(scope, MutableMapping):
        return scope
    environ = getattr(source, "environ", None)
    if isinstance(environ, Mapping):
        return _scope_of_environ(environ)
    if isinstance(source, MutableMapping):
        if SCOPE_KEY in source or "type" in source:
            return source
        if "REQUEST_METHOD" in source:
            return _scope_of_environ(source)
    raise TypeError(
        f"cannot read the consent state from {type(source).__name__}: pass the template's "
        "request (or an ASGI scope, a WSGI environ, or a ConsentState)"
    )


def _scope_of_environ(environ: Mapping[str, Any]) -> MutableMapping[str, Any]:
    scope = environ.get(_WSGI_SCOPE_KEY)
    if not isinstance(scope, MutableMapping):
        raise RuntimeError(
            "this WSGI request carries no ASGI scope: serve the WSGI app through "
            "a2wsgi.WSGIMiddleware inside ConsentMiddleware, which puts it in "
            f'environ["{_WSGI_SCOPE_KEY}"]'
        )
    return scope
