"""The middleware's own endpoints: decisions, preferences page, assets, gpc.json."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from .banner import BannerMarkup, LocalizedMarkup
from .cookie import ConsentCookie, Method, new_consent_id
from .cookies import CookiePolicy, split_cookie_header
from .log import ConsentEvent, ConsentLog, Mechanism, truncate_ip
from .log.events import Action
from .settings import NECESSARY, ConsentSettings
from .state import ConsentState, Visitor

logger = logging.getLogger("consent")

GPC_PATH = "/.well-known/gpc.json"
MAX_DECISION_BYTES = 16 * 1024
"""A decision is a few fields; anything larger is refused before it is read."""
_NO_STORE = {"cache-control": "no-store", "vary": "Cookie"}
_MECHANISMS: Mapping[str, Mechanism] = {"banner": "banner", "preferences": "preferences"}
_ACTIONS = frozenset({"accept_all", "reject_all", "save"})


class BadDecision(Exception):
    """A decision request that cannot be honoured; carries the HTTP status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Decision:
    """A parsed decision request."""

    action: str
    categories: frozenset[str]
    next_url: str
    mechanism: Mechanism
    wants_json: bool
    locale: str


def _static_dir() -> Path:
    packaged = Path(__file__).parent / "static"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "static"


class Assets:
    """The banner's CSS (and JS), served under names that carry a content hash."""

    def __init__(self, prefix: str) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.urls: dict[str, str] = {}
        media_types = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
        for path in sorted(_static_dir().iterdir()):
            if path.suffix not in media_types:
                continue
            content = path.read_bytes()
            digest = hashlib.sha256(content).hexdigest()[:12]
            name = f"{path.stem}.{digest}{path.suffix}"
            self.files[name] = (content, media_types[path.suffix])
            self.urls[path.name] = f"{prefix}/static/{name}"

    def response(self, name: str) -> Response:
        """The asset, cacheable for a year, or 404."""
        found = self.files.get(name)
        if found is None:
            return PlainTextResponse("Not Found", status_code=404)
        content, media_type = found
        return Response(
            content,
            media_type=media_type,
            headers={
                "cache-control": "public, max-age=31536000, immutable",
                "x-content-type-options": "nosniff",
            },
        )


