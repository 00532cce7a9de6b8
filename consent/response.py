"""The response start: refused ``Set-Cookie`` out, expiry in, ``Vary``, and the page plan.

``ResponseEditor.edit_start`` runs once per response, in named steps:
``read_start`` (whether the body gets a snippet, whether a cookie is set),
``cookie_headers`` (the ``Set-Cookie`` list as the visitor's choice allows) and
``page_sender`` (the page's start and its snippets, from ``PageSnippets``,
handed to the ``PageSender`` that rewrites the body).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from starlette.types import Message, Scope, Send

from .cookie_headers import set_cookie_pair
from .cookies import CookiePolicy
from .inject import PageSender
from .log import ConsentLog
from .page_snippets import PageSnippets
from .start_facts import Headers, StartFacts, read_start
from .visitor import Visitor, csp_nonce, request_header, request_path

_PAGE_HEADERS = frozenset({b"content-length", b"vary"})
"""The response headers a rewritten page changes."""
_ESI = b"ESI/1.0"
_SURROGATE_CONTROL = (b"surrogate-control", b'content="ESI/1.0"')


class ResponseEditor:
    """Edits each response start as the visitor's choice requires.

    What a page varies by follows ``cache_mode``. Whether a banner goes in at
    all depends on ``Sec-Fetch-Dest`` (a page navigated to, not an iframe or a
    fragment fetched by script) in every mode; the language on
    ``Accept-Language`` unless one is forced; the snippets on ``Cookie`` in
    ``"vary"`` mode only. In ``"esi"`` mode, a request that does not come
    through an ESI processor (no ``Surrogate-Capability: ...="ESI/1.0"``) gets
    the ``"vary"`` page: a site never shows raw includes, nor loses its banner.
    A response that still sets a cookie always varies by ``Cookie``: no mode
    makes it one to share.
    """

    def __init__(
        self, policy: CookiePolicy, snippets: PageSnippets, log: ConsentLog | None
    ) -> None:
        self._policy = policy
        self._snippets = snippets
        self._log = log
        mode = snippets.mode
        self._esi = mode == "esi"
        self._shared = mode == "shared"
        languages = (b"Accept-Language",) if not snippets.one_language else ()
        # A page with includes only for a request that says an ESI processor reads them.
        esi = (b"Surrogate-Capability",) if self._esi else ()
        geo = snippets.geo_headers
        shared = self._shared
        self._vary: dict[bool, tuple[bytes, ...]] = {
            # By whether the page is the visitor's own (vary, or esi with no ESI processor).
            True: (b"Cookie", *languages, b"Sec-Fetch-Dest", *geo, *esi),
            # One page for everyone in the place's regime; an esi page's place is in its
            # fragments.
            False: (
                *(languages if shared else ()),
                b"Sec-Fetch-Dest",
                *(geo if shared else ()),
                *esi,
            ),
        }
        self._vary_value = {own: b", ".join(names) for own, names in self._vary.items()}

    def edit_start(
        self,
        message: Message,
        scope: Scope,
        visitor: Visitor,
        extra_headers: Sequence[tuple[bytes, bytes]],
        send: Send,
    ) -> Message | PageSender | None:
        """The response start to send or, for a page to rewrite, the ``PageSender`` of it.

        None when the response needs nothing (it then goes on as the app sent it).
        """
        headers = message.get("headers", ())
        if type(headers) is not list:
            headers = list(headers)
        facts = read_start(message, headers, scope)
        refused = visitor.refused_cookies
        if not facts.page and not facts.sets_cookies and not refused and not extra_headers:
            # Nothing to do: most responses of most requests.
            return None
        page = facts.page
        language = b""
        own_page = True
        if page:
            dest = b""
            esi = False
            for name, value in scope["headers"]:
                if name == b"sec-fetch-dest":
                    dest = value
                elif name == b"accept-language":
                    language = value
                elif name == b"surrogate-capability":
                    esi = _ESI in value
            # Only a page the visitor navigated to: not an iframe, nor an HTML
            # fragment fetched by script (htmx, Turbo), which would get a banner each.
            page = dest in (b"", b"document")
            own_page = not self._shared and not (self._esi and esi)
        plain_start = message
        by_cookie = False
        if facts.sets_cookies or refused or extra_headers:
            edited = self.cookie_headers(headers, facts, scope, visitor, extra_headers)
            # A response that still sets a cookie (an expiry of ours, or the app's) is
            # one visitor's in every mode.
            if edited is not None:
                headers = edited
            by_cookie = (own_page and edited is not None) or bool(
                refused or extra_headers or (facts.sets_cookies and _sets_cookies(headers))
            )
            if by_cookie:
                # A copy: the app's own list is not ours to change, and a page's own
                # start gets its whole Vary in page_sender.
                plain_headers = list(headers) if page or edited is None else headers
                _add_vary(plain_headers, (b"Cookie",))
                plain_start = {**message, "headers": plain_headers}
            elif edited is not None:
                plain_start = {**message, "headers": headers}
        if not page:
            if facts.page:
                # Whether a banner went in depended on Sec-Fetch-Dest: say so to caches.
                headers = list(plain_start["headers"])
                _add_vary(headers, self._vary[own_page])
                plain_start = {**message, "headers": headers}
            return plain_start
        return self.page_sender(
            message, headers, plain_start, scope, visitor, language, own_page, by_cookie, send
        )

    def cookie_headers(
        self,
        headers: Headers,
        facts: StartFacts,
        scope: Scope,
        visitor: Visitor,
        extra_headers: Sequence[tuple[bytes, bytes]],
    ) -> Headers | None:
        """The headers with refused ``Set-Cookie`` out and expiries in; None if unchanged."""
        edited = (
            self.strip_refused_cookies(headers, scope, visitor)
            if facts.sets_cookies
            else list(headers)
        )
        refused = visitor.refused_cookies
        if len(edited) == len(headers) and not refused and not extra_headers:
            return None
        if refused:
            host = request_header(scope, b"host")
            edited.extend(self._policy.expiry_headers(refused, host, request_path(scope)))
        edited.extend(extra_headers)
        return edited

    def strip_refused_cookies(
        self, headers: Iterable[tuple[bytes, bytes]], scope: Scope, visitor: Visitor
    ) -> Headers:
        """``headers`` without the ``Set-Cookie`` of cookies the visitor refuses.

        A ``Set-Cookie`` that browsers ignore (control characters, too long, no
        name and no value) goes too: removing it changes nothing for a browser,
        and nothing the middleware did not judge is ever stored.
        """
        policy = self._policy
        log = self._log
        granted = visitor.usable
        path = request_path(scope)
        kept: Headers = []
        for name, value in headers:
            if name.lower() == b"set-cookie":
                pair = set_cookie_pair(value)
                if pair is None:
                    continue
                policy.learn_scope(pair.name, value, path)
                allowed = policy.allows_pair(pair, granted)
                if log is not None:
                    log.cookie_seen(pair.name, policy.category(pair.name), not allowed)
                if not allowed:
                    continue
            kept.append((name, value))
        return kept

    def page_sender(
        self,
        message: Message,
        headers: Headers,
        plain_start: Message,
        scope: Scope,
        visitor: Visitor,
        language: bytes,
        own_page: bool,
        by_cookie: bool,
        send: Send,
    ) -> PageSender:
        """The page's sender: its start (no ``Content-Length``, ``Vary``), its snippets."""
        page_headers: Headers = []
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
                varies = True
            page_headers.append(header)
        if own_page or not by_cookie:
            if varies:
                _add_vary(page_headers, self._vary[own_page])
            else:
                page_headers.append((b"vary", self._vary_value[own_page]))
        else:
            _add_vary(page_headers, (b"Cookie", *self._vary[False]))
        nonce = csp_nonce(scope)
        path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        query: bytes = scope.get("query_string", b"")
        start: Message = {**message, "headers": page_headers}
        if own_page:
            snippets = self._snippets.for_visitor(visitor.state, language, path, query, nonce)
            live = visitor.live_categories
        else:
            # One page for every visitor: consent.js makes gated tags live.
            snippets = self._snippets.for_everyone(
                language, path, query, nonce, visitor.state.regime
            )
            live = frozenset()
            if self._esi:
                page_headers.append(_SURROGATE_CONTROL)
        return PageSender(start, plain_start, snippets, length, live, send)


def _sets_cookies(headers: Headers) -> bool:
    return any(name.lower() == b"set-cookie" for name, _ in headers)


def _add_vary(headers: Headers, wanted: tuple[bytes, ...]) -> None:
    """Add the ``Vary`` names in ``wanted`` that the headers do not name yet."""
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"vary":
            named.update(token.strip().lower() for token in value.split(b","))
    if b"*" in named:
        return
    missing = [token for token in wanted if token.lower() not in named]
    if missing:
        headers.append((b"vary", b", ".join(missing)))
