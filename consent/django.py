"""Django: the visitor's consent in views and in templates.

Wrap Django's ASGI application in ``asgi.py``::

    application = ConsentMiddleware(get_asgi_application(), settings=ConsentSettings(...))

and add the context processor to ``TEMPLATES[...]["OPTIONS"]["context_processors"]``::

    "consent.django.context_processor",

A view calls ``consent_state(request)``; a template reads ``{{ consent.decided }}``,
``{% if consent.allows.analytics %}`` or ``{{ consent.granted|join:", " }}``.

Only Django's ASGI application has a scope to read: under WSGI (``manage.py
runserver``, gunicorn's sync workers) the middleware does not run at all, and
``consent_state`` says so. This module is optional; ``consent`` never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .regions import Regime
from .state import ConsentState, get_consent

if TYPE_CHECKING:
    from django.http import HttpRequest  # type: ignore[import-untyped]

__all__ = ["AllowedKeys", "TemplateConsent", "consent_state", "context_processor"]


def consent_state(request: HttpRequest) -> ConsentState:
    """The ``ConsentState`` of a request to Django's ASGI application inside ConsentMiddleware.

    Django's ``ASGIRequest`` keeps the ASGI scope in ``request.scope``, where the
    middleware put the state under ``"consent"``. Raises ``RuntimeError`` for a
    request without a scope (Django served over WSGI) or without the state.
    """
    scope = getattr(request, "scope", None)
    if scope is None:
        raise RuntimeError(
            "no ASGI scope on this request: serve Django's ASGI application (asgi.py) "
            "wrapped by ConsentMiddleware; under WSGI the middleware does not run"
        )
    return get_consent(scope)


class AllowedKeys:
    """``consent.allows.analytics`` in a template: whether that category or service is granted.

    Django's templates cannot call a method with an argument, so the lookup is by
    key. An unknown key is simply not granted.
    """

    __slots__ = ("_state",)

    def __init__(self, state: ConsentState) -> None:
        self._state = state

    def __getitem__(self, key: str) -> bool:
        return self._state.allows(key)

    def __repr__(self) -> str:
        return f"AllowedKeys({sorted(self._state.granted)!r})"


@dataclass(frozen=True, slots=True)
class TemplateConsent:
    """The visitor's consent as templates read it: plain values and ``allows.<key>``."""

    decided: bool
    """Whether the visitor has chosen under the current policy revision."""
    granted: tuple[str, ...]
    """The granted keys, sorted, ``necessary`` included."""
    allows: AllowedKeys
    gpc: bool
    regime: Regime
    region: str | None
    consent_id: str | None
    state: ConsentState
    """The ``ConsentState`` itself, for template tags and filters of your own."""

    @classmethod
    def from_state(cls, state: ConsentState) -> TemplateConsent:
        """The template view of ``state``."""
        return cls(
            decided=state.decided,
            granted=tuple(sorted(state.granted)),
            allows=AllowedKeys(state),
            gpc=state.gpc,
            regime=state.regime,
            region=state.region,
            consent_id=state.consent_id,
            state=state,
        )


def context_processor(request: HttpRequest) -> dict[str, TemplateConsent]:
    """Django context processor: ``consent`` in every template rendered with the request."""
    return {"consent": TemplateConsent.from_state(consent_state(request))}