class ConsentEndpoints:
    """Serves every request under ``path_prefix``, and ``/.well-known/gpc.json``."""

    def __init__(
        self,
        settings: ConsentSettings,
        cookie: ConsentCookie,
        policy: CookiePolicy,
        markup: BannerMarkup,
        assets: Assets,
        log: ConsentLog | None,
    ) -> None:
        self._settings = settings
        self._cookie = cookie
        self._policy = policy
        self._markup = markup
        self._assets = assets
        self._log = log
        self._prefix = settings.path_prefix
        self._all_categories = frozenset(settings.category_keys)
        self._gpc_categories = frozenset(c.key for c in settings.categories if c.gpc_opt_out)
        self._gpc_body = json.dumps(
            {"gpc": True, "lastUpdate": settings.gpc_last_update.isoformat()}
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send, visitor: Visitor) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        response: Response
        if path == GPC_PATH:
            response = self._gpc_json(method)
        elif path == self._prefix:
            if method != "POST":
                response = PlainTextResponse(
                    "Method Not Allowed", status_code=405, headers={"allow": "POST"}
                )
            else:
                response = await self._decide(scope, receive, visitor)
        elif method not in ("GET", "HEAD"):
            response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"allow": "GET, HEAD"}
            )
        elif path == f"{self._prefix}/preferences":
            response = self._preferences(scope, visitor)
        elif path.startswith(f"{self._prefix}/static/"):
            response = self._assets.response(path.rsplit("/", 1)[1])
        else:
            response = PlainTextResponse("Not Found", status_code=404)
        await response(scope, receive, send)

    def _gpc_json(self, method: str) -> Response:
        if not self._gpc_categories:
            # Nothing here is sold or shared for advertising: no GPC claim to make.
            return PlainTextResponse("Not Found", status_code=404)
        if method not in ("GET", "HEAD"):
            return PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"allow": "GET, HEAD"}
            )
        return Response(
            self._gpc_body,
            media_type="application/json",
            headers={"cache-control": "public, max-age=86400"},
        )

    def _preferences(self, scope: Scope, visitor: Visitor) -> Response:
        headers = Headers(scope=scope)
        next_url = "/"
        for field, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
            if field == "next":
                next_url = safe_next(value, headers.get("host", ""))
                break
        markup = self._markup.for_request(headers.get("accept-language", ""))
        page = markup.preferences_page(
            next_url=next_url,
            granted=visitor.state.granted,
            gpc=visitor.state.gpc,
        )
        response = Response(page, media_type="text/html; charset=utf-8", headers=_NO_STORE)
        response.raw_headers.extend(
            self._policy.expiry_headers(visitor.refused_cookies, headers.get("host", ""))
        )
        return response

    async def _decide(self, scope: Scope, receive: Receive, visitor: Visitor) -> Response:
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if is_cross_site(headers, host):
            return PlainTextResponse("Cross-site decision refused", status_code=403)
        try:
            body = await read_body(headers, receive)
            decision = parse_decision(headers, body, self._all_categories, host)
            # The notice the visitor saw: the language of the page the form was on.
            markup = self._markup.locales.get(decision.locale) or self._markup.for_request(
                headers.get("accept-language", "")
            )
        except BadDecision as error:
            return PlainTextResponse(error.reason, status_code=error.status)

        method, stored = self._resolve(decision, visitor.state.gpc)
        # The same browser keeps its identifier across revisions and expiry, so
        # that the log shows its whole history.
        consent_id = (
            visitor.choice.consent_id
            if visitor.choice
            else self._cookie.consent_id_of(visitor.cookie_value)
        ) or new_consent_id()
        value = self._cookie.sign(consent_id, method, stored)
        granted = frozenset({NECESSARY}) | stored
        state = ConsentState(
            decided=True,
            granted=granted,
            consent_id=consent_id,
            gpc=visitor.state.gpc,
            revision=self._settings.policy_revision,
        )
        action: Action
        if visitor.state.decided and visitor.state.granted - granted:
            action = "withdraw"
        elif decision.action == "save":
            action = "custom"
        else:
            action = "accept_all" if decision.action == "accept_all" else "reject_all"
        await self._record(scope, action, decision.mechanism, state, markup)

        if decision.wants_json:
            response: Response = JSONResponse(state_json(state, self._all_categories))
        else:
            response = Response(status_code=303, headers={"location": decision.next_url})
        response.headers["cache-control"] = "no-store"
        response.raw_headers.append(
            (b"set-cookie", self._consent_cookie_header(value, stored, scope).encode("latin-1"))
        )
        # Whatever the new choice refuses goes now, HttpOnly cookies included.
        refused = [
            name
            for name, _ in split_cookie_header(visitor.cookie_header)
            if not self._policy.allows(name, granted)
        ]
        response.raw_headers.extend(self._policy.expiry_headers(dict.fromkeys(refused), host))
        return response

    def _resolve(self, decision: Decision, gpc: bool) -> tuple[Method, frozenset[str]]:
        """How the choice was made, and the categories it grants."""
        if decision.action == "accept_all":
            # Under GPC, "accept all" does not reach the categories GPC opts out of:
            # those need a choice of their own.
            return "a", self._all_categories - self._gpc_categories if gpc else self._all_categories
        if decision.action == "reject_all":
            return "r", frozenset()
        return "s", decision.categories - {NECESSARY}

    def _consent_cookie_header(self, value: str, granted: frozenset[str], scope: Scope) -> str:
        settings = self._settings
        parts = [
            f"{settings.cookie_name}={value}",
            f"Max-Age={self._cookie.lifetime(granted)}",
            "Path=/",
            "SameSite=Lax",
            "HttpOnly",
        ]
        if settings.cookie_domain:
            parts.append(f"Domain={settings.cookie_domain}")
        secure = settings.cookie_secure
        if secure is None:
            secure = scope.get("scheme") == "https"
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    async def honour_gpc(self, scope: Scope, visitor: Visitor) -> list[tuple[bytes, bytes]]:
        """Make a GPC signal's opt-out stick to an earlier "accept all", and log it.

        CCPA treats ``Sec-GPC: 1`` as an opt-out request for that browser: the
        categories it covers leave the stored choice (so they stay off even when
        the signal is gone), and the log records it once, as a ``gpc`` event.
        Returns the ``Set-Cookie`` headers for the page's answer.
        """
        choice = visitor.choice
        if choice is None or not choice.granted & self._gpc_categories:
            return []
        stored = choice.granted - self._gpc_categories
        markup = self._markup.for_request(Headers(scope=scope).get("accept-language", ""))
        await self._record(scope, "gpc", "gpc", visitor.state, markup)
        value = self._cookie.sign(choice.consent_id, choice.method, stored)
        header = self._consent_cookie_header(value, stored, scope)
        return [(b"set-cookie", header.encode("latin-1"))]

    async def _record(
        self,
        scope: Scope,
        action: Action,
        mechanism: Mechanism,
        state: ConsentState,
        markup: LocalizedMarkup,
    ) -> None:
        if self._log is None:
            return
        ip = None
        client = scope.get("client")
        if self._settings.log_ip == "truncated" and client:
            ip = truncate_ip(str(client[0]))
        event = ConsentEvent(
            consent_id=state.consent_id or "",
            occurred_at=datetime.now(UTC),
            action=action,
            granted=tuple(sorted(state.granted)),
            denied=tuple(sorted(self._all_categories - state.granted)),
            revision=state.revision,
            locale=markup.locale,
            mechanism=mechanism,
            notice_hash=markup.notice_hash,
            gpc=state.gpc,
            ip=ip,
        )
        try:
            await self._log.record(event, markup.notice)
        except Exception:
            # The visitor's choice still takes effect: a broken log must not turn a
            # refusal into a failed request that leaves trackers on.
            logger.exception("consent log unavailable; decision not stored: %r", event)


