"""Streaming HTML changes: snippets where the page's head and body start, and before
the document's last ``</body>``; gated tags of granted categories made live.

The body is never buffered whole. ``HeadInserter`` holds at most the first 8 KiB
while it looks for ``<head>``; ``BodyStartInserter`` holds only an unfinished
tag. ``BodyInjector`` sends the bytes before a ``</body>`` candidate as they
come and holds from the candidate on, because a later ``</body>`` (the first
one may sit in a script string) would move the insertion point; if more than
``hold_limit`` bytes follow a candidate without another one, the candidate is
given up and the snippet goes at the very end, which browsers still place
inside the body (so only the last ``hold_limit`` bytes of each chunk need
searching). The output is the same for every way the body may be split into
chunks.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Generator
from typing import NamedTuple

import stringzilla
from starlette.types import Message, Send

from .body_start import BodyStart, opens_with_head

# StringZilla's SIMD search runs 2-6 times as fast as ``bytes.rfind`` over a page
# (docs/benchmarks.md); typed here, as the library ships no annotations.
_rfind: Callable[[bytes, bytes, int, int], int] = stringzilla.rfind

_UPPER_MARKERS = (b"</BODY", b"</Body")
_MARKER_LENGTH = len(b"</body")
HOLD_LIMIT = 16 * 1024


def last_marker(data: bytes, start: int = 0) -> int:
    """Index of the last ``</body`` (in the usual spellings) in ``data[start:]``, or -1."""
    end = len(data)
    index = _rfind(data, b"</body", start, end)
    # The other spellings only need searching after the last lower-case one.
    after = max(index + 1, start)
    upper = _rfind(data, b"</B", after, end)
    while upper >= after:
        if data.startswith(_UPPER_MARKERS, upper):
            return upper
        upper = _rfind(data, b"</B", after, upper)
    return index


class BodyInjector:
    """Feeds body chunks through, inserting ``snippet`` before the last ``</body>``."""

    __slots__ = ("_candidate", "_held", "_hold_limit", "snippet")

    def __init__(self, snippet: bytes, hold_limit: int = HOLD_LIMIT) -> None:
        self.snippet = snippet
        self._hold_limit = hold_limit
        self._held = b""
        # Whether _held starts with a </body> candidate (else it is at most a
        # few bytes that may be the start of one split across chunks).
        self._candidate = False

    def feed(self, chunk: bytes) -> bytes:
        """The bytes that can be sent now, given the next chunk of the body."""
        data = self._held + chunk if self._held else chunk
        # Only the last hold_limit bytes can hold a candidate worth holding.
        index = last_marker(data, max(0, len(data) - self._hold_limit))
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

    def prepend_to_snippet(self, extra: bytes) -> None:
        """Insert ``extra`` too, just before the snippet."""
        self.snippet = extra + self.snippet

    def finish(self) -> bytes:
        """The rest of the body, with the snippet in place."""
        held, self._held = self._held, b""
        if self._candidate:
            return self.snippet + held
        return held + self.snippet


HEAD_SEARCH_LIMIT = 8 * 1024
_HEAD_OPEN = re.compile(rb"<head(?:\s[^<>]*)?>", re.IGNORECASE)


class HeadInserter:
    """Puts a snippet right after ``<head ...>``, before any tag of the page can run.

    The start of the document is held until the tag is found, for at most
    ``search_limit`` bytes; a document without one is left as it is.
    """

    __slots__ = ("_held", "_search_limit", "_snippet", "done", "inserted")

    def __init__(self, snippet: bytes, search_limit: int = HEAD_SEARCH_LIMIT) -> None:
        self._snippet = snippet
        self._search_limit = search_limit
        self._held = b""
        self.done = False
        """Whether the tag was found or given up (``inserted`` tells which)."""
        self.inserted = False

    def feed(self, chunk: bytes) -> bytes:
        """The bytes that can be sent now."""
        if self.done:
            return chunk
        data = self._held + chunk
        match = _HEAD_OPEN.search(data, 0, self._search_limit)
        if match is not None:
            self.done = self.inserted = True
            self._held = b""
            return data[: match.end()] + self._snippet + data[match.end() :]
        if len(data) >= self._search_limit:
            self.done = True
            self._held = b""
            return data
        self._held = data
        return b""

    def finish(self) -> bytes:
        """What is still held: a short document without ``<head>``."""
        held, self._held = self._held, b""
        self.done = True
        return held


class BodyStartInserter:
    """Puts a snippet where the body starts (``body_start.BodyStart``), as the page streams.

    Only an unfinished tag at the end of a chunk is held; a document that ends
    before its body starts gets the snippet at the end.
    """

    __slots__ = ("_finder", "_held", "snippet")

    def __init__(self, snippet: bytes) -> None:
        self.snippet = snippet
        self._finder: BodyStart | None = BodyStart()
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        """The bytes that can be sent now."""
        finder = self._finder
        if finder is None:
            return chunk
        data = self._held + chunk if self._held else chunk
        found, safe = finder.scan(data)
        if found >= 0:
            self._finder = None
            self._held = b""
            return data[:found] + self.snippet + data[found:]
        self._held = data[safe:]
        return data[:safe]

    def finish(self) -> bytes:
        """The rest: what was held, and the snippet if the body never started."""
        held, self._held = self._held, b""
        if self._finder is None:
            return held
        self._finder = None
        return held + self.snippet


TAG_LIMIT = 16 * 1024
_GATED_MARKER = b"data-consent-category"
_GATED_TAG = re.compile(rb"<(script|iframe|img)(\s[^<>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([^\s"'<>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")


def _attributes(attributes: bytes) -> list[tuple[bytes, bytes | None, re.Match[bytes]]]:
    return [
        (match.group(1).lower(), match.group(2), match) for match in _ATTRIBUTE.finditer(attributes)
    ]


def _unquote(value: bytes | None) -> bytes:
    if value is None:
        return b""
    return value[1:-1] if value[:1] in (b'"', b"'") else value


_ACTIVATED: dict[tuple[bytes, frozenset[bytes]], bytes] = {}
_ACTIVATED_SIZE = 1024


def _activate_text(text: bytes, granted: frozenset[bytes]) -> bytes:
    """``text`` (from ``<`` to ``>``) made live, itself if unchanged, b"" if not a gated tag."""
    # A site has few distinct gated tags; each is parsed once per set of grants.
    key = (text, granted)
    live = _ACTIVATED.get(key)
    if live is None:
        tag = _GATED_TAG.fullmatch(text)
        live = b"" if tag is None else activate_tag(tag, granted)
        if len(_ACTIVATED) < _ACTIVATED_SIZE:
            _ACTIVATED[key] = live
    return live


def activate_tag(tag: re.Match[bytes], granted: frozenset[bytes]) -> bytes:
    """A gated tag made live if its service (``data-consent-service``), else its category,
    is in ``granted``; else the tag unchanged.

    ``<script type="text/plain" data-consent-category="k">`` loses its ``type``
    (or takes ``data-type``, e.g. ``module``); ``<iframe>``/``<img>`` with
    ``data-src`` (and ``data-srcset``) gain ``src`` (and ``srcset``).
    """
    original = tag.group(0)
    attributes = _attributes(tag.group(2))
    values = {name: value for name, value, _ in attributes}
    # A tag may name the service it loads: then that service's choice decides.
    key = _unquote(values.get(b"data-consent-service")) or _unquote(
        values.get(b"data-consent-category")
    )
    if not key or key not in granted:
        return original
    name = tag.group(1).lower()
    offset = tag.start(2)
    text = tag.group(2)
    if name == b"script":
        if _unquote(values.get(b"type")).strip().lower() != b"text/plain":
            return original
        for attribute, _, match in attributes:
            if attribute == b"type":
                live_type = _unquote(values.get(b"data-type"))
                replacement = b'type="' + live_type + b'"' if live_type else b""
                text = text[: match.start()] + replacement + text[match.end() :]
                break
    else:
        if b"data-src" not in values or b"src" in values:
            return original
        additions = b' src="' + _unquote(values[b"data-src"]) + b'"'
        if b"data-srcset" in values and b"srcset" not in values:
            additions += b' srcset="' + _unquote(values[b"data-srcset"]) + b'"'
        data_src = next(match for attribute, _, match in attributes if attribute == b"data-src")
        text = text[: data_src.end()] + additions + text[data_src.end() :]
    return original[: offset - tag.start()] + text + original[tag.end(2) - tag.start() :]


def _activate(data: bytes, granted: frozenset[bytes], tag_limit: int) -> bytes:
    edits = _activations(data, granted, tag_limit)
    return _apply(data, edits) if edits else data


def _activations(
    data: bytes, granted: frozenset[bytes], tag_limit: int
) -> list[tuple[int, int, bytes]]:
    """``(start, end, live tag)`` for each gated tag of ``data`` made live, in order."""
    edits: list[tuple[int, int, bytes]] = []
    start = 0
    for index in _marker_positions(data):
        if index < start:
            continue  # in the tag just made live
        # Only the tag around each marker is parsed: pages are mostly other markup.
        tag_start = data.rfind(b"<", start, index)
        tag_end = data.find(b">", index)
        if tag_start >= 0 and tag_end >= 0 and tag_end + 1 - tag_start <= tag_limit:
            text = data[tag_start : tag_end + 1]
            live = _activate_text(text, granted)
            if live:
                start = tag_end + 1
                if live != text:
                    edits.append((tag_start, start, live))
    return edits


def _marker_positions(data: bytes) -> list[int]:
    """Where the gated-tag marker starts in ``data``, first to last."""
    # Searched from the end: on markup, CPython's reverse search (a skip of the
    # marker's length whenever the byte before it is not one of the marker's)
    # runs about twice as fast as its forward search of a long text, and stays
    # linear on any page: the marker's first byte occurs once in it, so a failed
    # candidate skips ahead. The marker cannot overlap itself, so the occurrences
    # are the same either way.
    positions: list[int] = []
    index = _rfind(data, _GATED_MARKER, 0, len(data))
    while index >= 0:
        positions.append(index)
        index = _rfind(data, _GATED_MARKER, 0, index)
    positions.reverse()
    return positions


def _apply(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """``data`` with each ``(start, end, replacement)`` made, in one copy."""
    view = memoryview(data)
    pieces: list[bytes | memoryview] = []
    done = 0
    for start, end, replacement in edits:
        pieces += (view[done:start], replacement)
        done = end
    pieces.append(view[done:])
    return b"".join(pieces)


def rewrite_page(
    body: bytes,
    head_snippet: bytes,
    front_snippet: bytes,
    end_snippet: bytes,
    granted: frozenset[bytes] = frozenset(),
) -> bytes:
    """What ``PageRewriter`` makes of a page whose body came in one piece.

    The same bytes, found in one pass and copied once: the head snippet after
    ``<head>``, gated tags of the ``granted`` categories (keys as bytes) made
    live, the front snippet where the body starts and the end snippet before
    the last ``</body>``.
    """
    edits = _activations(body, granted, TAG_LIMIT) if granted else []
    front, end = front_snippet, end_snippet
    if head_snippet:
        match = _HEAD_OPEN.search(body, 0, HEAD_SEARCH_LIMIT)
        if match is None:
            if front:
                front = head_snippet + front
            else:
                end = head_snippet + end
        else:
            edits.append((match.end(), match.end(), head_snippet))
            if front and not opens_with_head(body, match.end()):
                # <head> inside a script or a comment: read as the stream reads it.
                rewriter = PageRewriter(head_snippet, front_snippet, end_snippet, granted=granted)
                return rewriter.feed(body) + rewriter.finish()
    if front:
        found, _ = BodyStart().scan(body)
        start = found if found >= 0 else len(body)
        edits.append((start, start, front))
    if end:
        index = last_marker(body, max(0, len(body) - HOLD_LIMIT))
        if index < 0:
            index = len(body)
        edits.append((index, index, end))
    edits.sort()
    for before, after in itertools.pairwise(edits):
        if after[0] < before[1] or (after[0] == before[0] and after[1] == before[1]):
            # An odd page (its last </body> in a gated tag, or before <head>, or its
            # body starting in a tag made live): made as the stream would make it.
            rewriter = PageRewriter(head_snippet, front_snippet, end_snippet, granted=granted)
            return rewriter.feed(body) + rewriter.finish()
    return _apply(body, edits)


class TagActivator:
    """Makes gated tags of granted categories live, in the stream, from the first byte.

    A tag is the text from ``<`` to the next ``>``; an unfinished one at the end
    of a chunk is held until its ``>`` arrives (at most ``tag_limit`` bytes), so
    the result does not depend on how the body is split.
    """

    __slots__ = ("_granted", "_held", "_tag_limit")

    def __init__(self, granted: frozenset[bytes], tag_limit: int = TAG_LIMIT) -> None:
        self._granted = granted
        self._tag_limit = tag_limit
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        """The bytes that can be sent now."""
        data = self._held + chunk if self._held else chunk
        cut = data.rfind(b"<")
        if cut >= 0 and data.find(b">", cut) < 0 and len(data) - cut <= self._tag_limit:
            self._held = data[cut:]
            data = data[:cut]
        else:
            self._held = b""
        return _activate(data, self._granted, self._tag_limit)

    def finish(self) -> bytes:
        """The rest of the body."""
        held, self._held = self._held, b""
        return _activate(held, self._granted, self._tag_limit)


class PageRewriter:
    """Every change the middleware makes to an HTML page, applied as it streams.

    In order: the head snippet after ``<head>`` (Consent Mode, which must come
    before any other tag), granted tags made live, the front snippet where the
    body starts (the banner, first in the focus order) and the end snippet
    before the last ``</body>`` (the "Cookie settings" control, the
    stylesheet). A page without ``<head>`` gets the head snippet with the front
    snippet (or the end one), so the size change is known in advance unless
    tags are rewritten.
    """

    __slots__ = ("_activator", "_end", "_front", "_head", "_head_snippet", "size_change")

    def __init__(
        self,
        head_snippet: bytes,
        front_snippet: bytes,
        end_snippet: bytes,
        granted: frozenset[bytes] = frozenset(),
    ) -> None:
        self._head_snippet = head_snippet
        self._head = HeadInserter(head_snippet) if head_snippet else None
        self._activator = TagActivator(granted) if granted else None
        self._front = BodyStartInserter(front_snippet) if front_snippet else None
        self._end = BodyInjector(end_snippet) if end_snippet or not front_snippet else None
        change = len(head_snippet) + len(front_snippet) + len(end_snippet)
        self.size_change: int | None = None if granted else change
        """Bytes the page grows by, or None when it cannot be known before the end."""

    def feed(self, chunk: bytes) -> bytes:
        """The bytes that can be sent now."""
        head = self._head
        if head is not None:
            chunk = head.feed(chunk)
            if head.done:
                self._head = None
                if not head.inserted:
                    self._place_head_snippet()
        if self._activator is not None:
            chunk = self._activator.feed(chunk)
        if self._front is not None:
            chunk = self._front.feed(chunk)
        if self._end is not None:
            chunk = self._end.feed(chunk)
        return chunk

    def finish(self) -> bytes:
        """The rest of the page."""
        rest = b""
        head = self._head
        if head is not None:
            rest = head.finish()
            if not head.inserted:
                self._place_head_snippet()
        if self._activator is not None:
            rest = self._activator.feed(rest) + self._activator.finish()
        if self._front is not None:
            rest = self._front.feed(rest) + self._front.finish()
        if self._end is not None:
            rest = self._end.feed(rest) + self._end.finish()
        return rest

    def _place_head_snippet(self) -> None:
        """A page without ``<head>``: the head snippet goes with the first other snippet."""
        if self._front is not None:
            self._front.snippet = self._head_snippet + self._front.snippet
        elif self._end is not None:
            self._end.prepend_to_snippet(self._head_snippet)


class Snippets(NamedTuple):
    """What goes in one page, by place."""

    head: bytes
    """Right after ``<head>``: Consent Mode's defaults."""
    front: bytes
    """Where the body starts: the banner, first in the focus order."""
    end: bytes
    """Before the last ``</body>``: the "Cookie settings" control or the stylesheet."""


