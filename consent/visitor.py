"""From the request to a Visitor: what its ``Cookie``, ``Sec-GPC`` and geo headers say."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from starlette.types import Scope

from .cache import BUDGETS, BoundedCache
from .cookie import ConsentCookie, StoredChoice
from .cookie_headers import CookiePair, cookie_value, split_cookie_header
from .cookies import CookiePolicy
from .migration import Imported, Importer
from .regime import Place, RegimeReader
from .service import ServiceGroups
from .settings import ConsentSettings
from .state import UNDECIDED_GRANTS, ConsentState

VISITOR_KEY = "consent.visitor"
"""Where the middleware puts the ``Visitor`` for its own endpoints."""


@dataclass(frozen=True, slots=True)
class Visitor:
    """What the middleware read from one request's headers."""

    state: ConsentState
    choice: StoredChoice | None
    """The verified choice of the consent cookie, or None before any choice."""
    cookie_value: str | None
    """The raw consent cookie, verified or not."""
    cookie_header: bytes
    """The raw ``Cookie`` header (several are joined with ``; ``), or empty."""
    refused_cookies: tuple[CookiePair, ...]
    """Incoming cookies the visitor's choice does not allow (one per name)."""
    cookies: tuple[tuple[str, str, bool], ...] = ()
    """Each incoming cookie: its name, its category (or ``UNDECLARED``), whether refused."""
    live_categories: frozenset[bytes] = frozenset()
    """Granted categories other than ``necessary``, and allowed services, as bytes: their
    gated tags go live."""
    allowed_cookie_header: bytes | None = None
    """The ``Cookie`` header the app gets when some cookie is refused (None: unchanged)."""
    gpc_opt_out_due: bool = False
    """A GPC signal meets a stored choice that still grants what GPC opts out of."""
    usable: frozenset[str] = frozenset()
    """The keys of the categories and services that may be used now (cookies' owners)."""
    imported: Imported | None = None
    """An earlier consent manager's choice, in force from this request (``import_cookies``)."""


