"""The site's own cookies: classify their names, and delete the refused ones where they live.

A cookie name belongs to ``necessary`` (the consent cookie and the site's
``necessary_cookies``), to one declared category, or to none ("undeclared").
The same rule decides both directions: a ``Set-Cookie`` the app sends, and a
cookie the browser sends back, each named as ``cookie_headers`` reads it.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable

from .cache import BUDGETS, BoundedCache
from .cookie_headers import (
    CTL,
    MAX_ATTRIBUTE_VALUE,
    SECURE_PREFIXES,
    WSP,
    CookiePair,
    browser_cookie,
    default_path,
    header_bytes,
    holdable,
    usable_path,
)
from .globs import glob_regex, is_glob
from .settings import ConsentSettings

logger = logging.getLogger("consent")

UNDECLARED = "UNDECLARED"
"""Classification of a cookie name that no category declares."""

_REPORTED_LIMIT = 1024
_SCOPES_PER_NAME = 8
_LEARNT_TEXT_LIMIT = 256
"""Longest cookie name, ``Path`` or ``Domain`` whose scope is learnt."""
_EXPIRED = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
EXPIRED_PER_RESPONSE = 64
"""Most refused cookies one response deletes; the next response deletes the next ones."""
_NAMELESS_PLACEHOLDER = b"expired"
"""Value of a nameless cookie's deletion when its name cannot serve (any value does)."""
# A hostname the browser may scope cookies to: letters, digits, hyphens and dots.
_HOSTNAME = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


