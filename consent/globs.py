"""Cookie name globs: what ``*``, ``?`` and ``[...]`` match, on the server and in the browser.

The server reads a glob as ``fnmatch.fnmatchcase`` does (``glob_regex``);
``consent.js`` gets the same reading as a JavaScript regular expression
source, made once here (``js_regex_source``), so that both sides agree on
every name.
"""

from __future__ import annotations

import functools
import itertools
import re
from fnmatch import translate


def is_glob(pattern: str) -> bool:
    """Whether ``pattern`` has a wildcard (else it names one cookie exactly)."""
    return any(char in pattern for char in "*?[")


@functools.lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """The compiled Python regular expression of a glob, as ``fnmatch.fnmatchcase`` reads it."""
    return re.compile(translate(pattern))


# Characters with a meaning in a JavaScript regular expression (with the ``u``
# flag), and "/", which ends a regular expression literal.
_JS_SYNTAX = frozenset("^$\\.*+?()[]{}|/")


def js_regex_source(pattern: str) -> str:
    """The source of a JavaScript ``RegExp`` that matches what the cookie glob ``pattern`` matches.

    Compile it as ``new RegExp(source, "u")``: it matches a whole cookie name
    exactly when ``fnmatch.fnmatchcase(name, pattern)`` is true (the server's
    reading of the glob): ``*`` is any run of characters, ``?`` any one
    character, ``[seq]`` and ``[!seq]`` one character in or not in ``seq``
    (with ``a-z`` ranges), an unclosed ``[`` is itself, and every other
    character is itself.
    """
    first, *starred = _fixed_parts(pattern)
    if not starred:
        return f"^{first}$"
    *between, last = starred
    # Laid out as fnmatch.translate lays out its expression: a star before an
    # inner fixed part takes the shortest run that ends with that part and never
    # backtracks into it, so that no pattern backtracks exponentially. (Every
    # token but a star matches one character, so the shortest run is as good as
    # any.) A lookahead and a back-reference are JavaScript's atomic group.
    atomic = "".join(f"(?=([^]*?{part}))\\{group}" for group, part in enumerate(between, 1))
    return f"^{first}{atomic}[^]*{last}$"


def _fixed_parts(pattern: str) -> list[str]:
    """The glob's runs between stars, each as JavaScript matching one character per token."""
    parts = [""]
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            # Stars in a row are one star.
            if parts[-1] or len(parts) == 1:
                parts.append("")
        elif char == "?":
            parts[-1] += "[^]"
        elif char == "[":
            end = _bracket_end(pattern, index)
            if end < 0:
                parts[-1] += "\\["
            else:
                parts[-1] += _js_class(pattern[index:end])
                index = end + 1
        else:
            parts[-1] += _js_char(char)
    return parts


def _bracket_end(pattern: str, start: int) -> int:
    """Where the ``]`` closing a bracket opened just before ``start`` is, or -1.

    A ``]`` right after ``[`` or ``[!`` belongs to the set, as in fnmatch.
    """
    end = start
    if pattern.startswith("!", end):
        end += 1
    if pattern.startswith("]", end):
        end += 1
    return pattern.find("]", end)


def _js_class(members: str) -> str:
    """A JavaScript character class for the text between ``[`` and ``]``, as fnmatch reads it."""
    # Cut at the hyphens that make ranges, as fnmatch.translate cuts: a hyphen
    # first (after "!") or last is itself, and so is one right after a range.
    chunks: list[str] = []
    if "-" not in members:
        chunks.append(members)
    else:
        start = 0
        hyphen = members.find("-", 2 if members.startswith("!") else 1)
        while hyphen >= 0:
            chunks.append(members[start:hyphen])
            start = hyphen + 1
            hyphen = members.find("-", hyphen + 3)
        if start < len(members):
            chunks.append(members[start:])
        else:
            chunks[-1] += "-"
        # A range that runs backwards matches nothing, its ends included.
        for index in range(len(chunks) - 1, 0, -1):
            if chunks[index - 1][-1] > chunks[index][0]:
                chunks[index - 1] = chunks[index - 1][:-1] + chunks[index][1:]
                del chunks[index]
    # Negation is read after that: "[z-a!b]" is fnmatch's "[!b]".
    negated = chunks[0].startswith("!")
    if negated:
        chunks[0] = chunks[0][1:]
    if chunks == [""]:
        return "[^]" if negated else "[]"
    body = "".join(_js_char(char, in_class=True) for char in chunks[0])
    for previous, chunk in itertools.pairwise(chunks):
        first = _js_char(chunk[0], in_class=True)
        if previous:
            body += "-" + first
        else:
            # After a lost "!" the range has no start: fnmatch's "[^-c]" reads
            # the hyphen as itself.
            body += "\\-" + first
        body += "".join(_js_char(char, in_class=True) for char in chunk[1:])
    return f"[{'^' if negated else ''}{body}]"


def _js_char(char: str, *, in_class: bool = False) -> str:
    """``char`` as itself in a JavaScript regular expression with the ``u`` flag."""
    if char in _JS_SYNTAX or (in_class and char == "-"):
        return "\\" + char
    if " " <= char <= "~":
        return char
    return f"\\u{{{ord(char):x}}}"
