"""The visitor's consent as a FastAPI dependency.

Optional: it imports FastAPI, which ``consent`` itself never needs, and nothing in
the package imports this module. ``ConsentMiddleware`` must wrap the application::

    from fastapi import Depends, FastAPI
    from consent import ConsentMiddleware
    from consent.fastapi import ConsentDep, require_consent

    app = FastAPI()
    app.add_middleware(ConsentMiddleware, settings=settings)


    @app.get("/consent.json")
    async def state(consent: ConsentDep) -> dict[str, bool]:
        return {"analytics": consent.allows("analytics")}


    @app.post("/collect", status_code=204, dependencies=[Depends(require_consent("analytics"))])
    async def collect() -> None: ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from starlette.requests import Request

from .state import ConsentState, get_consent

__all__ = ["ConsentDep", "consent_state", "require_consent"]


def consent_state(request: Request) -> ConsentState:
    """The request's ``ConsentState``, as ``ConsentMiddleware`` put it in ``scope["consent"]``.

    A plain function, so that it serves as a dependency: ``Depends(consent_state)``.
    HTTP routes only: the middleware reads HTTP requests, and a WebSocket carries no
    state. Without the middleware it raises ``RuntimeError``: a missing middleware
    is a set-up error, never "no consent".
    """
    return get_consent(request)


ConsentDep = Annotated[ConsentState, Depends(consent_state)]
"""A route parameter annotated ``consent: ConsentDep`` receives the visitor's state."""


def require_consent(key: str, *, status_code: int = 403) -> Callable[[Request], None]:
    """A dependency that refuses the request unless ``key`` is granted.

    For endpoints that must do nothing without consent whoever calls them, such as
    a first-party measurement endpoint: a script can be called by a stale cached
    page, or by hand, after the visitor has refused. ``key`` is a category or
    service key, as ``ConsentState.allows`` takes it.
    """

    def consent_granted(request: Request) -> None:
        if not get_consent(request).allows(key):
            raise HTTPException(status_code=status_code, detail=f"{key} consent is not granted")

    return consent_granted
