"""Where a document's body starts, as a browser's HTML parser decides it, across chunks.

The banner goes first in the body, so that it comes first in the focus order.
The body starts right after ``<body ...>``; without that tag, where the first
content that cannot stay in ``<head>`` begins: text other than whitespace, or
a tag other than ``html``, ``head``, ``base``, ``link``, ``meta``, ``script``,
``style``, ``title``, ``noscript``, ``template`` and their kin (WHATWG HTML,
"in head" insertion mode). Comments, the doctype and end tags are passed over,
and the text of ``script``, ``style``, ``title``, ``noscript`` and ``template``
is skipped to its end tag.

``BodyStart`` reads the document a chunk at a time: only an unfinished tag or
end tag at the end of a chunk is held back (at most ``TOKEN_LIMIT`` bytes).
"""

from __future__ import annotations

import re

TOKEN_LIMIT = 16 * 1024
"""The most held of a tag that has not ended: beyond it, the body starts at that tag.

(A page whose head holds a tag longer than this, cut by a chunk's end, gets the
banner before that tag: still inside the body, as browsers then read it.)"""

# The elements that stay in the head; the text of the raw-text ones is not markup.
_PLAIN_HEAD_TAGS = (b"meta", b"link", b"base", b"html", b"head", b"basefont", b"bgsound")
_RAW_TEXT_HEAD_TAGS = (b"script", b"style", b"title", b"noscript", b"template", b"noframes")
_HEAD_TAGS = frozenset(_PLAIN_HEAD_TAGS + _RAW_TEXT_HEAD_TAGS)
_RAW_TEXT_TAGS = frozenset(_RAW_TEXT_HEAD_TAGS)
_WHITESPACE = b" \t\n\r\f"
_BOM = b"\xef\xbb\xbf"

# A whole start tag, as the tokenizer reads it: attribute values in quotes may hold ">".
# It fails on a tag that has not ended yet (and on names that start with "=" or a quote).
_START_TAG = re.compile(
    rb"""<[a-zA-Z][^\s/>]*+(?:[\s/]++|[^\s/>="'][^\s/>=]*+"""
    rb"""(?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|(?:[^\s>"'][^\s>]*+)?+(?=[\s>])))?+)*+>"""
)
_TAG_NAME = re.compile(rb"<([a-zA-Z][^\s/>]*+)")
# The attributes of the usual tag, read exactly in one pass: names without quotes or
# "=", each value quoted or plain, "=" with no space around it. A tag written any
# other way is left to _START_TAG.
_USUAL_ATTRIBUTES = (
    rb"""(?:[ \t\n\r\f/]++[^\s/<>"'=]++(?:=(?:"[^"]*+"|'[^']*+'|[^\s<>"'=`]++))?+)*+"""
    rb"[ \t\n\r\f/]*+>"
)
_WHITESPACE_RUN = rb"[ \t\n\r\f]++"
_NAME_ENDS = rb"(?=[ \t\n\r\f/>])"
# What ``BodyStart`` reads one piece at a time, read in one pass where it is whole:
# whitespace, comments, the doctype, end tags, usual head tags and raw-text elements
# with their text. Anything else, or unfinished, is left to the pieces.
_HEAD_RUN = re.compile(
    rb"(?:" + _WHITESPACE_RUN + rb"|<(?:"
    rb"(?i:" + b"|".join(_PLAIN_HEAD_TAGS) + rb")" + _NAME_ENDS + _USUAL_ATTRIBUTES
    + b"".join(
        rb"|(?i:" + name + rb")" + _NAME_ENDS + _USUAL_ATTRIBUTES
        + rb"[^<]*+(?:<(?!/(?i:" + name + rb")[ \t\n\r\f/>])[^<]*+)*+"
        + rb"</(?i:" + name + rb")" + _NAME_ENDS + rb"[^>]*+>"
        for name in _RAW_TEXT_HEAD_TAGS
    )
    + rb"|/[^>]*+>|!--(?:>|->|[\s\S]*?--!?>)|!(?!--)[^>]*+>|\?[^>]*+>"
    rb"))*+"
    # and the usual <body> tag, if that is what comes next
    rb"(<(?i:body)" + _NAME_ENDS + _USUAL_ATTRIBUTES + rb")?+"
)  # fmt: skip
_COMMENT_END = re.compile(rb"--!?>")
_UNFINISHED = -1
"""The markup goes on in the next chunk."""
_BODY = -2
"""The markup starts the body: a tag that cannot stay in the head, or text."""


