"""Classify, strip and expire the site's own cookies.

A cookie name belongs to ``necessary`` (the consent cookie and the site's
``necessary_cookies``), to one declared category, or to none ("undeclared").
The same rule decides both directions: a ``Set-Cookie`` the app sends, and a
cookie the browser sends back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from fnmatch import translate

from .settings import NECESSARY, ConsentSettings

logger = logging.getLogger("consent")

UNDECLARED = "UNDECLARED"
"""Classification of a cookie name that no category declares."""

_CLASSIFY_CACHE_SIZE = 4096
_REPORTED_LIMIT = 1024
_EXPIRED = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
# A hostname the browser may scope cookies to: letters, digits, hyphens and dots.
_HOSTNAME = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


class CookiePolicy:
    """Which cookie names the visitor's choice lets through.

    Built once from the settings; classifying a name is a dictionary look-up
    after the first time it is seen.
    """

    def __init__(self, settings: ConsentSettings) -> None:
        self._block_undeclared = settings.undeclared_cookies == "block"
        self._exact: dict[str, str] = {}
        globs: list[tuple[re.Pattern[str], str]] = []
        declared = [(NECESSARY, p) for p in (settings.cookie_name, *settings.necessary_cookies)]
        declared += [(c.key, p) for c in settings.categories for p in c.cookies]
        for key, pattern in declared:
            if any(char in pattern for char in "*?["):
                globs.append((re.compile(translate(pattern)), key))
            else:
                self._exact.setdefault(pattern, key)
        self._globs = tuple(globs)
        self._classified: dict[str, str] = dict(self._exact)
        self._reported: set[str] = set()
        self._cookie_domain = settings.cookie_domain
        # (Path, Domain) pairs the app has set each cookie with, learnt from its own
        # Set-Cookie headers, so that a refused cookie can be deleted where it lives.
        self._scopes: dict[str, set[tuple[str, str | None]]] = {}

    def classify(self, name: str) -> str:
        """The category key of a cookie name, ``necessary``, or ``UNDECLARED``."""
        key = self._classified.get(name)
        if key is not None:
            return key
        key = UNDECLARED
        for pattern, category in self._globs:
            if pattern.match(name):
                key = category
                break
        # Request cookies are visitor input: never let them grow the cache without bound.
        if len(self._classified) < _CLASSIFY_CACHE_SIZE:
            self._classified[name] = key
        return key

    def allows(self, name: str, granted: frozenset[str]) -> bool:
        """Whether a cookie of this name may be set or read under ``granted``."""
        key = self.classify(name)
        if key == UNDECLARED:
            self._report_undeclared(name)
            return not self._block_undeclared
        return key in granted

    def learn_scope(self, name: str, header_value: bytes) -> None:
        """Remember the ``Path`` and ``Domain`` a ``Set-Cookie`` of the app uses."""
        path, domain = "/", None
        for attribute in header_value.split(b";")[1:]:
            key, _, value = attribute.partition(b"=")
            key = key.strip(b" \t").lower()
            if key == b"path":
                path = value.strip(b" \t").decode("latin-1") or "/"
            elif key == b"domain":
                domain = value.strip(b" \t").lstrip(b".").decode("latin-1").lower() or None
        if path == "/" and domain is None:
            return
        if not path.startswith("/") or any(c in path for c in ";\r\n") or len(path) > 256:
            return
        scopes = self._scopes.get(name)
        if scopes is None:
            if len(self._scopes) >= _REPORTED_LIMIT:
                return
            scopes = self._scopes[name] = set()
        if len(scopes) < 8:
            scopes.add((path, domain))

    def expiry_headers(self, names: Iterable[str], host: str) -> list[tuple[bytes, bytes]]:
        """``Set-Cookie`` headers that delete each named cookie wherever it may live."""
        domains = cookie_domains(host, self._cookie_domain)
        headers: list[tuple[bytes, bytes]] = []
        for name in names:
            scopes = {("/", domain) for domain in domains}
            scopes.update(self._scopes.get(name, ()))
            for path, domain in sorted(scopes, key=lambda s: (s[0], s[1] or "")):
                value = f"{name}=; {_EXPIRED}; Path={path}"
                if domain:
                    value += f"; Domain={domain}"
                headers.append((b"set-cookie", value.encode("latin-1")))
        return headers

    def _report_undeclared(self, name: str) -> None:
        if name in self._reported or len(self._reported) >= _REPORTED_LIMIT:
            return
        self._reported.add(name)
        action = "blocked" if self._block_undeclared else "allowed"
        logger.warning(
            "undeclared cookie %r %s: declare it in a category or in necessary_cookies",
            name,
            action,
        )


def set_cookie_name(header_value: bytes) -> str:
    """The cookie name of a ``Set-Cookie`` header value (RFC 6265bis parsing).

    A value without ``=`` sets a cookie with an empty name, as browsers read it.
    """
    pair = header_value.split(b";", 1)[0]
    name, sep, _ = pair.partition(b"=")
    if not sep:
        return ""
    return name.strip(b" \t").decode("latin-1")


def split_cookie_header(header_value: bytes) -> list[tuple[str, bytes]]:
    """``(name, raw pair)`` for each cookie of a request ``Cookie`` header."""
    pairs: list[tuple[str, bytes]] = []
    for raw in header_value.split(b";"):
        raw = raw.strip(b" \t")
        if not raw:
            continue
        name, sep, _ = raw.partition(b"=")
        pairs.append(((name.strip(b" \t") if sep else b"").decode("latin-1"), raw))
    return pairs


def cookie_value(header_value: bytes, name: str) -> str | None:
    """The value of the first cookie called ``name`` in a ``Cookie`` header."""
    wanted = name.encode("latin-1")
    for raw in header_value.split(b";"):
        key, sep, value = raw.partition(b"=")
        if sep and key.strip(b" \t") == wanted:
            return value.strip(b" \t").strip(b'"').decode("latin-1")
    return None


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
