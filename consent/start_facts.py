"""What a response start says: whether its body is a page for a banner, whether it sets a cookie.

``read_start`` runs once per response and returns one of four ``StartFacts`` made at
import: a response start picks one and allocates none.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from starlette.types import Message, Scope

Headers = list[tuple[bytes, bytes]]

# Statuses whose body is a page a visitor reads (not a redirect, an empty or a partial body).
_PAGE_STATUSES = frozenset({200, 201, 202, 203}) | frozenset(range(400, 600))
_UNSAFE_CHARSETS = (b"utf-16", b"utf-32", b"utf16", b"utf32")
_START_HEADERS = frozenset({b"content-type", b"set-cookie", b"content-encoding"})
"""The response headers that decide what happens to a response."""


class StartFacts(NamedTuple):
    """What a response start says about what the middleware must do."""

    page: bool
    """An HTML page of the kind a banner goes in: readable HTML, a page status, not HEAD."""
    sets_cookies: bool


# Every ``StartFacts`` there can be, made once: a response start picks one, allocates none.
_NEITHER = StartFacts(page=False, sets_cookies=False)
_SETS_COOKIES = StartFacts(page=False, sets_cookies=True)
_PAGE = StartFacts(page=True, sets_cookies=False)
_PAGE_SETTING_COOKIES = StartFacts(page=True, sets_cookies=True)


def read_start(message: Message, headers: Headers, scope: Scope) -> StartFacts:
    """Whether the response is a page for a banner, and whether it sets a cookie."""
    content_type = b""
    encoding = b""
    sets_cookies = False
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
            sets_cookies = True
        else:
            encoding = value
    # Most responses are not text: they are told apart without a cache look-up.
    if (
        content_type
        and content_type[0] in b"tT"
        and is_rewritable_html(content_type)
        # Another encoding (gzip...) makes the body not ours to read.
        and (not encoding or encoding.strip().lower() in (b"", b"identity"))
        and message["status"] in _PAGE_STATUSES
        and scope["method"] != "HEAD"
    ):
        return _PAGE_SETTING_COOKIES if sets_cookies else _PAGE
    return _SETS_COOKIES if sets_cookies else _NEITHER


@functools.lru_cache(maxsize=64)
def is_rewritable_html(content_type: bytes) -> bool:
    """Whether a ``Content-Type`` is HTML in an ASCII-compatible encoding."""
    media_type, _, params = content_type.partition(b";")
    return media_type.strip().lower() == b"text/html" and not any(
        charset in params.lower() for charset in _UNSAFE_CHARSETS
    )
