"""The one place where a choice becomes a consent cookie, a log event and expiry headers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from starlette.types import Scope

from .banner import BannerMarkup, LocalizedMarkup
from .cache import BUDGETS, BoundedCache
from .cookie import ConsentCookie, Method, new_consent_id
from .cookie_headers import split_cookie_header
from .cookies import CookiePolicy
from .forms import Decision
from .log import Action, ConsentEvent, ConsentLog, Mechanism, truncate_ip
from .service import ServiceGroups
from .settings import NECESSARY, ConsentSettings
from .state import ConsentState
from .visitor import Visitor, request_header

logger = logging.getLogger("consent")

Headers = list[tuple[bytes, bytes]]


class Outcome(NamedTuple):
    """What a decision leaves: the visitor's new state and the headers that store it."""

    state: ConsentState
    set_cookies: Headers
    """The new consent cookie, then the deletion of every cookie it refuses."""


class Decisions:
    """Turns visitors' choices (and GPC opt-outs) into cookies, log events and expiries."""

    def __init__(
        self,
        settings: ConsentSettings,
        consent_cookie: ConsentCookie,
        policy: CookiePolicy,
        markup: BannerMarkup,
        log: ConsentLog | None,
    ) -> None:
        self._settings = settings
        self._markup = markup
        self._consent_cookie = consent_cookie
        self._policy = policy
        self._log = log
        self.categories = frozenset(settings.category_keys)
        self._gpc_categories = settings.gpc_opt_out_keys
        self._service_categories = settings.service_categories
        self.services = frozenset(self._service_categories)
        self.services_of = ServiceGroups(self._service_categories).of
        """The services of these categories."""
        # Earlier managers' choices already logged (``import_cookies``), by digest.
        self._imported: BoundedCache[bytes, bool] = BoundedCache(BUDGETS["imports"])

    async def decide(
        self, scope: Scope, visitor: Visitor, decision: Decision, markup: LocalizedMarkup
    ) -> Outcome:
        """Store a visitor's decision: log it, sign it, expire what it refuses."""
        method, stored = self._resolve(decision, visitor.state.gpc)
        # Services allowed one by one: those outside the categories granted whole.
        one_by_one = (
            frozenset(
                service
                for service in decision.services
                if self._service_categories[service] not in stored
            )
            if method == "s"
            else frozenset()
        )
        # The same browser keeps its identifier across revisions and expiry, so
        # that the log shows its whole history.
        consent_id = (
            visitor.choice.consent_id
            if visitor.choice
            else self._consent_cookie.consent_id_of(visitor.cookie_value)
        ) or new_consent_id()
        granted = frozenset({NECESSARY}) | stored
        services = self.services_of(stored) | one_by_one
        state = ConsentState(
            decided=True,
            granted=granted,
            consent_id=consent_id,
            gpc=visitor.state.gpc,
            revision=self._settings.policy_revision,
            regime=visitor.state.regime,
            region=visitor.state.region,
            services=services,
        )
        action: Action
        before = visitor.state
        if before.decided and (before.granted - granted or before.services - services):
            action = "withdraw"
        elif decision.action == "save":
            action = "custom"
        else:
            action = "accept_all" if decision.action == "accept_all" else "reject_all"
        await self._record(scope, action, decision.mechanism, state, markup)
        headers = [self._consent_cookie_header(consent_id, method, stored, scope, one_by_one)]
        # Whatever the new choice refuses goes now, HttpOnly cookies included.
        usable = granted | services
        refused = [
            pair
            for pair in split_cookie_header(visitor.cookie_header)
            if not self._policy.allows_pair(pair, usable)
        ]
        # Cookies set without ``Path`` live at the default path of the page that set
        # them: the page the visitor decided on is the one page known here.
        page_path = urlsplit(decision.next_url).path
        headers += self._policy.expiry_headers(refused, request_header(scope, b"host"), page_path)
        return Outcome(state, headers)

    async def honour_gpc(self, scope: Scope, visitor: Visitor) -> Headers:
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
        markup = self._markup.for_request(request_header(scope, b"accept-language"))
        await self._record(scope, "gpc", "gpc", visitor.state, markup)
        return [
            self._consent_cookie_header(
                choice.consent_id, choice.method, stored, scope, choice.services
            )
        ]

    async def import_choice(self, scope: Scope, visitor: Visitor) -> Headers:
        """Make an earlier consent manager's choice ours: sign it, log it once, and
        expire the old cookie. Returns the ``Set-Cookie`` headers for the page's answer.

        A browser may send several requests with the old cookie before it stores the
        new one; each gets the new cookie, and the log gets one event.
        """
        imported = visitor.imported
        if imported is None:
            raise ValueError("import_choice needs a visitor with an imported choice")
        if not self._imported.get(imported.digest):
            self._imported.put(imported.digest, True, 160)
            markup = self._markup.for_request(request_header(scope, b"accept-language"))
            await self._record(scope, imported.action, "import", visitor.state, markup)
        headers = [
            self._consent_cookie_header(
                imported.consent_id,
                imported.method,
                imported.granted,
                scope,
                imported.services,
                max_age=imported.max_age,
            )
        ]
        # The old cookie goes (unless the answer expires it already, as undeclared).
        refused = {pair.name for pair in visitor.refused_cookies}
        old = [
            pair
            for pair in split_cookie_header(visitor.cookie_header)
            if pair.name == imported.cookie_name and pair.name not in refused
        ]
        return headers + self._policy.expiry_headers(old, request_header(scope, b"host"), "/")

    def state_json(self, state: ConsentState) -> dict[str, Any]:
        """The JSON form of a visitor's state, as the decision endpoint answers it."""
        return {
            "decided": state.decided,
            "granted": sorted(state.granted),
            "denied": sorted(self.categories - state.granted),
            "services": sorted(state.services),
            "consent_id": state.consent_id,
            "revision": state.revision,
            "gpc": state.gpc,
        }

    def _resolve(self, decision: Decision, gpc: bool) -> tuple[Method, frozenset[str]]:
        """How the choice was made, and the categories it grants."""
        if decision.action == "accept_all":
            # Under GPC, "accept all" does not reach the categories GPC opts out of:
            # those need a choice of their own.
            return "a", self.categories - self._gpc_categories if gpc else self.categories
        if decision.action == "reject_all":
            return "r", frozenset()
        return "s", decision.categories - {NECESSARY}

    def _consent_cookie_header(
        self,
        consent_id: str,
        method: Method,
        granted: frozenset[str],
        scope: Scope,
        services: frozenset[str] = frozenset(),
        max_age: int | None = None,
    ) -> tuple[bytes, bytes]:
        settings = self._settings
        value = self._consent_cookie.sign(consent_id, method, granted, services)
        lifetime = self._consent_cookie.lifetime(granted | services)
        parts = [
            f"{settings.cookie_name}={value}",
            f"Max-Age={lifetime if max_age is None else min(max_age, lifetime)}",
            "Path=/",
            "SameSite=Lax",
        ]
        if settings.cache_mode != "shared":
            # One cached page for everyone reads the choice in the browser (consent-state.js).
            parts.append("HttpOnly")
        if settings.cookie_domain:
            parts.append(f"Domain={settings.cookie_domain}")
        secure = settings.cookie_secure
        if secure is None:
            secure = scope.get("scheme") == "https"
        if secure:
            parts.append("Secure")
        return (b"set-cookie", "; ".join(parts).encode("latin-1"))

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
            denied=tuple(sorted(self.categories - state.granted)),
            revision=state.revision,
            locale=markup.locale,
            mechanism=mechanism,
            notice_hash=markup.notice_hash,
            gpc=state.gpc,
            ip=ip,
            regime=state.regime,
            region=state.region,
            services=tuple(sorted(state.services)),
        )
        try:
            await self._log.record(event, markup.notice)
        except Exception:
            # The visitor's choice still takes effect: a broken log must not turn a
            # refusal into a failed request that leaves trackers on.
            logger.exception("consent log unavailable; decision not stored: %r", event)
