"""ConsentMiddleware: the request and response path."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Generator, Iterable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .banner import BannerMarkup, ConsentModeTag, Snippet
from .cookie import ConsentCookie
from .cookies import CookiePolicy, cookie_value, set_cookie_name, split_cookie_header
from .endpoints import GPC_PATH, Assets, ConsentEndpoints
from .inject import PageRewriter, rewrite_page
from .log import ConsentLog, open_consent_log
from .settings import ConsentSettings
from .state import SCOPE_KEY, UNDECIDED_GRANTS, ConsentState, Visitor

_Page = tuple[bytes, bytes, bytes | None, Message]
"""A page's head and body snippets, its ``Content-Length`` as the app sent it, and the
response start to send instead if its body is not one to rewrite (``pathsend``)."""

# Statuses whose body is a page a visitor reads (not a redirect, an empty or a partial body).
_PAGE_STATUSES = frozenset({200, 201, 202, 203}) | frozenset(range(400, 600))
_UNSAFE_CHARSETS = (b"utf-16", b"utf-32", b"utf16", b"utf32")
_VISITOR_CACHE_SIZE = 4096
_SNIPPET_CACHE_SIZE = 2048
_KEY_LIMIT = 2048
"""Longest request target and ``Accept-Language`` whose snippets are kept (visitor input)."""

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
        self._own_path_starts = (settings.path_prefix, GPC_PATH)
        self._cookie_marker = settings.cookie_name.encode("latin-1") + b"="
        self._gpc_categories = frozenset(c.key for c in settings.categories if c.gpc_opt_out)
        self._visitors: dict[bytes, tuple[Visitor, float]] = {}
        self._visitors_gpc: dict[bytes, tuple[Visitor, float]] = {}
        self._snippets: dict[
            tuple[bytes, str | bytes, bytes, int], tuple[ConsentState, tuple[bytes, bytes]]
        ] = {}
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
        # One pass over the request headers for what every request needs; the two
        # others a page needs are read only for a page (``_edit_start``).
        cookie = b""
        gpc = False
        # Servers make new name objects per request: comparing them costs less than
        # hashing them for a set look-up.
        for name, value in scope["headers"]:
            if name == b"cookie":
                # Several Cookie headers (HTTP/2 may split one) make one list.
                cookie = cookie + b"; " + value if cookie else value
            elif name == b"sec-gpc":
                gpc = gpc or value.strip() == b"1"
        # A returning visitor sends the same header on every request: what it says
        # is worked out once, and then only the choice's expiry is checked.
        cached = (self._visitors_gpc if gpc else self._visitors).get(cookie)
        if cached is not None and time.time() < cached[1]:
            visitor = cached[0]
        else:
            visitor = self._remember_visitor(cookie, gpc)
        log = self.log
        if log is not None:
            for cookie_name, category, refused in visitor.cookies:
                log.cookie_seen(cookie_name, category, refused)
        path: str = scope["path"]
        if path.startswith(self._own_path_starts) and (
            path == self._prefix or path.startswith(self._prefix_slash) or path == GPC_PATH
        ):
            await self._endpoints(scope, receive, send, visitor)
            return
        scope[SCOPE_KEY] = visitor.state
        extra_headers: Sequence[tuple[bytes, bytes]] = ()
        if gpc and visitor.choice and visitor.choice.method != "s":
            extra_headers = await self._endpoints.honour_gpc(scope, visitor)
        if visitor.refused_cookies:
            scope = self._hide_refused_cookies(scope, visitor.state.granted)
        page_sender: _PageSender | None = None

        # Not a coroutine function: most messages go on as the awaitable of ``send``
        # itself, which spares a coroutine per message.
        def send_with_consent(message: Message) -> Awaitable[None]:
            nonlocal page_sender
            if page_sender is not None:
                return page_sender.send(message)
            if message["type"] == "http.response.start":
                message, page = self._edit_start(message, scope, visitor, extra_headers)
                if page is not None:
                    # Held until the body shows whether it can be rewritten.
                    page_sender = _PageSender(message, page, visitor, send)
                    return _SENT
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

    def _remember_visitor(self, cookie_header: bytes, gpc: bool) -> Visitor:
        """What the ``Cookie`` header and the GPC signal say, kept for the next request."""
        visitors = self._visitors_gpc if gpc else self._visitors
        visitor = self._read_visitor(cookie_header, gpc)
        if len(visitors) >= _VISITOR_CACHE_SIZE:
            del visitors[next(iter(visitors))]
        # A float, as ``time.time()`` is: comparing an int to it costs more.
        expires_at = float(visitor.choice.expires_at) if visitor.choice else math.inf
        visitors[cookie_header] = (visitor, expires_at)
        return visitor

    def _read_visitor(self, cookie_header: bytes, gpc: bool) -> Visitor:
        raw_choice = None
        if self._cookie_marker in cookie_header:
            raw_choice = cookie_value(cookie_header, self.settings.cookie_name)
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
        for name, _ in split_cookie_header(cookie_header):
            allowed = self._policy.allows(name, state.granted)
            cookies.append((name, self._policy.classify(name), not allowed))
        return Visitor(
            state=state,
            choice=choice,
            cookie_value=raw_choice,
            cookie_header=cookie_header,
            refused_cookies=tuple(dict.fromkeys(name for name, _, refused in cookies if refused)),
            cookies=tuple(cookies),
            live_categories=frozenset(
                key.encode("ascii") for key in state.granted - UNDECIDED_GRANTS
            ),
        )

    def _edit_start(
        self,
        message: Message,
        scope: Scope,
        visitor: Visitor,
        extra_headers: Sequence[tuple[bytes, bytes]],
    ) -> tuple[Message, _Page | None]:
        """The response start without refused cookies and, for a page to rewrite, its plan.

        The message comes back as it was when nothing in it changes. A page's start
        comes without ``Content-Length``, which the rewritten body sets.
        """
        headers = message.get("headers", ())
        if type(headers) is not list:
            headers = list(headers)
        content_type = b""
        encoding = b""
        set_cookie = False
        for name, value in headers:
            if name not in _START_HEADERS:
                # Names are most often lower case already: only others are lowered.
                if name.islower():
                    continue
                name = name.lower()
                if name not in _START_HEADERS:
                    continue
            if name == b"content-type":
                content_type = value
            elif name == b"set-cookie":
                set_cookie = True
            else:
                encoding = value
        html = _HTML_TYPES.get(content_type)
        if html is None:
            html = _is_rewritable_html(content_type)
        is_page = (
            html
            and (not encoding or encoding.strip().lower() in (b"", b"identity"))
            and message["status"] in _PAGE_STATUSES
            and scope["method"] != "HEAD"
        )
        refused = visitor.refused_cookies
        if not is_page and not set_cookie and not refused and not extra_headers:
            return message, None
        language = b""
        if is_page:
            dest = b""
            for name, value in scope["headers"]:
                if name == b"sec-fetch-dest":
                    dest = value
                elif name == b"accept-language":
                    language = value
            # Only a page the visitor navigated to: not an iframe, nor an HTML
            # fragment fetched by script (htmx, Turbo), which would get a banner each.
            is_page = dest in (b"", b"document")
        changed = False
        if set_cookie or refused or extra_headers:
            edited = self._strip_set_cookies(headers, visitor) if set_cookie else list(headers)
            if len(edited) != len(headers) or refused or extra_headers:
                if refused:
                    host = _request_header(scope, b"host").decode("latin-1")
                    edited.extend(self._policy.expiry_headers(refused, host))
                edited.extend(extra_headers)
                headers = edited
                changed = True
        plain_start = message
        if changed:
            _add_vary_cookie(headers)
            plain_start = {**message, "headers": headers}
        if not is_page:
            return plain_start, None
        # One pass for the page: its length is set once the body is rewritten.
        page_headers: list[tuple[bytes, bytes]] = []
        length = None
        varies = False
        for header in headers:
            name = header[0]
            if name not in _PAGE_HEADERS and not name.islower():
                name = name.lower()
            if name == b"content-length":
                length = header[1]
                continue
            if name == b"vary":
                varies = varies or _varies_on_cookie(header[1])
            page_headers.append(header)
        if not varies:
            page_headers.append((b"vary", b"Cookie"))
        head, snippet = self._page_snippets(scope, visitor.state, language)
        return {**message, "headers": page_headers}, (head, snippet, length, plain_start)

    def _strip_set_cookies(
        self, headers: Iterable[tuple[bytes, bytes]], visitor: Visitor
    ) -> list[tuple[bytes, bytes]]:
        """``headers`` without the ``Set-Cookie`` of cookies the visitor refuses."""
        policy = self._policy
        granted = visitor.state.granted
        kept: list[tuple[bytes, bytes]] = []
        for name, value in headers:
            if name.lower() == b"set-cookie":
                cookie = set_cookie_name(value)
                policy.learn_scope(cookie, value)
                allowed = policy.allows(cookie, granted)
                if self.log is not None:
                    self.log.cookie_seen(cookie, policy.classify(cookie), not allowed)
                if not allowed:
                    continue
            kept.append((name, value))
        return kept

    def _page_snippets(
        self, scope: Scope, state: ConsentState, accept_language: bytes
    ) -> tuple[bytes, bytes]:
        """What goes after ``<head>`` (Consent Mode) and before ``</body>``."""
        nonce = _csp_nonce(scope)
        target = scope.get("raw_path") or scope["path"]
        query = scope.get("query_string", b"")
        # A page is asked for again and again: its snippets are made once per
        # language, page and choice. (A nonce is new each time: nothing to keep.)
        key = (accept_language, target, query, id(state))
        cacheable = not nonce and len(accept_language) + len(target) + len(query) <= _KEY_LIMIT
        if cacheable:
            found = self._snippets.get(key)
            if found is not None and found[0] is state:
                return found[1]
        markup = self._markup.for_request(accept_language.decode("latin-1"))
        snippet: Snippet
        if state.decided:
            withdrawable = len(state.granted) > len(UNDECIDED_GRANTS)
            snippet = markup.settings_control_withdraw if withdrawable else markup.settings_control
        else:
            snippet = markup.banner_gpc if state.gpc else markup.banner
        body_snippet = snippet.render(_request_target(scope), nonce, state.granted)
        head_snippet = b""
        if self._consent_mode.enabled:
            head_snippet = self._consent_mode.render(state.decided, state.granted, nonce)
        snippets = (head_snippet, body_snippet)
        if cacheable:
            if len(self._snippets) >= _SNIPPET_CACHE_SIZE:
                del self._snippets[next(iter(self._snippets))]
            # The state is kept with its id, so that the id cannot name another state.
            self._snippets[key] = (state, snippets)
        return snippets

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


class _PageSender:
    """Sends an HTML page's response on, its start held until the body comes, rewritten."""

    __slots__ = ("_downstream", "_page", "_rewriter", "_start", "_visitor")

    def __init__(self, start: Message, page: _Page, visitor: Visitor, send: Send) -> None:
        self._start: Message | None = start
        self._page = page
        self._visitor = visitor
        self._downstream = send
        self._rewriter: PageRewriter | None = None

    async def send(self, message: Message) -> None:
        send = self._downstream
        start = self._start
        if start is not None:
            self._start = None
            head, snippet, length, plain_start = self._page
            if message["type"] != "http.response.body":
                # A body that is not ours to rewrite (pathsend, zero-copy): the
                # headers go as the app made them, only stripped of refused cookies.
                await send(plain_start)
                await send(message)
                return
            headers = start["headers"]
            if not message.get("more_body", False):
                # The whole page is here: rewrite it first, then its length is exact.
                live = self._visitor.live_categories
                body = rewrite_page(message.get("body", b""), head, snippet, live)
                headers.append((b"content-length", str(len(body)).encode("ascii")))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            granted = self._visitor.state.granted - UNDECIDED_GRANTS
            self._rewriter = PageRewriter(head, snippet, granted)
            change = self._rewriter.size_change
            # Without a length known in advance the server sends the page chunked.
            if length is not None and change is not None and length.strip().isdigit():
                headers.append((b"content-length", str(int(length) + change).encode("ascii")))
            await send(start)
        rewriter = self._rewriter
        if rewriter is None or message["type"] != "http.response.body":
            await send(message)
            return
        out = rewriter.feed(message.get("body", b""))
        more_body = message.get("more_body", False)
        if not more_body:
            out += rewriter.finish()
            self._rewriter = None
        elif not out:
            return
        await send({"type": "http.response.body", "body": out, "more_body": more_body})


