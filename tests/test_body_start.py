"""Where the body starts, as a browser's parser decides it, however the document is split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.body_start import TOKEN_LIMIT, BodyStart
from consent.inject import BodyStartInserter
from tests.oracles import stream_through

MARK = b"<!--BANNER-->"


def placed(document: bytes, cuts: list[int] | None = None) -> bytes:
    """``document`` with ``MARK`` where ``BodyStartInserter`` puts the banner."""
    return stream_through(BodyStartInserter(MARK), document, cuts or [])


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # A <body> tag with attributes, one of them holding ">" in quotes.
        (
            b'<!doctype html><html lang="en"><head><title>A</title></head>'
            b'<body class="article" data-x="a>b"><a href="#main">Skip</a>',
            b'<!doctype html><html lang="en"><head><title>A</title></head>'
            b'<body class="article" data-x="a>b">' + MARK + b'<a href="#main">Skip</a>',
        ),
        # No <body> tag: the body starts at the first tag that cannot stay in the head.
        (
            b"<!DOCTYPE html><title>A</title><meta charset=utf-8><nav><a href=/>",
            b"<!DOCTYPE html><title>A</title><meta charset=utf-8>" + MARK + b"<nav><a href=/>",
        ),
        # ... or at its first text.
        (
            b"<html><head><link rel=icon href=/i></head>\n  Hello <b>you</b>",
            b"<html><head><link rel=icon href=/i></head>\n  " + MARK + b"Hello <b>you</b>",
        ),
        # Text, comments and tags inside <script>, <style>, <title>, <template> and
        # <noscript>, and comments, are passed over.
        (
            b"<head><script>if (a<b) document.write('<body><div>')</script>"
            b"<style>p::after{content:'<body>'}</style><title>1 < 2 <body></title>"
            b"<!-- <body> --><template><p>x</p></template><noscript><img src=/p></noscript>"
            b"</head><body>",
            b"<head><script>if (a<b) document.write('<body><div>')</script>"
            b"<style>p::after{content:'<body>'}</style><title>1 < 2 <body></title>"
            b"<!-- <body> --><template><p>x</p></template><noscript><img src=/p></noscript>"
            b"</head><body>" + MARK,
        ),
        # Upper case, a byte-order mark, empty comments.
        (b"\xef\xbb\xbf<!--><!---><HTML><BODY BGCOLOR=white>x", None),
        # A "<" that begins no tag is text.
        (b"<head></head>< 3", b"<head></head>" + MARK + b"< 3"),
        # A document whose body never starts gets the banner at its end.
        (b"<html><head><title>t</title>", b"<html><head><title>t</title>" + MARK),
        (b"", MARK),
    ],
)
def test_where_the_body_starts(document: bytes, expected: bytes | None) -> None:
    if expected is None:
        index = document.index(b"white>") + len(b"white>")
        expected = document[:index] + MARK + document[index:]
    assert placed(document) == expected


def test_a_late_body_is_found_after_a_long_head() -> None:
    head = b"<head>" + b"<script>var s = '</div><body>';</script>" * 5000
    document = head + b"<style>" + b"a{}" * 30_000 + b"</style></head><body><a href=/>"
    assert len(document) > 256 * 1024
    out = placed(document, list(range(0, len(document), 4096)))
    assert out == document.replace(b"</head><body>", b"</head><body>" + MARK)


def test_only_an_unfinished_tag_is_held() -> None:
    inserter = BodyStartInserter(MARK)
    assert (
        inserter.feed(b"<html><head><script>" + b"x" * 100_000)
        == b"<html><head><script>" + b"x" * 99_999
    )
    assert inserter.feed(b"</script><meta name=a content='") == b"x</script>"
    assert inserter.feed(b"b'></head><bo") == b"<meta name=a content='b'></head>"
    assert inserter.feed(b"dy>") == b"<body>" + MARK


def test_an_unfinished_tag_is_held_only_up_to_the_limit() -> None:
    """A whole tag is read whatever its length; one cut by a chunk's end is held up to
    TOKEN_LIMIT bytes, then the body starts before it (still inside the body)."""
    tag = b"<meta content='" + b"x" * (2 * TOKEN_LIMIT) + b"'>"
    document = b"<head>" + tag + b"<body>"
    assert placed(document) == document + MARK
    inserter = BodyStartInserter(MARK)
    sent = inserter.feed(document[:1000]) + inserter.feed(document[1000 : TOKEN_LIMIT + 100])
    assert sent == b"<head>" + MARK + document[6 : TOKEN_LIMIT + 100]
    assert inserter.feed(document[TOKEN_LIMIT + 100 :]) == document[TOKEN_LIMIT + 100 :]


FRAGMENTS = [
    b"<!doctype html>",
    b"<html>",
    b"<head>",
    b"</head>",
    b"<body>",
    b'<body class="x>y">',
    b"<BODY>",
    b"<title>",
    b"</title>",
    b"<script>",
    b"</script>",
    b"</SCRIPT >",
    b"<style>",
    b"</style>",
    b"<!--",
    b"-->",
    b"--!>",
    b"<meta charset=utf-8>",
    b"<link rel=x href='a>b'>",
    b"<div>",
    b"<a href=/>",
    b"<",
    b">",
    b"</",
    b"'",
    b'"',
    b" ",
    b"\n",
    b"x",
    b"<bo",
    b"dy>",
    b"\xef\xbb\xbf",
]
documents = st.lists(st.sampled_from(FRAGMENTS), max_size=25).map(b"".join)


@settings(max_examples=600)
@given(document=documents, data=st.data())
def test_every_split_puts_the_banner_in_the_same_place(
    document: bytes, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(document)), max_size=len(document) + 1))
    whole = placed(document)
    assert placed(document, cuts) == whole
    assert whole.count(MARK) == document.count(MARK) + 1
    assert whole.replace(MARK, b"", 1) == document


@given(document=documents)
def test_the_whole_document_scan_agrees_with_the_stream(document: bytes) -> None:
    found, _ = BodyStart().scan(document)
    index = found if found >= 0 else len(document)
    assert placed(document) == document[:index] + MARK + document[index:]