class BodyStart:
    """Finds the index at which the body starts, a chunk at a time.

    ``scan(data)`` returns ``(found, safe)``: ``found`` is the index in ``data``
    where the body starts, or -1; while it is -1, ``data[:safe]`` is known to be
    before the body and may be sent, and ``data[safe:]`` must be given again,
    with the next chunk after it.
    """

    __slots__ = ("_in_comment", "_raw_end", "_started")

    def __init__(self) -> None:
        self._raw_end: bytes | None = None
        """Inside the text of a raw-text element: its end tag, lower case (``b"</script"``)."""
        self._in_comment = False
        self._started = False
        """Whether any byte was scanned (a byte-order mark is only skipped at the start)."""

    def scan(self, data: bytes) -> tuple[int, int]:
        """Where the body starts in ``data`` (or -1), and how much of ``data`` is before it."""
        position = 0
        if not self._started:
            if len(data) < len(_BOM) and _BOM.startswith(data):
                return -1, 0
            self._started = True
            if data.startswith(_BOM):
                position = len(_BOM)
        while True:
            if self._in_comment:
                end = _COMMENT_END.search(data, position)
                if end is None:
                    return -1, max(position, len(data) - 3)  # "--!" may end in the next chunk
                self._in_comment = False
                position = end.end()
            if self._raw_end is not None:
                position = self._skip_raw_text(data, position)
                if self._raw_end is not None:
                    return -1, position
            run = _HEAD_RUN.match(data, position)
            assert run is not None  # it matches the empty string
            position = run.end()
            if run.start(1) >= 0:
                return position, position  # right after <body ...>
            less_than = data.find(b"<", position)
            text_end = len(data) if less_than < 0 else less_than
            stripped = data[position:text_end].lstrip(_WHITESPACE)
            if stripped:
                return text_end - len(stripped), text_end
            if less_than < 0:
                return -1, len(data)
            after = self._after_markup(data, less_than)
            if after == _BODY:
                return less_than, less_than
            if after == _UNFINISHED:
                # Held, unless it is too long to be a tag of the head.
                if len(data) - less_than > TOKEN_LIMIT:
                    return less_than, less_than
                return -1, less_than
            if data[less_than + 1 : less_than + 5].lower() == b"body":
                return after, after  # right after <body ...>
            position = after

    def _after_markup(self, data: bytes, start: int) -> int:
        """The index past the markup at ``data[start]`` (a ``<``), ``_BODY`` or ``_UNFINISHED``."""
        if len(data) - start < 2:
            return _UNFINISHED
        second = data[start + 1]
        if second == 0x21:  # "<!": a comment, the doctype, or a bogus comment
            if data.startswith(b"<!--", start):
                # "<!-->" and "<!--->" are (empty) comments too.
                for closing in (b"<!-->", b"<!--->"):
                    if data.startswith(closing, start):
                        return start + len(closing)
                if len(data) - start < 6:
                    return _UNFINISHED
                self._in_comment = True
                return start + 4
            if len(data) - start < 4 and b"<!--".startswith(data[start:]):
                return _UNFINISHED
            return _markup_end(data, start)
        if second == 0x2F or second == 0x3F:  # "</" (an end tag) or "<?" (a bogus comment)
            return _markup_end(data, start)
        if not (0x41 <= second <= 0x5A or 0x61 <= second <= 0x7A):
            return _BODY  # "<" before anything but a letter is text
        name_match = _TAG_NAME.match(data, start)
        if name_match is None or name_match.end() == len(data):
            return _UNFINISHED  # the name may go on in the next chunk
        name = name_match.group(1).lower()
        if name not in _HEAD_TAGS and name != b"body":
            return _BODY
        tag = _START_TAG.match(data, start)
        if tag is None:
            return _UNFINISHED
        if name in _RAW_TEXT_TAGS:
            self._raw_end = b"</" + name
        return tag.end()

    def _skip_raw_text(self, data: bytes, position: int) -> int:
        """Past the end tag of the raw-text element being read, or where to resume."""
        raw_end = self._raw_end
        assert raw_end is not None
        while True:
            candidate = data.find(b"</", position)
            if candidate < 0:
                # Keep a "<" that the next chunk may complete.
                return max(position, len(data) - 1)
            end = candidate + len(raw_end)
            if end >= len(data):
                return candidate
            if data[candidate:end].lower() == raw_end and data[end] in b" \t\n\r\f/>":
                close = data.find(b">", end)
                if close < 0:
                    return candidate
                self._raw_end = None
                return close + 1
            position = candidate + 2


_HEAD_TAG_PREFIX = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:" + _WHITESPACE_RUN + rb"|<!--(?:>|->|[\s\S]*?--!?>)|<!(?!--)[^>]*+>"
    rb"|<(?i:html)" + _NAME_ENDS + _USUAL_ATTRIBUTES + rb")*+"
    rb"<(?i:head)" + _NAME_ENDS + _USUAL_ATTRIBUTES
)


def opens_with_head(data: bytes, end: int) -> bool:
    """Whether ``data[:end]`` is the usual start of a document, ending with ``<head ...>``
    (whitespace, comments, the doctype, ``<html>``): a snippet put at ``end`` is then
    outside any markup, and cannot change where the body starts."""
    return _HEAD_TAG_PREFIX.fullmatch(data, 0, end) is not None


def _markup_end(data: bytes, start: int) -> int:
    """Past the ``>`` of the doctype, an end tag or a bogus comment at ``start``."""
    end = data.find(b">", start + 2)
    return _UNFINISHED if end < 0 else end + 1