def state_json(state: ConsentState, categories: frozenset[str]) -> dict[str, Any]:
    """The JSON form of a visitor's state, as the decision endpoint answers it."""
    return {
        "decided": state.decided,
        "granted": sorted(state.granted),
        "denied": sorted(categories - state.granted),
        "consent_id": state.consent_id,
        "revision": state.revision,
        "gpc": state.gpc,
    }


def is_cross_site(headers: Headers, host: str) -> bool:
    """Whether the request comes from another site (a forged decision)."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site:
        # The browser computed this with the public suffix list: trust it first.
        return fetch_site.strip().lower() not in ("same-origin", "same-site", "none")
    source = headers.get("origin") or headers.get("referer")
    if not source:
        return False
    if source.strip() == "null":
        return True
    try:
        source_host = urlsplit(source.strip()).hostname
    except ValueError:
        return True
    return source_host != _hostname(host)


def _hostname(host: str) -> str | None:
    try:
        return urlsplit(f"//{host.strip()}").hostname
    except ValueError:
        return None


def safe_next(value: str, host: str) -> str:
    """``value`` if it is a path or URL of this site, else ``/``."""
    value = value.strip()
    if not value or len(value) > 2048 or any(ord(c) < 0x20 or c in "\\\x7f" for c in value):
        return "/"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.hostname != _hostname(host):
            return "/"
    elif not value.startswith("/"):
        return "/"
    path = parts.path or "/"
    if path.startswith("//"):
        return "/"
    target = quote(path, safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        target += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return target


async def read_body(headers: Headers, receive: Receive) -> bytes:
    """The request body, refused with 413 past ``MAX_DECISION_BYTES``."""
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadDecision(400, "Bad Content-Length")
        if int(declared) > MAX_DECISION_BYTES:
            raise BadDecision(413, "Decision too large")
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadDecision(400, "Client disconnected")
        body += message.get("body", b"")
        if len(body) > MAX_DECISION_BYTES:
            raise BadDecision(413, "Decision too large")
        if not message.get("more_body", False):
            return bytes(body)


def parse_decision(
    headers: Headers, body: bytes, categories: frozenset[str], host: str
) -> Decision:
    """Read a decision from a form or JSON body; ``BadDecision`` when it is not one."""
    content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    fields: dict[str, list[str]]
    if content_type == "application/json" or content_type.endswith("+json"):
        fields = _json_fields(body)
        wants_json = True
    elif content_type in ("application/x-www-form-urlencoded", ""):
        try:
            text = body.decode("utf-8")
            fields = parse_qs(text, keep_blank_values=True, max_num_fields=64)
        except (UnicodeDecodeError, ValueError) as error:
            raise BadDecision(400, "Unreadable form") from error
        wants_json = "application/json" in headers.get("accept", "")
    else:
        raise BadDecision(415, "Send a form or JSON")

    actions = fields.get("action", [])
    if len(actions) != 1 or actions[0] not in _ACTIONS:
        raise BadDecision(400, "Unknown action")
    chosen = frozenset(fields.get("categories", []))
    unknown = chosen - categories - {NECESSARY}
    if unknown:
        raise BadDecision(400, "Unknown category")
    mechanisms = fields.get("mechanism", [])
    mechanism: Mechanism = "api" if wants_json and not mechanisms else "banner"
    if mechanisms:
        found = _MECHANISMS.get(mechanisms[0])
        if found is None:
            raise BadDecision(400, "Unknown mechanism")
        mechanism = found
    next_values = fields.get("next", ["/"])
    return Decision(
        action=actions[0],
        categories=chosen,
        next_url=safe_next(next_values[0] if next_values else "/", host),
        mechanism=mechanism,
        wants_json=wants_json,
        locale=(fields.get("locale") or [""])[0][:16],
    )


def _json_fields(body: bytes) -> dict[str, list[str]]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise BadDecision(400, "Unreadable JSON") from error
    if not isinstance(data, dict):
        raise BadDecision(400, "Expected a JSON object")
    fields: dict[str, list[str]] = {}
    for key in ("action", "next", "mechanism", "locale"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise BadDecision(400, f"{key} must be a string")
        fields[key] = [value]
    categories = data.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise BadDecision(400, "categories must be a list of strings")
    fields["categories"] = categories
    return fields
