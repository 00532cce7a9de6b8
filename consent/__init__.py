"""consent: cookie-consent law enforced on the server, as ASGI middleware."""

from __future__ import annotations

from .middleware import ConsentMiddleware
from .regions import REGIMES_RECOMMENDED
from .service import Service
from .settings import Category, ConsentSettings
from .state import ConsentState, get_consent

__all__ = [
    "REGIMES_RECOMMENDED",
    "Category",
    "ConsentMiddleware",
    "ConsentSettings",
    "ConsentState",
    "Service",
    "get_consent",
]
__version__ = "0.1.0"
