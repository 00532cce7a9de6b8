"""Streaming HTML injection: put a snippet before the document's last ``</body>``.

The body is never buffered whole. Bytes before a ``</body>`` candidate are
sent as they come; from the candidate on they are held, because a later
``</body>`` (the first one may sit in a script string) would move the
insertion point. If more than ``hold_limit`` bytes follow a candidate without
another one, the candidate is given up and the snippet goes at the very end,
which browsers still place inside the body. The output is the same for every
way the body may be split into chunks.
"""

from __future__ import annotations

_MARKERS = (b"</body", b"</BODY", b"</Body")
_MARKER_LENGTH = len(_MARKERS[0])
HOLD_LIMIT = 64 * 1024


def last_marker(data: bytes) -> int:
    """Index of the last ``</body`` (in the usual spellings) in ``data``, or -1."""
    index = data.rfind(_MARKERS[0])
    # The other spellings only need searching after the last lower-case one.
    for marker in _MARKERS[1:]:
        other = data.rfind(marker, index + 1)
        if other > index:
            index = other
    return index


def inject_reference(body: bytes, snippet: bytes, hold_limit: int = HOLD_LIMIT) -> bytes:
    """What ``BodyInjector`` produces for ``body`` sent in one piece."""
    index = last_marker(body)
    if index < 0 or len(body) - index > hold_limit:
        return body + snippet
    return body[:index] + snippet + body[index:]


class BodyInjector:
    """Feeds body chunks through, inserting ``snippet`` before the last ``</body>``."""

    __slots__ = ("_candidate", "_held", "_hold_limit", "_snippet")

    def __init__(self, snippet: bytes, hold_limit: int = HOLD_LIMIT) -> None:
        self._snippet = snippet
        self._hold_limit = hold_limit
        self._held = b""
        # Whether _held starts with a </body> candidate (else it is at most a
        # few bytes that may be the start of one split across chunks).
        self._candidate = False

    def feed(self, chunk: bytes) -> bytes:
        """The bytes that can be sent now, given the next chunk of the body."""
        data = self._held + chunk if self._held else chunk
        index = last_marker(data)
        if index >= 0:
            self._held = data[index:]
            self._candidate = True
            if len(self._held) <= self._hold_limit:
                return data[:index]
            self._candidate = False
        elif self._candidate:
            self._held = data
            if len(data) <= self._hold_limit:
                return b""
            self._candidate = False
        # No candidate: keep back only a tail that could begin a split "</body".
        tail_start = data.rfind(b"<", max(0, len(data) - _MARKER_LENGTH + 1))
        if tail_start < 0:
            self._held = b""
            return data
        self._held = data[tail_start:]
        return data[:tail_start]

    def finish(self) -> bytes:
        """The rest of the body, with the snippet in place."""
        held, self._held = self._held, b""
        if self._candidate:
            return self._snippet + held
        return held + self._snippet
