"""A browser's cookie store per RFC 6265bis, small enough to read: for tests only.

What a browser does with ``Set-Cookie`` strings and which ``Cookie`` header it
sends back, to check the middleware against: parsing (§5.6, with the control
character rule, the 4096-octet limit and the nameless-cookie rule), storage
(§5.7: Domain, Path and its default, Secure, HttpOnly, Max-Age and Expires,
the nameless ``__Secure-``/``__Host-`` rule and the rules of those prefixes
for named cookies, replacement of a cookie of the same name, domain, host-only
flag and path) and retrieval (§5.8.3: domain- and path-match, longer paths
first, then older cookies; a nameless cookie is sent as its bare value).

Left out, as no test here depends on them: SameSite (every request is
same-site), the public suffix list (a single-label domain stands for every
public suffix), the limits on cookies per domain and their eviction.
Everything is octets: strings from the vectors are encoded as UTF-8, as
browsers send them.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import count
from urllib.parse import urlsplit

SUITE_CLOCK = datetime(2012, 1, 1, tzinfo=UTC).timestamp()
"""The time the jar runs at unless told otherwise. The http-state vectors were written in
2011 and expect ``Expires=... 2019`` in the future: any time from 2008 to 2019 suits them."""

MAX_AGE_LIMIT = 400 * 24 * 3600
"""§5.6.1: a cookie's lifetime is cut to 400 days."""

_CTL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_WSP = b" \t"
_PREFIXES = (b"__secure-", b"__host-")
_DATE_DELIMITER = re.compile(rb"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(rb"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D.*)?\Z", re.DOTALL)
_DAY = re.compile(rb"(\d{1,2})(?:\D.*)?\Z", re.DOTALL)
_YEAR = re.compile(rb"(\d{2,4})(?:\D.*)?\Z", re.DOTALL)
_MONTHS = [b"jan", b"feb", b"mar", b"apr", b"may", b"jun"]
_MONTHS += [b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"]


@dataclass(frozen=True)
class ParsedCookie:
    """A ``Set-Cookie`` string as §5.6 parses it: for each attribute, its last valid value."""

    name: bytes
    value: bytes
    expires: float | None = None
    max_age: int | None = None
    domain: str | None = None
    path: str | None = None
    """``None``: the default path of the request (no ``Path``, or one not starting with /)."""
    secure: bool = False
    http_only: bool = False


@dataclass(frozen=True)
class Cookie:
    """A cookie in the store (§5.7)."""

    name: bytes
    value: bytes
    domain: str
    path: str
    host_only: bool
    secure: bool
    http_only: bool
    expiry: float
    creation: int

    @property
    def key(self) -> tuple[bytes, str, bool, str]:
        """What a newer cookie must share to replace this one."""
        return (self.name, self.domain, self.host_only, self.path)

    def pair(self) -> bytes:
        """The cookie as the ``Cookie`` header spells it: a nameless one is its bare value."""
        return self.name + b"=" + self.value if self.name else self.value


def parse_set_cookie(string: bytes, now: float = SUITE_CLOCK) -> ParsedCookie | None:
    """§5.6, and the storage steps that do not depend on the request (2 and 22).

    ``None`` when a browser ignores the string whatever the request.
    """
    if _CTL.search(string):
        return None
    pair, _, unparsed = string.partition(b";")
    name, sep, value = pair.partition(b"=")
    if not sep:
        name, value = b"", pair
    name, value = name.strip(_WSP), value.strip(_WSP)
    if len(name) + len(value) > 4096:
        return None
    if not name and not value:
        return None
    if not name and value.lower().startswith(_PREFIXES):
        return None
    cookie = ParsedCookie(name, value)
    for av in unparsed.split(b";"):
        cookie = _apply_attribute(cookie, av, now)
    return cookie


def _apply_attribute(cookie: ParsedCookie, av: bytes, now: float) -> ParsedCookie:
    """§5.6.1 to §5.6.7: one ``cookie-av``; an invalid one changes nothing."""
    key, _, value = av.partition(b"=")
    key, value = key.strip(_WSP).lower(), value.strip(_WSP)
    if len(value) > 1024:
        return cookie
    if key == b"expires":
        expires = parse_cookie_date(value)
        if expires is None:
            return cookie
        return replace(cookie, expires=min(expires, now + MAX_AGE_LIMIT))
    if key == b"max-age":
        if not re.fullmatch(rb"-?\d+", value):
            return cookie
        return replace(cookie, max_age=min(int(value), MAX_AGE_LIMIT))
    if key == b"domain":
        if not value:
            return cookie
        domain = value[1:] if value.startswith(b".") else value
        return replace(cookie, domain=domain.decode("latin-1").lower())
    if key == b"path":
        path = value.decode("latin-1") if value.startswith(b"/") else None
        return replace(cookie, path=path)
    if key == b"secure":
        return replace(cookie, secure=True)
    if key == b"httponly":
        return replace(cookie, http_only=True)
    return cookie


def parse_cookie_date(value: bytes) -> float | None:
    """RFC 6265 §5.1.1: the cookie-date algorithm, as a POSIX time, or None."""
    time = day = month = year = None
    for token in _DATE_DELIMITER.split(value):
        if not token:
            continue
        if time is None and (match := _TIME.match(token)):
            time = tuple(int(part) for part in match.groups())
        elif day is None and (match := _DAY.match(token)):
            day = int(match.group(1))
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS.index(token[:3].lower()) + 1
        elif year is None and (match := _YEAR.match(token)):
            year = int(match.group(1))
    if time is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    hour, minute, second = time
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    return float(calendar.timegm(moment.timetuple()))


def default_path(uri_path: str) -> str:
    """§5.1.4: the directory of the request path."""
    if not uri_path.startswith("/") or uri_path.count("/") == 1:
        return "/"
    return uri_path[: uri_path.rindex("/")]


def path_matches(request_path: str, cookie_path: str) -> bool:
    """§5.1.4: whether a cookie at ``cookie_path`` goes with a request for ``request_path``."""
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    )


