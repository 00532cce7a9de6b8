"""The app the HTTP tests and ``bench/log.py`` serve with uvicorn: one page and the middleware.

Configured by environment variables: ``TEST_LOG_URL`` (required), ``TEST_SPOOL``,
``TEST_WRITE_TIMEOUT`` and ``TEST_RETRY_INTERVAL`` (seconds).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent import ConsentMiddleware, ConsentSettings
from consent.log import SqlConsentLog

SECRET = "test-secret-key-that-is-long-enough-0123456789"


async def home(request: Request) -> Response:
    return HTMLResponse("<html><body><h1>home</h1></body></html>")


def create_app() -> Starlette:
    """The app, its consent log opened from the environment."""
    log = SqlConsentLog(
        os.environ["TEST_LOG_URL"],
        spool_path=os.environ.get("TEST_SPOOL") or None,
        write_timeout=float(os.environ.get("TEST_WRITE_TIMEOUT", "2")),
        retry_interval=float(os.environ.get("TEST_RETRY_INTERVAL", "1")),
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await log.start()
        yield
        await log.close()

    settings = ConsentSettings(secret_key=SECRET, log_url=None)
    return Starlette(
        routes=[Route("/", home)],
        lifespan=lifespan,
        middleware=[Middleware(ConsentMiddleware, settings=settings, log=log)],
    )
