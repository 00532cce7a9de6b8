"""ConsentMiddleware: read the visitor, route our own paths, edit the app's responses."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .assets import Assets
from .banner import BannerMarkup
from .consent_mode import ConsentModeTag
from .cookie import ConsentCookie
from .cookies import CookiePolicy
from .decisions import Decisions
from .endpoints import GPC_PATH, ConsentEndpoints
from .inject import SENT, PageSender
from .log import ConsentLog, open_consent_log
from .page_snippets import PageSnippets
from .response import ResponseEditor
from .settings import ConsentSettings
from .state import SCOPE_KEY
from .visitor import VISITOR_KEY, VisitorReader, hide_refused_cookies

logger = logging.getLogger("consent")


class ConsentMiddleware:
    """Enforces the visitor's cookie consent on every HTTP response of an ASGI app.

    ``app.add_middleware(ConsentMiddleware, settings=ConsentSettings(...))``. Without
    ``settings``, they are read from ``CONSENT_*`` environment variables, ``.env``
    and the TOML file named by ``CONSENT_CONFIG``. ``log`` replaces the consent log
    that ``settings.log_url`` names.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: ConsentSettings | None = None,
        *,
        log: ConsentLog | None = None,
    ) -> None:
        self.app = app
        self.settings = settings = settings if settings is not None else ConsentSettings()
        if log is None and settings.log_url:
            log = open_consent_log(settings.log_url, spool_path=settings.log_spool_path)
        self.log = log
        consent_cookie = ConsentCookie(settings)
        policy = CookiePolicy(settings)
        assets = Assets(settings.path_prefix)
        markup = BannerMarkup(settings, assets.urls, assets.sources["consent.css"])
        consent_mode = ConsentModeTag(
            settings, assets.urls["consent-mode.js"], assets.sources["consent-mode.js"]
        )
        snippets = PageSnippets(settings, markup, consent_mode, assets.urls["consent-state.js"])
        self._read_visitor = VisitorReader(settings, consent_cookie, policy).read
        self._decisions = Decisions(settings, consent_cookie, policy, markup, log)
        self._endpoints = ConsentEndpoints(
            settings, self._decisions, policy, markup, assets, snippets
        )
        self._edit_start = ResponseEditor(policy, snippets, log).edit_start
        self._own_path_starts = (settings.path_prefix, GPC_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self.log is not None:
                await self.app(scope, receive, self._with_log_lifespan(send))
            else:
                await self.app(scope, receive, send)
            return
        visitor = self._read_visitor(scope)
        log = self.log
        if log is not None:
            for cookie_name, category, refused in visitor.cookies:
                log.cookie_seen(cookie_name, category, refused)
        scope[SCOPE_KEY] = visitor.state
        path: str = scope["path"]
        if path.startswith(self._own_path_starts) and self._endpoints.serves(path):
            scope[VISITOR_KEY] = visitor
            await self._endpoints(scope, receive, send)
            return
        extra_headers: Sequence[tuple[bytes, bytes]] = ()
        if visitor.imported is not None:
            extra_headers = await self._decisions.import_choice(scope, visitor)
        elif visitor.gpc_opt_out_due:
            extra_headers = await self._decisions.honour_gpc(scope, visitor)
        if visitor.allowed_cookie_header is not None:
            scope = hide_refused_cookies(scope, visitor)
        edit_start = self._edit_start
        page_sender: PageSender | None = None

        # Not a coroutine function: most messages go on as the awaitable of ``send``
        # itself, which spares a coroutine per message.
        def send_with_consent(message: Message) -> Awaitable[None]:
            nonlocal page_sender
            if page_sender is not None:
                return page_sender.send(message)
            if message["type"] == "http.response.start":
                edited = edit_start(message, scope, visitor, extra_headers, send)
                if edited is None:
                    return send(message)
                if isinstance(edited, PageSender):
                    # Held until the body shows whether it can be rewritten.
                    page_sender = edited
                    return SENT
                return send(edited)
            return send(message)

        await self.app(scope, receive, send_with_consent)

    def _with_log_lifespan(self, send: Send) -> Send:
        """``send`` for the lifespan: the log starts with the app and is closed after it.

        The messages pass unchanged; the log is only given its turn before the
        server hears that start-up or shut-down is complete, so that events
        spooled during an outage are stored and pending counts are written.
        """
        log = self.log

        async def send_after_log(message: Message) -> None:
            if log is not None:
                try:
                    if message["type"] == "lifespan.startup.complete":
                        await log.start()
                    elif message["type"] == "lifespan.shutdown.complete":
                        await log.close()
                except Exception:
                    # The log spools what it cannot store; the site still starts and stops.
                    logger.exception("consent log: lifespan %s failed", message["type"])
            await send(message)

        return send_after_log
