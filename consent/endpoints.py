"""The only router of the middleware's own paths, a plain ASGI app.

``POST {prefix}`` (a decision), ``GET {prefix}/preferences``, ``GET
{prefix}/fragment/head`` and ``GET {prefix}/fragment/body`` (a visitor's part
of a page a cache serves to everyone, ``cache_mode="esi"``), ``GET
{prefix}/static/...`` and ``GET /.well-known/gpc.json``. The middleware puts the
request's ``Visitor`` in ``scope["consent.visitor"]`` before calling it.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from .assets import Assets
from .banner import BannerMarkup
from .cookies import CookiePolicy
from .decisions import Decisions
from .forms import BadDecision, is_cross_site, parse_decision, read_body, safe_next
from .page_snippets import PageSnippets
from .settings import ConsentSettings
from .visitor import VISITOR_KEY, Visitor

_FRAGMENT_HEADERS = {"cache-control": "private, no-store"}
"""A fragment is one visitor's: never stored by a shared cache, nor kept by the browser."""
_NONCE = re.compile(r"[A-Za-z0-9+/=_-]{1,128}")

GPC_PATH = "/.well-known/gpc.json"
_NO_STORE = {"cache-control": "no-store", "vary": "Cookie"}


def _not_allowed(allow: str) -> Response:
    return PlainTextResponse("Method Not Allowed", status_code=405, headers={"allow": allow})


class ConsentEndpoints:
    """Serves every request under ``path_prefix``, and ``/.well-known/gpc.json``."""

    def __init__(
        self,
        settings: ConsentSettings,
        decisions: Decisions,
        policy: CookiePolicy,
        markup: BannerMarkup,
        assets: Assets,
        snippets: PageSnippets,
    ) -> None:
        self._decisions = decisions
        self._snippets = snippets
        self._policy = policy
        self._markup = markup
        self._assets = assets
        self._prefix = prefix = settings.path_prefix
        self._prefix_slash = prefix + "/"
        self._starts = (prefix, GPC_PATH)
        self._preferences_path = f"{prefix}/preferences"
        self._policy_paths = (f"{prefix}/policy", f"{prefix}/policy.json")
        self._static_path = f"{prefix}/static/"
        self._gpc_body: bytes | None = None
        if settings.gpc_opt_out_keys:
            # Nothing is sold or shared for advertising without such a category:
            # then there is no GPC claim to make, and the path is not served.
            last_update = settings.gpc_last_update.isoformat()
            self._gpc_body = json.dumps({"gpc": True, "lastUpdate": last_update}).encode()

    def serves(self, path: str) -> bool:
        """Whether ``path`` is one of ours (the rest goes to the app)."""
        return path.startswith(self._starts) and (
            path == self._prefix or path.startswith(self._prefix_slash) or path == GPC_PATH
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        response: Response
        if path == GPC_PATH:
            response = self._gpc_json(method)
        elif path == self._prefix:
            if method != "POST":
                response = _not_allowed("POST")
            else:
                response = await self._decide(scope, receive)
        elif method not in ("GET", "HEAD"):
            response = _not_allowed("GET, HEAD")
        elif path == self._preferences_path:
            response = self._preferences(scope)
        elif path in self._policy_paths:
            response = self._declaration(scope, as_json=path == self._policy_paths[1])
        elif path in (self._snippets.fragment_head_path, self._snippets.fragment_body_path):
            response = self._fragment(scope, head=path == self._snippets.fragment_head_path)
        elif path.startswith(self._static_path):
            response = self._assets.response(path.rsplit("/", 1)[1])
        else:
            response = PlainTextResponse("Not Found", status_code=404)
        await response(scope, receive, send)

    def _gpc_json(self, method: str) -> Response:
        if self._gpc_body is None:
            return PlainTextResponse("Not Found", status_code=404)
        if method not in ("GET", "HEAD"):
            return _not_allowed("GET, HEAD")
        return Response(
            self._gpc_body,
            media_type="application/json",
            headers={"cache-control": "public, max-age=86400"},
        )

    def _declaration(self, scope: Scope, *, as_json: bool) -> Response:
        """The cookie declaration, in the visitor's language or the one ``?locale=`` names."""
        headers = Headers(scope=scope)
        markup = self._markup.for_request(headers.get("accept-language", ""))
        for field, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
            if field == "locale" and value in self._markup.available:
                markup = self._markup.localized(value)
                break
        page, data = markup.declaration()
        # The same for every visitor of a language: a shared cache may keep it.
        cache = {"cache-control": "public, max-age=3600", "vary": "Accept-Language"}
        if as_json:
            return Response(data, media_type="application/json", headers=cache)
        return Response(page, media_type="text/html; charset=utf-8", headers=cache)

    def _preferences(self, scope: Scope) -> Response:
        visitor: Visitor = scope[VISITOR_KEY]
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        next_url = "/"
        for field, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
            if field == "next":
                next_url = safe_next(value, host)
                break
        markup = self._markup.for_request(headers.get("accept-language", ""))
        state = visitor.state
        page = markup.preferences_page(
            next_url=next_url,
            granted=state.granted | state.services,
            gpc=state.gpc,
            regime=state.regime,
        )
        response = Response(page, media_type="text/html; charset=utf-8", headers=_NO_STORE)
        page_path = urlsplit(next_url).path
        expiry = self._policy.expiry_headers(visitor.refused_cookies, host, page_path)
        response.raw_headers.extend(expiry)
        return response

    def _fragment(self, scope: Scope, *, head: bool) -> Response:
        """The visitor's part of a page that a cache serves to everyone: its ESI fragment.

        ``head``: Consent Mode with the visitor's choice. Body: the banner, or the
        "Cookie settings" control, with its real forms (``next`` is the page).
        The page's CSP nonce comes in the query: the cached page and its CSP
        header carry that one nonce, so the fragment's tags must too.
        """
        visitor: Visitor = scope[VISITOR_KEY]
        headers = Headers(scope=scope)
        next_url = "/"
        nonce = ""
        for field, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
            if field == "next":
                next_url = safe_next(value, headers.get("host", ""))
            elif field == "nonce" and _NONCE.fullmatch(value):
                nonce = value
        language = headers.get("accept-language", "").encode("latin-1")
        path, _, query = next_url.encode("latin-1", "replace").partition(b"?")
        snippets = self._snippets.for_visitor(visitor.state, language, path, query, nonce)
        body = snippets.head if head else snippets.front + snippets.end
        return Response(body, media_type="text/html; charset=utf-8", headers=_FRAGMENT_HEADERS)

    async def _decide(self, scope: Scope, receive: Receive) -> Response:
        visitor: Visitor = scope[VISITOR_KEY]
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if is_cross_site(headers, host):
            return PlainTextResponse("Cross-site decision refused", status_code=403)
        try:
            body = await read_body(headers, receive)
            decision = parse_decision(
                headers, body, self._decisions.categories, host, self._decisions.services
            )
        except BadDecision as error:
            return PlainTextResponse(error.reason, status_code=error.status)
        # The notice the visitor saw: the language of the page the form was on.
        if decision.locale in self._markup.available:
            markup = self._markup.localized(decision.locale)
        else:
            markup = self._markup.for_request(headers.get("accept-language", ""))
        outcome = await self._decisions.decide(scope, visitor, decision, markup)
        response: Response
        if decision.wants_json:
            response = JSONResponse(self._decisions.state_json(outcome.state))
        else:
            response = Response(status_code=303, headers={"location": decision.next_url})
        response.headers["cache-control"] = "no-store"
        response.raw_headers.extend(outcome.set_cookies)
        return response