class VisitorReader:
    """Reads the visitor of each request, once per distinct ``Cookie`` header.

    A returning visitor sends the same header on every request: what it says is
    worked out once and kept (``BUDGETS["visitors"]``), and then only the
    choice's expiry is checked.
    """

    def __init__(
        self, settings: ConsentSettings, consent_cookie: ConsentCookie, policy: CookiePolicy
    ) -> None:
        self._consent_cookie = consent_cookie
        self._policy = policy
        self._cookie_name = settings.cookie_name
        self._cookie_marker = settings.cookie_name.encode("latin-1") + b"="
        self._gpc_categories = settings.gpc_opt_out_keys
        self._revision = settings.policy_revision
        self._every_grant = frozenset(settings.category_keys) | UNDECIDED_GRANTS
        self._services = ServiceGroups(settings.service_categories).of
        self._regimes = RegimeReader(settings)
        self._importer = Importer(settings) if settings.import_cookies else None
        self._shared = settings.cache_mode == "shared"
        self._visitors: BoundedCache[object, tuple[Visitor, float]] = BoundedCache(
            BUDGETS["visitors"]
        )
        self._visitors_gpc: BoundedCache[object, tuple[Visitor, float]] = BoundedCache(
            BUDGETS["visitors_gpc"]
        )

    def read(self, scope: Scope) -> Visitor:
        """The visitor of this request."""
        cookie = b""
        gpc = False
        regimes = self._regimes
        place = regimes.unknown
        key: object
        # Servers make new name objects per request: comparing them costs less than
        # hashing them for a set look-up.
        if not regimes.country_header:
            for name, value in scope["headers"]:
                if name == b"cookie":
                    # Several Cookie headers (HTTP/2 may split one) make one list.
                    cookie = cookie + b"; " + value if cookie else value
                elif name == b"sec-gpc":
                    gpc = gpc or value.strip() == b"1"
            key = cookie
        else:
            country = region = b""
            country_header, region_header = regimes.country_header, regimes.region_header
            for name, value in scope["headers"]:
                if name == b"cookie":
                    cookie = cookie + b"; " + value if cookie else value
                elif name == b"sec-gpc":
                    gpc = gpc or value.strip() == b"1"
                elif name == country_header:
                    country = value
                elif name == region_header:
                    region = value
            place = regimes.place(country, region)
            key = (cookie, place)
        visitors = self._visitors_gpc if gpc else self._visitors
        find = visitors.get  # called as a local: a slot's method is not looked up faster
        cached = find(key)
        if cached is not None and time.time() < cached[1]:
            return cached[0]
        visitor = self._visitor(cookie, gpc, place)
        # A float, as ``time.time()`` is: comparing an int to it costs more.
        expires_at = float(visitor.choice.expires_at) if visitor.choice else math.inf
        if visitor.imported is not None:
            expires_at = math.inf  # what it holds does not expire with a date
        visitors.put(key, (visitor, expires_at), _estimated_size(visitor))
        return visitor

    def _visitor(self, cookie_header: bytes, gpc: bool, place: Place) -> Visitor:
        raw_choice = None
        if self._cookie_marker in cookie_header:
            raw_choice = cookie_value(cookie_header, self._cookie_name)
        choice = self._consent_cookie.read(raw_choice)
        gpc_opt_out_due = False
        regime, region = place
        imported = None
        if choice is None and self._importer is not None:
            imported = self._importer.read(cookie_header)
            if imported is not None:
                # The earlier choice counts from this request on, as if it were ours.
                choice = StoredChoice(
                    consent_id=imported.consent_id,
                    revision=self._revision,
                    method=imported.method,
                    granted=imported.granted,
                    services=imported.services,
                    signed_at=0,
                    expires_at=0,
                )
        if choice is None:
            # Before any choice, the regime decides: nothing optional where consent
            # comes first, everything but what GPC refuses where it does not.
            granted = UNDECIDED_GRANTS
            if regime != "opt-in":
                granted = self._every_grant - self._gpc_categories if gpc else self._every_grant
            state = ConsentState(
                decided=False,
                granted=granted,
                consent_id=None,
                gpc=gpc,
                revision=self._revision,
                regime=regime,
                region=region,
                services=self._services(granted),
            )
        else:
            granted = choice.granted
            one_by_one = choice.services
            if gpc and choice.method != "s":
                # GPC opts out of these unless the visitor ticked them one by one.
                gpc_opt_out_due = bool(granted & self._gpc_categories)
                granted = granted - self._gpc_categories
            state = ConsentState(
                decided=True,
                granted=granted | UNDECIDED_GRANTS,
                consent_id=choice.consent_id,
                gpc=gpc,
                revision=choice.revision,
                regime=regime,
                region=region,
                services=self._services(granted) | one_by_one,
            )
        # What may be used: categories and services, one set for cookies and tags.
        usable = state.granted | state.services if state.services else state.granted
        policy = self._policy
        cookies: list[tuple[str, str, bool]] = []
        kept: list[bytes] = []
        refused: dict[tuple[str, bool], CookiePair] = {}
        # In "shared" mode the browser reads the consent cookie without its key: one the
        # server cannot verify (forged, or signed with a key since removed) goes.
        forged = (
            self._shared
            and raw_choice is not None
            and choice is None
            and self._consent_cookie.consent_id_of(raw_choice) is None
        )
        for pair in split_cookie_header(cookie_header):
            allowed = policy.allows_pair(pair, usable)
            if forged and pair.name == self._cookie_name:
                allowed = False
            cookies.append((pair.name, policy.category(pair.name), not allowed))
            if allowed:
                kept.append(pair.raw)
            else:
                refused.setdefault((pair.name, pair.nameless), pair)
        return Visitor(
            state=state,
            choice=choice,
            cookie_value=raw_choice,
            cookie_header=cookie_header,
            refused_cookies=tuple(refused.values()),
            cookies=tuple(cookies),
            live_categories=frozenset(key.encode("ascii") for key in usable - UNDECIDED_GRANTS),
            allowed_cookie_header=b"; ".join(kept) if refused else None,
            gpc_opt_out_due=gpc_opt_out_due,
            usable=usable,
            imported=imported,
        )


def _estimated_size(visitor: Visitor) -> int:
    """An upper bound of the bytes a cached visitor holds, for the cache's byte budget.

    The header is held once as the key; each cookie costs a tuple and a name
    string, and at most once more in the list of refused names and in the header
    the app gets. ``tests/test_memory.py`` checks the estimate against tracemalloc.
    """
    header = len(visitor.cookie_header)
    return 2048 + 3 * header + 320 * len(visitor.cookies)


def hide_refused_cookies(scope: Scope, visitor: Visitor) -> Scope:
    """A scope whose ``Cookie`` header holds only the cookies the visitor allows."""
    allowed = visitor.allowed_cookie_header
    headers = [(name, value) for name, value in scope["headers"] if name != b"cookie"]
    if allowed:
        headers.append((b"cookie", allowed))
    return {**scope, "headers": headers}


def request_header(scope: Scope, wanted: bytes) -> str:
    """The value of the request header ``wanted`` (lower case), or empty."""
    for name, value in scope["headers"]:
        if name == wanted:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return ""


def request_path(scope: Scope) -> str:
    """The path of the request as the browser sent it (not percent-decoded)."""
    raw_path = scope.get("raw_path")
    return raw_path.decode("latin-1") if raw_path else scope["path"]  # type: ignore[no-any-return]


def request_target(scope: Scope) -> str:
    """The path and query of the request, as the browser asked for it."""
    query: bytes = scope.get("query_string", b"")
    path = request_path(scope)
    return f"{path}?{query.decode('latin-1')}" if query else path


def csp_nonce(scope: Scope) -> str:
    """The CSP nonce the app put in the scope, if any (``scope["csp_nonce"]`` or state)."""
    nonce = scope.get("csp_nonce")
    if nonce is None:
        state = scope.get("state")
        if isinstance(state, dict):
            nonce = state.get("csp_nonce")
    return nonce if isinstance(nonce, str) else ""
