"""Reference definitions of the streaming page rewriters, for the tests to compare against.

Each takes a whole body at once and says, in the plainest way, what the streaming
class in ``consent.inject`` must produce however the body is split into chunks;
``stream_through`` feeds a body to one of those classes in chunks.
"""

from __future__ import annotations

from typing import Protocol

from consent.inject import (
    _HEAD_OPEN,
    HEAD_SEARCH_LIMIT,
    HOLD_LIMIT,
    TAG_LIMIT,
    _activate,
    last_marker,
)


class Streaming(Protocol):
    def feed(self, chunk: bytes) -> bytes: ...
    def finish(self) -> bytes: ...


def stream_through(transformer: Streaming, body: bytes, cuts: list[int]) -> bytes:
    """Feed ``body`` cut at ``cuts`` through ``transformer``; return every byte sent."""
    out = b""
    start = 0
    for cut in sorted(set(cuts)):
        out += transformer.feed(body[start:cut])
        start = cut
    return out + transformer.feed(body[start:]) + transformer.finish()


def inject_reference(body: bytes, snippet: bytes, hold_limit: int = HOLD_LIMIT) -> bytes:
    """What ``BodyInjector`` produces for ``body``: the snippet before the last ``</body>``.

    A ``</body>`` followed by more than ``hold_limit`` bytes is given up, and the
    snippet goes at the very end.
    """
    index = last_marker(body)
    if index < 0 or len(body) - index > hold_limit:
        return body + snippet
    return body[:index] + snippet + body[index:]


def insert_after_head_reference(
    body: bytes, snippet: bytes, search_limit: int = HEAD_SEARCH_LIMIT
) -> tuple[bytes, bool]:
    """What ``HeadInserter`` produces for ``body``, and whether it found ``<head>``."""
    match = _HEAD_OPEN.search(body, 0, search_limit)
    if match is None:
        return body, False
    return body[: match.end()] + snippet + body[match.end() :], True


def activate_reference(body: bytes, granted: frozenset[bytes], tag_limit: int = TAG_LIMIT) -> bytes:
    """What ``TagActivator`` produces for ``body``: the one-piece activation of its tags."""
    return _activate(body, granted, tag_limit)