class CookiePolicy:
    """Which cookie names the visitor's choice lets through, and how to delete the others.

    Built once from the settings; classifying a name is a dictionary look-up
    after the first time it is seen.

    Memory, all of it bounded whatever visitors send: the classification cache
    is a ``BoundedCache`` (``BUDGETS["cookie_names"]``: 4,096 names, 1 MiB;
    the declared exact names are kept apart, for good). The scopes learnt from the app's
    ``Set-Cookie`` headers cover at most 1,024 names, the first 8 scopes seen
    for each, a ``Path`` and a ``Domain`` of at most 256 characters: about
    7 MB at worst (a visitor chooses the default paths, not the names). The
    names set nameless and the undeclared names reported are 1,024 at most
    each, of at most 256 characters.
    """

    def __init__(self, settings: ConsentSettings) -> None:
        self._block_undeclared = settings.undeclared_cookies == "block"
        self._exact: dict[str, str] = {}
        globs: list[tuple[re.Pattern[str], str]] = []
        # A service's cookies have the service as owner: allowed with it or its category.
        self._category_of = settings.service_categories
        for key, pattern in settings.cookie_owners():
            if is_glob(pattern):
                globs.append((glob_regex(pattern), key))
            else:
                self._exact.setdefault(pattern, key)
        self._globs = tuple(globs)
        self._classified: BoundedCache[str, str] = BoundedCache(BUDGETS["cookie_names"])
        self._reported: set[str] = set()
        self._cookie_domain = settings.cookie_domain
        # (Path, Domain) pairs the app has set each cookie with, learnt from its own
        # Set-Cookie headers, so that a refused cookie can be deleted where it lives.
        self._scopes: dict[str, set[tuple[str, str | None]]] = {}
        # Names the app has set as nameless cookies (``Set-Cookie: =_ga=1``).
        self._nameless: set[str] = set()

    def category(self, name: str) -> str:
        """The category key of a cookie name (a service's: its category's), or ``UNDECLARED``."""
        key = self.classify(name)
        return self._category_of.get(key, key)

    def classify(self, name: str) -> str:
        """The owner of a cookie name: ``necessary``, a category or service key, or
        ``UNDECLARED``."""
        key = self._exact.get(name) or self._classified.get(name)
        if key is not None:
            return key
        key = UNDECLARED
        for pattern, category in self._globs:
            if pattern.match(name):
                key = category
                break
        # Request cookies are visitor input: kept within the cache policy's bounds.
        self._classified.put(name, key, 160 + 4 * len(name))
        return key

    def allows(self, name: str, granted: frozenset[str]) -> bool:
        """Whether a cookie of this name may be set or read under ``granted`` (the keys of
        the categories and services that may be used)."""
        key = self.classify(name)
        if key == UNDECLARED:
            self._report_undeclared(name)
            return not self._block_undeclared
        return key in granted

    def allows_pair(self, pair: CookiePair, granted: frozenset[str]) -> bool:
        """Whether the app may see (or the browser store) this cookie: every name allowed.

        ``pair`` comes from :func:`split_cookie_header` or :func:`set_cookie_pair`.
        """
        return all(self.allows(name, granted) for name in pair.names)

    def learn_scope(self, name: str, header_value: bytes, request_path: str = "/") -> None:
        """Remember where the app's ``Set-Cookie`` stores a cookie, to delete it there later.

        ``name`` is :func:`set_cookie_name` of the header; ``request_path`` the
        path of the request as the browser sent it (ASGI ``raw_path``, not
        percent-decoded), from which a cookie without a ``Path`` (or with one
        not starting with ``/``) takes its default path (RFC 6265 §5.1.4).
        Whether the cookie was set nameless is remembered too.
        """
        if len(name) > _LEARNT_TEXT_LIMIT or CTL.search(header_value):
            return
        pair, _, attributes = header_value.partition(b";")
        if not browser_cookie(pair)[0] and len(self._nameless) < _REPORTED_LIMIT:
            self._nameless.add(name)
        path: bytes | None = None
        domain: bytes | None = None
        # RFC 6265bis §5.6: the last Path wins, and one that is empty or not absolute
        # stands for the default path; an empty Domain is ignored altogether.
        for attribute in attributes.split(b";"):
            key, _, value = attribute.partition(b"=")
            key = key.strip(WSP).lower()
            value = value.strip(WSP)
            if len(value) > MAX_ATTRIBUTE_VALUE:
                continue
            if key == b"path":
                path = value if value.startswith(b"/") else None
            elif key == b"domain" and value:
                domain = value[1:] if value.startswith(b".") else value
        cookie_path = path.decode("latin-1") if path is not None else default_path(request_path)
        cookie_domain = domain.decode("latin-1").lower() if domain is not None else None
        if cookie_path == "/" and cookie_domain is None:
            return
        if len(cookie_path) > _LEARNT_TEXT_LIMIT or not usable_path(cookie_path):
            return
        if cookie_domain is not None and (
            len(cookie_domain) > _LEARNT_TEXT_LIMIT or not _HOSTNAME.match(cookie_domain)
        ):
            return
        scopes = self._scopes.get(name)
        if scopes is None:
            if len(self._scopes) >= _REPORTED_LIMIT:
                return
            scopes = self._scopes[name] = set()
        if len(scopes) < _SCOPES_PER_NAME:
            scopes.add((cookie_path, cookie_domain))

    def expiry_headers(
        self, pairs_or_names: Iterable[CookiePair | str], host: str, request_path: str = "/"
    ) -> list[tuple[bytes, bytes]]:
        """``Set-Cookie`` headers that make a browser delete each cookie wherever it may live.

        Each cookie is deleted on the exact host and its parent domains, at
        ``/``, at every path the app was seen to set it on, and at the default
        path of this request (``request_path`` as the browser sent it: a cookie
        set without ``Path`` by ``/news/2024/article`` lives at ``/news/2024``).

        A browser ignores a ``Set-Cookie`` with an empty name and an empty
        value, so a nameless cookie is deleted with a value:
        ``=_ga; Max-Age=0; ...``. It holds one nameless cookie per domain and
        path, and that deletion removes whichever is there, so it is sent only
        when the cookie is known to be nameless: the pair has no ``=``, or the
        app was seen to set that name nameless (``Set-Cookie: =_ga=1``, which
        the browser then sends as ``_ga=1``, exactly as a cookie named
        ``_ga``). A nameless cookie with ``=`` in its value that the app never
        set (a script's) cannot be told from a named one: it is deleted by name
        only, which leaves it in place, hidden from the app on every request.

        A bare name stands for a named cookie (and for a nameless one too when
        the app set it so). Cookies a browser cannot hold (control characters,
        ``;``, an empty name and value) get no header.

        At most ``EXPIRED_PER_RESPONSE`` cookies are deleted per response (the
        first ones sent): a browser holds a few dozen cookies per site, and the
        next response deletes the rest, whereas a visitor who sends thousands of
        names must not get a response with thousands of headers.
        """
        domains = cookie_domains(host, self._cookie_domain)
        request_default = default_path(request_path)
        headers: list[tuple[bytes, bytes]] = []
        for item in itertools.islice(pairs_or_names, EXPIRED_PER_RESPONSE):
            if isinstance(item, CookiePair):
                stored, value = browser_cookie(item.raw)
                if CTL.search(item.raw) or not (stored or value):
                    continue  # no browser holds such a cookie
                name = item.name
                named = b"" if item.nameless else stored
                nameless = item.nameless or name in self._nameless
            else:
                name = item
                named = header_bytes(item)
                nameless = name in self._nameless
            scopes = self._scopes_to_delete(name, domains, request_default)
            if holdable(named) and b"=" not in named:
                headers += _deletions(named + b"=", named, scopes)
            if nameless:
                value = header_bytes(name)
                if not holdable(value) or value[:9].lower().startswith(SECURE_PREFIXES):
                    value = _NAMELESS_PLACEHOLDER
                headers += _deletions(b"=" + value, b"", scopes)
        return headers

    def _scopes_to_delete(
        self, name: str, domains: list[str | None], request_default: str
    ) -> list[tuple[str, str | None]]:
        """Every (path, domain) pair a cookie of this name may live at, in a stable order."""
        learnt = self._scopes.get(name, set())
        paths = {"/", *(path for path, _ in learnt)}
        if usable_path(request_default):
            paths.add(request_default)
        all_domains = [*domains, *(domain for _, domain in learnt if domain not in domains)]
        return sorted(
            {(path, domain) for path in paths for domain in all_domains},
            key=lambda scope: (scope[0], scope[1] or ""),
        )

    def _report_undeclared(self, name: str) -> None:
        # Names are visitor input: the log shows at most a bounded prefix of each.
        shown = name[:_LEARNT_TEXT_LIMIT]
        if shown in self._reported or len(self._reported) >= _REPORTED_LIMIT:
            return
        self._reported.add(shown)
        action = "blocked" if self._block_undeclared else "allowed"
        logger.warning(
            "undeclared cookie %r %s: declare it in a category or in necessary_cookies",
            shown,
            action,
        )