class _Sent:
    """An awaitable already complete: what ``send`` gives for a message it holds back."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()


_SENT = _Sent()


_START_HEADERS = frozenset({b"content-type", b"set-cookie", b"content-encoding"})
"""The response headers that decide what happens to a response."""
_PAGE_HEADERS = frozenset({b"content-length", b"vary"})
"""The response headers a rewritten page changes."""


def _request_header(scope: Scope, wanted: bytes) -> bytes:
    """The value of the request header ``wanted`` (lower case), or empty."""
    for name, value in scope["headers"]:
        if name == wanted:
            return value  # type: ignore[no-any-return]
    return b""


_HTML_TYPES: dict[bytes, bool] = {}
"""``_is_rewritable_html`` of the ``Content-Type`` values seen so far (a few per app)."""
_HTML_TYPES_SIZE = 64


def _is_rewritable_html(content_type: bytes) -> bool:
    """Whether a ``Content-Type`` is HTML in an ASCII-compatible encoding (kept, once known)."""
    media_type, _, params = content_type.partition(b";")
    html = media_type.strip().lower() == b"text/html" and not any(
        charset in params.lower() for charset in _UNSAFE_CHARSETS
    )
    if len(_HTML_TYPES) < _HTML_TYPES_SIZE:
        _HTML_TYPES[content_type] = html
    return html


def _csp_nonce(scope: Scope) -> str:
    """The CSP nonce the app put in the scope, if any (``scope["csp_nonce"]`` or state)."""
    nonce = scope.get("csp_nonce")
    if nonce is None:
        state = scope.get("state")
        if isinstance(state, dict):
            nonce = state.get("csp_nonce")
    return nonce if isinstance(nonce, str) else ""


def _request_target(scope: Scope) -> str:
    """The path and query of the request, as the browser asked for it."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    query: bytes = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def _add_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    for name, value in headers:
        if name.lower() == b"vary" and _varies_on_cookie(value):
            return
    headers.append((b"vary", b"Cookie"))


def _varies_on_cookie(vary: bytes) -> bool:
    """Whether a ``Vary`` value already covers ``Cookie``."""
    tokens = {token.strip().lower() for token in vary.split(b",")}
    return b"*" in tokens or b"cookie" in tokens
