"""ConsentState: what a request knows about its visitor's choice."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .regions import Regime
from .settings import NECESSARY

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

SCOPE_KEY = "consent"


@dataclass(frozen=True, slots=True)
class ConsentState:
    """The visitor's consent for this request, in ``scope["consent"]``.

    ``granted`` always holds ``necessary``. With Global Privacy Control on,
    ``granted`` already leaves out the categories GPC turns off. Before any
    choice, what is granted follows the ``regime``: nothing optional in
    ``"opt-in"``, every category in ``"opt-out"`` and ``"none"``.
    """

    decided: bool
    """Whether the visitor has made a choice under the current policy revision."""
    granted: frozenset[str]
    """Keys of the categories that may be used now, ``necessary`` included."""
    consent_id: str | None
    """Identifier of this browser's choices in the consent log; None before any choice."""
    gpc: bool
    """Whether the request carried ``Sec-GPC: 1``."""
    revision: int
    """The policy revision in force."""
    regime: Regime = "opt-in"
    """The law where the visitor is: ``"opt-in"``, ``"opt-out"`` or ``"none"``."""
    region: str | None = None
    """Where the visitor is, from the trusted geo headers: ``"US-CA"``, ``"FR"``, or None."""
    services: frozenset[str] = frozenset()
    """Keys of the services that may be used now: those of the granted categories, and
    those the visitor allowed one by one."""

    def allows(self, key: str) -> bool:
        """Whether the category or service ``key`` may be used for this request."""
        return key in self.granted or key in self.services


UNDECIDED_GRANTS = frozenset({NECESSARY})


def get_consent(request: HTTPConnection | MutableMapping[str, Any]) -> ConsentState:
    """The ``ConsentState`` of a Starlette/FastAPI request (or of a raw ASGI scope)."""
    scope = request if isinstance(request, MutableMapping) else request.scope
    try:
        state = scope[SCOPE_KEY]
    except KeyError:
        raise RuntimeError(
            "no consent state on this request: add ConsentMiddleware to the application"
        ) from None
    if not isinstance(state, ConsentState):
        raise TypeError(f'scope["consent"] holds {type(state).__name__}, not ConsentState')
    return state