def cookie_domains(host: str, configured: str | None) -> list[str | None]:
    """The ``Domain`` attributes a cookie seen on ``host`` may have been set with.

    ``None`` stands for a host-only cookie. Trackers usually set their cookies on
    the parent domain (``.example.com`` from ``www.example.com``); without the
    public suffix list, each parent with two labels or more is tried, and the
    browser ignores the ones that are public suffixes.
    """
    domains: list[str | None] = [None]
    if configured:
        domains.append(configured.lstrip("."))
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    host = host.lower().rstrip(".")
    if not _HOSTNAME.match(host) or host.replace(".", "").isdigit():
        return domains
    labels = host.split(".")
    for start in range(max(0, len(labels) - 5), len(labels) - 1):
        domain = ".".join(labels[start:])
        if domain not in domains:
            domains.append(domain)
    return domains


def _deletions(
    pair: bytes, name: bytes, scopes: list[tuple[str, str | None]]
) -> list[tuple[bytes, bytes]]:
    """``Set-Cookie`` headers deleting ``pair`` (whose name is ``name``) at each scope.

    A browser ignores a ``__Secure-`` or ``__Host-`` cookie without ``Secure``
    (and a ``__Host-`` one with a ``Domain`` or another path), deletions included.
    """
    lowered = name.lower()
    host_prefix = lowered.startswith(b"__host-")
    secure = "; Secure" if host_prefix or lowered.startswith(b"__secure-") else ""
    headers: list[tuple[bytes, bytes]] = []
    for path, domain in scopes:
        if host_prefix and (path != "/" or domain):
            continue
        attributes = f"; {_EXPIRED}; Path={path}{secure}"
        if domain:
            attributes += f"; Domain={domain}"
        headers.append((b"set-cookie", pair + attributes.encode("latin-1")))
    return headers
