"""``Cookie`` and ``Set-Cookie`` headers read as browsers and server parsers read them.

A name is judged as the app and its scripts will read it, which is not always
what the ``Set-Cookie`` header seems to say. A browser parses ``Set-Cookie``
per RFC 6265bis §5.6: ``Set-Cookie: _ga`` and ``Set-Cookie: =_ga=1`` store a
cookie with an *empty* name, which it sends back as ``_ga`` and ``_ga=1``, and
which the app then reads as the cookie ``_ga``. Server parsers also disagree
with each other on odd bytes (which white space they strip, latin-1 or UTF-8,
SimpleCookie's splitting at white space): :class:`CookiePair` carries every
name any of them reads, and a pair is let through only when all are allowed.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# RFC 6265bis §5.6: a Set-Cookie with a control character other than HTAB is ignored,
# and so is one whose name and value together exceed 4096 octets.
CTL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
CTL_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
MAX_NAME_VALUE = 4096
MAX_ATTRIBUTE_VALUE = 1024
WSP = b" \t"
# Storage model step 22: a nameless cookie may not pass for a prefixed one.
SECURE_PREFIXES = (b"__secure-", b"__host-")
# Where http.cookies.SimpleCookie may start a cookie inside one pair: at its start or
# after ASCII white space, which it also takes as a separator.
_SIMPLE_COOKIE_NAME = re.compile(
    r"(?:^|(?<=[ \t\n\r\f\v]))([\w!#%&'~`><@,:/$*+\-.^|)(?}{]+)[ \t\n\r\f\v]*=", re.ASCII
)


_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PLAIN_PAIR = _TOKEN + rb"=[^;\x00-\x20\x7f]*"
_PLAIN_HEADER = re.compile(_PLAIN_PAIR + rb"(?:; ?" + _PLAIN_PAIR + rb")*")
"""A ``Cookie`` header whose names every common parser reads alike."""


class CookiePair(NamedTuple):
    """One cookie as a browser sends it in a ``Cookie`` header.

    ``name`` is the name the app reads: Starlette's ``request.cookies`` and
    Django (``str.strip()`` of the latin-1 text before the first ``=``), or,
    for a pair without ``=``, the pair itself (Werkzeug reads it as that name;
    Starlette and Django file it under ``""`` with that value; scripts see it
    bare). ``raw`` is the pair's bytes, kept as they came when the pair is
    allowed. ``nameless`` is true when the browser holds the cookie under an
    empty name: the pair has no ``=``, or nothing but white space before it
    (from :func:`set_cookie_pair`: whenever the ``Set-Cookie`` had no name).
    A browser deletes such a cookie only with a nameless ``Set-Cookie``.

    ``names`` holds every name a common parser reads from the pair, ``name``
    first: Starlette, Django (latin-1 under ASGI, UTF-8 under WSGI),
    Werkzeug's ``parse_cookie`` (which strips only space and tab, and decodes
    UTF-8 in ``werkzeug.http``) and ``http.cookies.SimpleCookie`` (which also
    splits at white space, so ``x=1 _ga=2`` holds ``_ga`` for it). Where they
    disagree no single name can speak for all, so the pair is judged by each:
    :meth:`CookiePolicy.allows_pair` lets it through only when every one is
    allowed. The empty name under which Starlette and Django file a pair
    without ``=`` is not among them: the cookie it files is the one ``name``
    names (and no pattern can declare the empty name).
    """

    name: str
    raw: bytes
    nameless: bool
    names: tuple[str, ...]


def set_cookie_pair(header_value: bytes) -> CookiePair | None:
    """The pair a browser sends back for the cookie this ``Set-Cookie`` value stores.

    ``None`` when a browser ignores the header altogether, whatever the
    request (RFC 6265bis §5.6 and storage model steps 2 and 22): a control
    character other than HTAB, a name and value over 4096 octets, an empty
    name and an empty value, or a nameless value that starts with
    ``__Secure-`` or ``__Host-`` (in any case). Any bytes: it never raises.
    """
    if CTL.search(header_value):
        return None
    pair = header_value.split(b";", 1)[0]
    name, sep, value = pair.partition(b"=")
    if not sep:
        name, value = b"", pair
    name = name.strip(WSP)
    value = value.strip(WSP)
    if len(name) + len(value) > MAX_NAME_VALUE:
        return None
    if name:
        return _cookie_pair(name + b"=" + value, nameless=False)
    if not value or value[:9].lower().startswith(SECURE_PREFIXES):
        return None
    # Serialised bare: ``_ga=1`` for ``=_ga=1``, read back as the cookie ``_ga``.
    return _cookie_pair(value, nameless=True)


def set_cookie_name(header_value: bytes) -> str | None:
    """The name under which the app and its scripts will read the cookie this header sets.

    A nameless cookie (``Set-Cookie: _ga`` or ``=_ga=1``: RFC 6265bis §5.6
    step 3) is read under the part of its value before the first ``=``, or
    its whole value when it has none: ``_ga`` in both cases. ``None`` when a
    browser ignores the header altogether (see :func:`set_cookie_pair`):
    the request path removes such a ``Set-Cookie``, which changes nothing for
    a browser and guarantees that nothing unjudged is stored.
    """
    pair = set_cookie_pair(header_value)
    return pair.name if pair is not None else None


def split_cookie_header(header_value: bytes) -> list[CookiePair]:
    """Each cookie of a request ``Cookie`` header (any bytes: it never raises).

    Empty pairs, and ``=`` alone, are left out: no browser sends them and no
    parser reads a cookie from them. See :class:`CookiePair` for the names of each.
    """
    pairs: list[CookiePair] = []
    if _PLAIN_HEADER.fullmatch(header_value):
        # Token names and values without white space or controls, as browsers send
        # almost every header: every parser reads the same names from these.
        new = tuple.__new__
        for chunk in header_value.split(b";"):
            plain = chunk.lstrip(b" ")
            key = plain.partition(b"=")[0].decode("ascii")
            pairs.append(new(CookiePair, (key, plain, False, (key,))))
        return pairs
    for chunk in header_value.split(b";"):
        raw = chunk.strip(WSP)
        name, value = browser_cookie(raw)
        if name or value:
            pairs.append(_cookie_pair(raw, nameless=not name))
    return pairs


def cookie_value(header_value: bytes, name: str) -> str | None:
    """The value of the first cookie called ``name`` in a ``Cookie`` header."""
    wanted = name.encode("latin-1")
    for raw in header_value.split(b";"):
        key, sep, value = raw.partition(b"=")
        if sep and key.strip(b" \t") == wanted:
            return value.strip(b" \t").strip(b'"').decode("latin-1")
    return None


def default_path(request_path: str) -> str:
    """Where a cookie set without ``Path`` by this request lives (RFC 6265 §5.1.4)."""
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[: request_path.rindex("/")]


def _cookie_pair(raw: bytes, *, nameless: bool) -> CookiePair:
    """The pair for ``raw``, with the names every parser reads from it."""
    latin = raw.decode("latin-1")
    key, sep, _ = latin.partition("=")
    name = (key if sep else latin).strip()
    names = {name}
    for text in (latin, raw.decode("utf-8", "replace")):
        key, sep, _ = text.partition("=")
        key = key if sep else text
        # str.strip() (Starlette, Django; scripts trim alike) or only space and tab
        # (Werkzeug, which keeps \x0b, \xa0 and the like as part of the name).
        names.add(key.strip())
        names.add(key.strip(" \t"))
    names.update(_SIMPLE_COOKIE_NAME.findall(latin))
    names.discard("")
    names.discard(name)
    return CookiePair(name, raw, nameless, (name, *sorted(names)))


def browser_cookie(pair: bytes) -> tuple[bytes, bytes]:
    """The name and value a browser holds for a name-value pair (RFC 6265bis §5.6)."""
    name, sep, value = pair.partition(b"=")
    if not sep:
        return b"", pair.strip(WSP)
    return name.strip(WSP), value.strip(WSP)


def header_bytes(text: str) -> bytes:
    """``text`` as header bytes, or nothing when a header cannot carry it."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return b""


def holdable(octets: bytes) -> bool:
    """Whether a browser can hold this name (or value) as a deleting header spells it."""
    return (
        bool(octets)
        and len(octets) <= MAX_NAME_VALUE
        and b";" not in octets
        and not CTL.search(octets)
        and octets == octets.strip(WSP)
    )


def usable_path(path: str) -> bool:
    """Whether a path can go into a ``Path`` attribute as it is (latin-1, as headers are)."""
    return (
        path.startswith("/")
        and len(path) <= MAX_ATTRIBUTE_VALUE
        and ";" not in path
        and not CTL_TEXT.search(path)
        and max(path) <= "\xff"
    )