def domain_matches(host: str, domain: str) -> bool:
    """§5.1.3: whether ``host`` is ``domain`` or a subdomain of it."""
    if host == domain:
        return True
    return host.endswith("." + domain) and not re.fullmatch(r"[\d.]+|\[.*\]", host)


def _request(url: str) -> tuple[str, str, bool]:
    """The canonical host, the path and whether the scheme is secure."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.path or "/", parts.scheme == "https"


class CookieJar:
    """A browser's cookies, at a fixed time."""

    def __init__(self, now: float = SUITE_CLOCK) -> None:
        self.now = now
        self._cookies: dict[tuple[bytes, str, bool, str], Cookie] = {}
        self._creation = count()

    @property
    def cookies(self) -> list[Cookie]:
        """Every cookie stored and not expired."""
        return [c for c in self._cookies.values() if c.expiry > self.now]

    def set_cookie(self, string: bytes, url: str, *, http: bool = True) -> Cookie | None:
        """§5.7: store what a response to ``url`` sets (``http=False``: ``document.cookie``).

        The cookie stored, or None when it is ignored; an expired one deletes its
        namesake and is not stored.
        """
        parsed = parse_set_cookie(string, self.now)
        if parsed is None:
            return None
        host, path, secure_scheme = _request(url)
        if parsed.max_age is not None:
            expiry = -math.inf if parsed.max_age <= 0 else self.now + parsed.max_age
        elif parsed.expires is not None:
            expiry = parsed.expires
        else:
            expiry = math.inf
        domain = parsed.domain or ""
        # The public suffix list, reduced to its top-level domains.
        if domain and "." not in domain:
            if domain != host:
                return None
            domain = ""
        if domain:
            if not domain_matches(host, domain):
                return None
            host_only = False
        else:
            host_only, domain = True, host
        cookie = Cookie(
            name=parsed.name,
            value=parsed.value,
            domain=domain,
            path=parsed.path if parsed.path is not None else default_path(path),
            host_only=host_only,
            secure=parsed.secure,
            http_only=parsed.http_only,
            expiry=expiry,
            creation=next(self._creation),
        )
        if (cookie.secure and not secure_scheme) or (cookie.http_only and not http):
            return None
        if not cookie.secure and not secure_scheme and self._shadows_secure(cookie):
            return None
        lowered = cookie.name.lower()
        if lowered.startswith(_PREFIXES) and not cookie.secure:
            return None
        if lowered.startswith(b"__host-") and (not cookie.host_only or cookie.path != "/"):
            return None
        old = self._cookies.pop(cookie.key, None)
        if old is not None:
            if old.http_only and not http:
                self._cookies[old.key] = old
                return None
            cookie = replace(cookie, creation=old.creation)
        if cookie.expiry <= self.now:
            return None
        self._cookies[cookie.key] = cookie
        return cookie

    def _shadows_secure(self, cookie: Cookie) -> bool:
        """§5.7 step 16: a cookie from an insecure origin may not overlay a secure one."""
        return any(
            old.secure
            and old.name == cookie.name
            and (
                domain_matches(old.domain, cookie.domain)
                or domain_matches(cookie.domain, old.domain)
            )
            and path_matches(cookie.path, old.path)
            for old in self.cookies
        )

    def cookie_header(self, url: str, *, http: bool = True) -> bytes:
        """§5.8.3: the ``Cookie`` header a request to ``url`` carries (``http=False``:
        what ``document.cookie`` reads)."""
        host, path, secure_scheme = _request(url)
        sent = [
            c
            for c in self.cookies
            if (host == c.domain if c.host_only else domain_matches(host, c.domain))
            and path_matches(path, c.path)
            and (secure_scheme or not c.secure)
            and (http or not c.http_only)
        ]
        sent.sort(key=lambda c: (-len(c.path), c.creation))
        return b"; ".join(c.pair() for c in sent)