class PageSender:
    """Sends an HTML page's response on, its start held until the body comes, rewritten.

    Made by ``ResponseEditor.page_sender`` for each page, with what goes in it.
    """

    __slots__ = (
        "_downstream",
        "_length",
        "_live",
        "_plain_start",
        "_rewriter",
        "_snippets",
        "_start",
    )

    def __init__(
        self,
        start: Message,
        plain_start: Message,
        snippets: Snippets,
        length: bytes | None,
        live: frozenset[bytes],
        send: Send,
    ) -> None:
        self._plain_start: Message | None = plain_start
        """The start if the body is not one to rewrite (``pathsend``); None once sent."""
        self._start = start
        """The page's start: no ``Content-Length`` (the body sets it), ``Vary: Cookie``."""
        self._snippets = snippets
        self._length = length
        """``Content-Length`` as the app sent it."""
        self._live = live
        """The granted categories whose gated tags go live (``necessary`` left out)."""
        self._downstream = send
        self._rewriter: PageRewriter | None = None

    async def send(self, message: Message) -> None:
        send = self._downstream
        plain_start = self._plain_start
        if plain_start is not None:
            self._plain_start = None
            if message["type"] != "http.response.body":
                # A body that is not ours to rewrite (pathsend, zero-copy): the
                # headers go as the app made them, only stripped of refused cookies.
                await send(plain_start)
                await send(message)
                return
            start = self._start
            headers = start["headers"]
            head, front, end = self._snippets
            if not message.get("more_body", False):
                # The whole page is here: rewrite it first, then its length is exact.
                body = rewrite_page(message.get("body", b""), head, front, end, self._live)
                headers.append((b"content-length", str(len(body)).encode("ascii")))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            self._rewriter = PageRewriter(head, front, end, self._live)
            change = self._rewriter.size_change
            length = self._length
            # Without a length known in advance the server sends the page chunked.
            if length is not None and change is not None and length.strip().isdigit():
                headers.append((b"content-length", str(int(length) + change).encode("ascii")))
            await send(start)
        rewriter = self._rewriter
        if rewriter is None or message["type"] != "http.response.body":
            await send(message)
            return
        out = rewriter.feed(message.get("body", b""))
        more_body = message.get("more_body", False)
        if not more_body:
            out += rewriter.finish()
            self._rewriter = None
        elif not out:
            return
        await send({"type": "http.response.body", "body": out, "more_body": more_body})


class _Sent:
    """An awaitable already complete: what ``send`` gives for a message it holds back."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()


SENT = _Sent()
