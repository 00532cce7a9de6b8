"""Pre-rendered markup with holes for the values of one request.

Templates are rendered once, at start-up, with placeholders where per-request
values go (the ``next`` URL, the CSP nonce, the granted categories); a request
only joins pre-encoded byte strings. Snippets are encoded as ASCII with
character references, so they are right in any ASCII-compatible page encoding.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import quote

from .settings import NECESSARY

# Placeholders, in the order of Snippet's holes.
HOLES = ("\x00next\x00", "\x00next-query\x00", "\x00nonce\x00", "\x00granted\x00")
NEXT, NEXT_QUERY, NONCE, GRANTED = range(len(HOLES))


@dataclass(frozen=True, slots=True, eq=False)
class Snippet:
    """Pre-rendered markup with holes for per-request values."""

    parts: tuple[bytes | int, ...]
    """Byte strings, and hole numbers (``NEXT``, ``NEXT_QUERY``, ``NONCE``, ``GRANTED``).

    ``NONCE`` stands for a whole `` nonce="..."`` attribute, or nothing.
    """

    def render(
        self, next_url: str, nonce: str = "", granted: frozenset[str] = frozenset()
    ) -> bytes:
        """The markup for one request (the middleware keeps what pages repeat)."""
        fills = (
            html.escape(next_url).encode("ascii", "xmlcharrefreplace"),
            quote(next_url, safe="/").encode("ascii"),
            # The whole attribute: no empty nonce="" without a nonce.
            b' nonce="' + html.escape(nonce).encode("ascii", "xmlcharrefreplace") + b'"'
            if nonce
            else b"",
            " ".join(sorted(granted - {NECESSARY})).encode("ascii"),
        )
        return b"".join(fills[part] if isinstance(part, int) else part for part in self.parts)


def snippet_of(markup: str) -> Snippet:
    """Cut rendered markup at the placeholders."""
    parts: list[bytes | int] = []
    rest = markup
    while True:
        found = [(rest.find(marker), hole) for hole, marker in enumerate(HOLES)]
        found = [(index, hole) for index, hole in found if index >= 0]
        if not found:
            parts.append(rest.encode("ascii", "xmlcharrefreplace"))
            return Snippet(tuple(part for part in parts if part != b""))
        index, hole = min(found)
        parts.append(rest[:index].encode("ascii", "xmlcharrefreplace"))
        parts.append(hole)
        rest = rest[index + len(HOLES[hole]) :]
