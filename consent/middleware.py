"""ConsentMiddleware: the request and response path."""

from __future__ import annotations

import functools
import logging
import math
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .banner import BannerMarkup, ConsentModeTag, Snippet
from .cookie import ConsentCookie
from .cookies import CookiePolicy, cookie_value, set_cookie_name, split_cookie_header
from .endpoints import GPC_PATH, Assets, ConsentEndpoints
from .inject import PageRewriter
from .log import ConsentLog, open_consent_log
from .settings import ConsentSettings
from .state import SCOPE_KEY, UNDECIDED_GRANTS, ConsentState, Visitor

# Statuses whose body is a page a visitor reads (not a redirect, an empty or a partial body).
_PAGE_STATUSES = frozenset({200, 201, 202, 203}) | frozenset(range(400, 600))
_UNSAFE_CHARSETS = (b"utf-16", b"utf-32", b"utf16", b"utf32")
_VISITOR_CACHE_SIZE = 4096

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
        self._cookie = ConsentCookie(settings)
        self._policy = CookiePolicy(settings)
        assets = Assets(settings.path_prefix)
        self._markup = BannerMarkup(settings, assets.urls)
        self._consent_mode = ConsentModeTag(settings, assets.urls["consent-mode.js"])
        if log is None and settings.log_url:
            log = open_consent_log(settings.log_url, spool_path=settings.log_spool_path)
        self.log = log
        self._endpoints = ConsentEndpoints(
            settings, self._cookie, self._policy, self._markup, assets, log
        )
        self._prefix = settings.path_prefix
        self._prefix_slash = settings.path_prefix + "/"
        self._cookie_marker = settings.cookie_name.encode("latin-1") + b"="
        self._gpc_categories = frozenset(c.key for c in settings.categories if c.gpc_opt_out)
        self._visitors: dict[tuple[bytes, bool], tuple[Visitor, float]] = {}
        self._undecided = {
            gpc: ConsentState(
                decided=False,
                granted=UNDECIDED_GRANTS,
                consent_id=None,
                gpc=gpc,
                revision=settings.policy_revision,
            )
            for gpc in (False, True)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self.log is not None:
                await self.app(scope, receive, self._with_log_lifespan(send))
            else:
                await self.app(scope, receive, send)
            return
        # One pass over the request headers for everything the middleware reads.
        cookie_headers: list[bytes] = []
        gpc = False
        request = _RequestHeaders()
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie_headers.append(value)
            elif name == b"sec-gpc":
                gpc = gpc or value.strip() == b"1"
            elif name in _READ_LATER:
                setattr(request, _READ_LATER[name], value.decode("latin-1"))
        visitor = self.visitor_for(cookie_headers, gpc)
        log = self.log
        if log is not None:
            for cookie, category, refused in visitor.cookies:
                log.cookie_seen(cookie, category, refused)
        path: str = scope["path"]
        if path == self._prefix or path.startswith(self._prefix_slash) or path == GPC_PATH:
            await self._endpoints(scope, receive, send, visitor)
            return
        scope[SCOPE_KEY] = visitor.state
        extra_headers: list[tuple[bytes, bytes]] = []
        if gpc and visitor.choice and visitor.choice.method != "s":
            extra_headers = await self._endpoints.honour_gpc(scope, visitor)
        if visitor.refused_cookies:
            scope = self._hide_refused_cookies(scope, visitor.state.granted)
        held_start: Message | None = None
        rewriter: PageRewriter | None = None

        async def send_with_consent(message: Message) -> None:
            nonlocal held_start, rewriter
            if held_start is None and rewriter is None:
                if message["type"] != "http.response.start":
                    await send(message)
                    return
                edited, page = self._edit_start(message, scope, visitor, request, extra_headers)
                if page:
                    # Held until the body shows whether it can be rewritten.
                    held_start = edited
                else:
                    await send(edited)
                return
            if held_start is not None:
                start, held_start = held_start, None
                if message["type"] != "http.response.body":
                    # A body that is not ours to rewrite (pathsend, zero-copy): the
                    # headers go as they are, only stripped of refused cookies.
                    await send(start)
                    await send(message)
                    return
                page_rewriter = self._page_rewriter(scope, visitor, request)
                _add_vary_cookie(start["headers"])
                if not message.get("more_body", False):
                    # The whole page is here: rewrite it first, then its length is exact.
                    body = page_rewriter.whole(message.get("body", b""))
                    _set_content_length(start["headers"], len(body))
                    await send(start)
                    await send({"type": "http.response.body", "body": body})
                    return
                _grow_content_length(start["headers"], page_rewriter.size_change)
                await send(start)
                rewriter = page_rewriter
            if rewriter is None or message["type"] != "http.response.body":
                await send(message)
                return
            out = rewriter.feed(message.get("body", b""))
            more_body = message.get("more_body", False)
            if not more_body:
                out += rewriter.finish()
                rewriter = None
            elif not out:
                return
            await send({"type": "http.response.body", "body": out, "more_body": more_body})

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

    def visitor_for(self, cookie_headers: list[bytes], gpc: bool) -> Visitor:
        """What the ``Cookie`` headers and the GPC signal say about the visitor."""
        # A returning visitor sends the same headers on every request: what they
        # say is worked out once, and then only the choice's expiry is checked.
        key = (cookie_headers[0] if len(cookie_headers) == 1 else b"\n".join(cookie_headers), gpc)
        cached = self._visitors.get(key)
        if cached is not None and time.time() < cached[1]:
            return cached[0]
        visitor = self._read_visitor(tuple(cookie_headers), gpc)
        if len(self._visitors) >= _VISITOR_CACHE_SIZE:
            del self._visitors[next(iter(self._visitors))]
        expires_at = visitor.choice.expires_at if visitor.choice else math.inf
        self._visitors[key] = (visitor, expires_at)
        return visitor

    def _read_visitor(self, cookie_headers: tuple[bytes, ...], gpc: bool) -> Visitor:
        raw_choice = None
        for header in cookie_headers:
            if self._cookie_marker in header:
                raw_choice = cookie_value(header, self.settings.cookie_name)
                if raw_choice is not None:
                    break
        choice = self._cookie.read(raw_choice)
        if choice is None:
            state = self._undecided[gpc]
        else:
            granted = choice.granted
            if gpc and choice.method != "s":
                # GPC opts out of these unless the visitor ticked them one by one.
                granted = granted - self._gpc_categories
            state = ConsentState(
                decided=True,
                granted=granted | UNDECIDED_GRANTS,
                consent_id=choice.consent_id,
                gpc=gpc,
                revision=choice.revision,
            )
        cookies: list[tuple[str, str, bool]] = []
        for header in cookie_headers:
            for name, _ in split_cookie_header(header):
                allowed = self._policy.allows(name, state.granted)
                cookies.append((name, self._policy.classify(name), not allowed))
        return Visitor(
            state=state,
            choice=choice,
            cookie_value=raw_choice,
            cookie_headers=cookie_headers,
            refused_cookies=tuple(dict.fromkeys(name for name, _, refused in cookies if refused)),
            cookies=tuple(cookies),
        )

    def _edit_start(
        self,
        message: Message,
        scope: Scope,
        visitor: Visitor,
        request: _RequestHeaders,
        extra_headers: list[tuple[bytes, bytes]],
    ) -> tuple[Message, bool]:
        """The response start without refused cookies, and whether to show the banner in it.

        The message comes back as it was when nothing in it changes.
        """
        policy = self._policy
        granted = visitor.state.granted
        headers: list[tuple[bytes, bytes]] = []
        changed = False
        html = False
        encoded = False
        for name, value in message.get("headers", ()):
            lower = name.lower()
            if lower == b"set-cookie":
                cookie = set_cookie_name(value)
                policy.learn_scope(cookie, value)
                allowed = policy.allows(cookie, granted)
                if self.log is not None:
                    self.log.cookie_seen(cookie, policy.classify(cookie), not allowed)
                if not allowed:
                    changed = True
                    continue
            elif lower == b"content-type":
                html = _is_rewritable_html(value)
            elif lower == b"content-encoding":
                encoded = value.strip().lower() not in (b"", b"identity")
            headers.append((name, value))
        if visitor.refused_cookies:
            headers.extend(policy.expiry_headers(visitor.refused_cookies, request.host))
            changed = True
        if extra_headers:
            headers.extend(extra_headers)
            changed = True
        page = (
            html
            and not encoded
            and message["status"] in _PAGE_STATUSES
            and scope["method"] != "HEAD"
            # Only a page the visitor navigated to: not an iframe, nor an HTML
            # fragment fetched by script (htmx, Turbo), which would get a banner each.
            and request.fetch_dest in ("", "document")
        )
        if not (changed or page):
            return message, False
        if changed:
            _add_vary_cookie(headers)
        return {**message, "headers": headers}, page

    def _page_rewriter(
        self, scope: Scope, visitor: Visitor, request: _RequestHeaders
    ) -> PageRewriter:
        state = visitor.state
        markup = self._markup.for_request(request.accept_language)
        snippet: Snippet
        if state.decided:
            withdrawable = len(state.granted) > len(UNDECIDED_GRANTS)
            snippet = markup.settings_control_withdraw if withdrawable else markup.settings_control
        else:
            snippet = markup.banner_gpc if state.gpc else markup.banner
        nonce = _csp_nonce(scope)
        body_snippet = snippet.render(_request_target(scope), nonce, state.granted)
        head_snippet = b""
        if self._consent_mode.enabled:
            head_snippet = self._consent_mode.render(state.decided, state.granted, nonce)
        # Granted tags are made live on the server, so they run from the first byte.
        return PageRewriter(head_snippet, body_snippet, state.granted - UNDECIDED_GRANTS)

    def _hide_refused_cookies(self, scope: Scope, granted: frozenset[str]) -> Scope:
        """A scope whose ``Cookie`` headers hold only the cookies the visitor allows."""
        headers: list[tuple[bytes, bytes]] = []
        for name, value in scope["headers"]:
            if name == b"cookie":
                kept = [
                    raw
                    for cookie, raw in split_cookie_header(value)
                    if self._policy.allows(cookie, granted)
                ]
                if not kept:
                    continue
                value = b"; ".join(kept)
            headers.append((name, value))
        return {**scope, "headers": headers}


class _RequestHeaders:
    """The request headers read on the response path, taken in the one pass over them."""

    __slots__ = ("accept_language", "fetch_dest", "host")

    def __init__(self) -> None:
        self.host = ""
        self.accept_language = ""
        self.fetch_dest = ""


_READ_LATER = {
    b"host": "host",
    b"accept-language": "accept_language",
    b"sec-fetch-dest": "fetch_dest",
}


@functools.lru_cache(maxsize=64)
def _is_rewritable_html(content_type: bytes) -> bool:
    """Whether a ``Content-Type`` is HTML in an ASCII-compatible encoding."""
    media_type, _, params = content_type.partition(b";")
    return media_type.strip().lower() == b"text/html" and not any(
        charset in params.lower() for charset in _UNSAFE_CHARSETS
    )


def _csp_nonce(scope: Scope) -> str:
    """The CSP nonce the app put in the scope, if any (``scope["csp_nonce"]`` or state)."""
    nonce = scope.get("csp_nonce")
    if nonce is None:
        state = scope.get("state")
        if isinstance(state, dict):
            nonce = state.get("csp_nonce")
    return nonce if isinstance(nonce, str) else ""


def _set_content_length(headers: list[tuple[bytes, bytes]], length: int) -> None:
    """Set an existing ``Content-Length`` to ``length``."""
    for index, (name, _) in enumerate(headers):
        if name.lower() == b"content-length":
            headers[index] = (name, str(length).encode("ascii"))
            return


def _grow_content_length(headers: list[tuple[bytes, bytes]], change: int | None) -> None:
    """Add ``change`` to ``Content-Length``, or drop it when the change is not known.

    Without a length the server sends the body chunked, which is right for a page
    whose size is known only at its end.
    """
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"content-length":
            if change is None or not value.strip().isdigit():
                del headers[index]
            else:
                headers[index] = (name, str(int(value) + change).encode("ascii"))
            return


def _request_target(scope: Scope) -> str:
    """The path and query of the request, as the browser asked for it."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    query: bytes = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def _add_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    for name, value in headers:
        if name.lower() == b"vary":
            tokens = {token.strip().lower() for token in value.split(b",")}
            if b"*" in tokens or b"cookie" in tokens:
                return
    headers.append((b"vary", b"Cookie"))
