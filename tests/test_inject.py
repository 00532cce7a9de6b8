"""Streaming injection gives the same bytes as the reference, however the body is split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.inject import (
    _GATED_TAG,
    HOLD_LIMIT,
    BodyInjector,
    HeadInserter,
    PageRewriter,
    TagActivator,
    activate_tag,
    last_marker,
    rewrite_page,
)
from tests.oracles import (
    activate_reference,
    inject_reference,
    insert_after_head_reference,
    stream_through,
)

SNIPPET = b"<div data-consent-banner></div>"


def stream(body: bytes, cuts: list[int], hold_limit: int = HOLD_LIMIT) -> bytes:
    return stream_through(BodyInjector(SNIPPET, hold_limit=hold_limit), body, cuts)


FRAGMENTS = [
    b"</body>",
    b"</BODY>",
    b"</Body >",
    b"</bo",
    b"dy>",
    b"<",
    b"</",
    b"x",
    b"<p>text</p>",
    b'<script>var s = "</body>";</script>',
    b"</html>",
    b"\n",
    b"body",
    b"\xe2\x82\xac",
]
bodies = st.lists(st.sampled_from(FRAGMENTS), max_size=30).map(b"".join)


@settings(max_examples=400)
@given(body=bodies, data=st.data())
def test_every_split_gives_the_reference(body: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=len(body) + 1))
    assert stream(body, cuts) == inject_reference(body, SNIPPET)


@settings(max_examples=300)
@given(body=bodies, data=st.data(), hold_limit=st.integers(1, 40))
def test_every_split_gives_the_reference_when_candidates_are_given_up(
    body: bytes, data: st.DataObject, hold_limit: int
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=len(body) + 1))
    assert stream(body, cuts, hold_limit) == inject_reference(body, SNIPPET, hold_limit)


@given(body=bodies)
def test_byte_by_byte(body: bytes) -> None:
    assert stream(body, list(range(len(body)))) == inject_reference(body, SNIPPET)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html><body>a</body></html>", b"<html><body>a" + SNIPPET + b"</body></html>"),
        (b"<body>no end", b"<body>no end" + SNIPPET),
        (b"", SNIPPET),
        (
            b'<body><script>x="</body>"</script></body></html>',
            b'<body><script>x="</body>"</script>' + SNIPPET + b"</body></html>",
        ),
        (b"<BODY>a</BODY>", b"<BODY>a" + SNIPPET + b"</BODY>"),
        (
            b"<body>a</body></html><!-- </Body> -->",
            b"<body>a</body></html><!-- " + SNIPPET + b"</Body> -->",
        ),
    ],
)
def test_reference(body: bytes, expected: bytes) -> None:
    assert inject_reference(body, SNIPPET) == expected
    assert stream(body, [3, 7]) == expected


def test_split_marker_is_held_then_sent() -> None:
    injector = BodyInjector(SNIPPET)
    assert injector.feed(b"<p>a</p></bo") == b"<p>a</p>"
    assert injector.feed(b"dy></html>") == b""
    assert injector.finish() == SNIPPET + b"</body></html>"


def test_content_after_a_far_candidate_is_not_held() -> None:
    injector = BodyInjector(SNIPPET, hold_limit=100)
    first = injector.feed(b'<script>"</body>"</script>')
    sent = injector.feed(b"x" * 200)
    # The early candidate is given up: everything is sent, bounded memory.
    assert first + sent == b'<script>"</body>"</script>' + b"x" * 200
    assert injector.finish() == SNIPPET


def test_last_marker_mixed_spellings() -> None:
    assert last_marker(b"</BODY></body>") == 7
    assert last_marker(b"</body></BODY>") == 7
    assert last_marker(b"nothing") == -1
    assert last_marker(b"</Body></BR></B") == 0


@given(
    st.lists(
        st.sampled_from([b"</body", b"</BODY", b"</Body", b"</B", b"</BR>", b"</b", b"x", b"<"]),
        max_size=12,
    ).map(b"".join)
)
def test_last_marker_is_the_last_of_the_three_spellings(data: bytes) -> None:
    assert last_marker(data) == max(data.rfind(m) for m in (b"</body", b"</BODY", b"</Body"))


# --- <head> insertion -------------------------------------------------------------------------

HEAD_SNIPPET = b'<script src="/_consent/static/consent-mode.js"></script>'


def stream_head(body: bytes, cuts: list[int], limit: int = 8192) -> bytes:
    return stream_through(HeadInserter(HEAD_SNIPPET, search_limit=limit), body, cuts)


HEAD_FRAGMENTS = [
    b"<!doctype html>",
    b"<html>",
    b"<head>",
    b'<head lang="en">',
    b"<header>",
    b"<he",
    b"ad>",
    b"<HEAD>",
    b"<title>t</title>",
    b"<body>",
    b"x",
    b"<",
    b">",
    b" ",
]
head_bodies = st.lists(st.sampled_from(HEAD_FRAGMENTS), max_size=20).map(b"".join)


@settings(max_examples=300)
@given(body=head_bodies, data=st.data(), limit=st.integers(1, 60))
def test_head_insertion_is_the_same_for_every_split(
    body: bytes, data: st.DataObject, limit: int
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=len(body) + 1))
    expected, _ = insert_after_head_reference(body, HEAD_SNIPPET, limit)
    assert stream_head(body, cuts, limit) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html><head><title>", b"<html><head>" + HEAD_SNIPPET + b"<title>"),
        (b'<html><head data-x="1">', b'<html><head data-x="1">' + HEAD_SNIPPET),
        (b"<html><header>no head</header>", b"<html><header>no head</header>"),
    ],
)
def test_head_insertion(body: bytes, expected: bytes) -> None:
    assert insert_after_head_reference(body, HEAD_SNIPPET)[0] == expected


# --- activation of granted tags ---------------------------------------------------------------

GRANTED = frozenset({b"analytics"})


@pytest.mark.parametrize(
    ("tag", "live"),
    [
        (
            b'<script type="text/plain" data-consent-category="analytics" src="/a.js">',
            b'<script  data-consent-category="analytics" src="/a.js">',
        ),
        (
            b"<script type='text/plain' data-consent-category=analytics>",
            b"<script  data-consent-category=analytics>",
        ),
        (
            b'<script data-type="module" type="text/plain" data-consent-category="analytics">',
            b'<script data-type="module" type="module" data-consent-category="analytics">',
        ),
        (
            b'<SCRIPT TYPE="TEXT/PLAIN" data-consent-category="analytics">',
            b'<SCRIPT  data-consent-category="analytics">',
        ),
        (
            b'<iframe data-consent-category="analytics" data-src="/v.html" title="v">',
            b'<iframe data-consent-category="analytics" data-src="/v.html" src="/v.html" '
            b'title="v">',
        ),
        (
            b'<img data-src=/p.gif data-consent-category="analytics" alt="" />',
            b'<img data-src=/p.gif src="/p.gif" data-consent-category="analytics" alt="" />',
        ),
        (
            b'<img data-srcset="a.png 2x" data-src="a.png" data-consent-category="analytics">',
            b'<img data-srcset="a.png 2x" data-src="a.png" src="a.png" srcset="a.png 2x" '
            b'data-consent-category="analytics">',
        ),
    ],
)
def test_granted_tags_go_live(tag: bytes, live: bytes) -> None:
    assert activate_reference(tag, GRANTED) == live


@pytest.mark.parametrize(
    "tag",
    [
        b'<script type="text/plain" data-consent-category="marketing" src="/ads.js">',
        b'<script data-consent-category="analytics" src="/already-live.js">',
        b'<iframe data-consent-category="analytics" src="/x" data-src="/y">',
        b'<iframe data-consent-category="marketing" data-src="/y">',
        b'<div data-consent-category="analytics" data-src="/y">',
        b'<img data-consent-category="analytics" alt="no data-src">',
    ],
)
def test_other_tags_stay_as_they_are(tag: bytes) -> None:
    assert activate_reference(tag, GRANTED) == tag


ACTIVATION_FRAGMENTS = [
    b'<script type="text/plain" data-consent-category="analytics" src="/a.js">',
    b"</script>",
    b'<iframe data-consent-category="analytics" data-src="/v">',
    b"<",
    b">",
    b"<p>",
    b"text",
    b'<img data-consent-category="marketing" data-src="/p">',
    b"data-consent-category",
    b'<script type="text/plain" data-consent-category="analytics">',
    b'"',
    b" ",
    b"<img ",
]
activation_bodies = st.lists(st.sampled_from(ACTIVATION_FRAGMENTS), max_size=20).map(b"".join)


@settings(max_examples=400)
@given(body=activation_bodies, data=st.data(), limit=st.integers(1, 120))
def test_activation_is_the_same_for_every_split(
    body: bytes, data: st.DataObject, limit: int
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=len(body) + 1))
    activator = TagActivator(GRANTED, tag_limit=limit)
    assert stream_through(activator, body, cuts) == activate_reference(body, GRANTED, limit)


def activate_searching_forward(body: bytes, granted: frozenset[bytes], limit: int) -> bytes:
    """Activation as first defined: a forward search for each marker, its tag parsed."""
    marker = b"data-consent-category"
    pieces: list[bytes] = []
    done = start = 0
    index = body.find(marker)
    while index >= 0:
        tag_start = body.rfind(b"<", start, index)
        tag_end = body.find(b">", index)
        if tag_start >= 0 and tag_end >= 0 and tag_end + 1 - tag_start <= limit:
            tag = _GATED_TAG.fullmatch(body, tag_start, tag_end + 1)
            if tag is not None:
                pieces += (body[done:tag_start], activate_tag(tag, granted))
                done = start = tag_end + 1
        index = body.find(marker, max(index + 1, start))
    return b"".join(pieces) + body[done:]


@settings(max_examples=400)
@given(body=activation_bodies, limit=st.integers(1, 120))
def test_activation_finds_the_tags_a_forward_search_finds(body: bytes, limit: int) -> None:
    assert activate_reference(body, GRANTED, limit) == activate_searching_forward(
        body, GRANTED, limit
    )


# --- the whole page: head, activation, where the body starts, its end -------------------------

BODY_START_FRAGMENTS = [
    b'<body class="a>b">',
    b"<BODY>",
    b"<bo",
    b"<!-- <body> -->",
    b"<!--",
    b"-->",
    b"<meta charset=utf-8>",
    b"<style>p{}</style>",
    b"<script>x('<div>')</script>",
    b"<noscript><img></noscript>",
    b"</head>",
    b"<div>",
    b"<a href=/>",
]
FRONT_SNIPPET = b'<div class="consent-root"><div data-consent-banner hidden></div></div>'
page_bodies = st.lists(
    st.sampled_from([*FRAGMENTS, *ACTIVATION_FRAGMENTS, *HEAD_FRAGMENTS, *BODY_START_FRAGMENTS]),
    max_size=25,
).map(b"".join)
placements = st.sampled_from([(FRONT_SNIPPET, b""), (FRONT_SNIPPET, SNIPPET), (b"", SNIPPET)])


@settings(max_examples=400)
@given(body=page_bodies, data=st.data(), placement=placements)
def test_whole_page_rewrite_is_the_same_for_every_split(
    body: bytes, data: st.DataObject, placement: tuple[bytes, bytes]
) -> None:
    front, end = placement
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=len(body) + 1))
    whole = PageRewriter(HEAD_SNIPPET, front, end, GRANTED)
    expected = whole.feed(body) + whole.finish()
    pieces = PageRewriter(HEAD_SNIPPET, front, end, GRANTED)
    assert stream_through(pieces, body, cuts) == expected
    assert expected.count(HEAD_SNIPPET) == 1
    if front:
        assert expected.count(FRONT_SNIPPET) == 1
    if end:
        assert expected.count(SNIPPET) == 1


@given(body=page_bodies, placement=placements)
def test_size_change_is_known_when_no_tag_is_rewritten(
    body: bytes, placement: tuple[bytes, bytes]
) -> None:
    front, end = placement
    rewriter = PageRewriter(HEAD_SNIPPET, front, end)
    assert rewriter.size_change == len(HEAD_SNIPPET) + len(front) + len(end)
    assert len(rewriter.feed(body) + rewriter.finish()) == len(body) + rewriter.size_change


@settings(max_examples=400)
@given(
    body=page_bodies,
    granted=st.sampled_from([frozenset(), GRANTED]),
    head=st.sampled_from([b"", HEAD_SNIPPET]),
    placement=placements,
)
def test_whole_body_gives_the_streamed_bytes(
    body: bytes, granted: frozenset[bytes], head: bytes, placement: tuple[bytes, bytes]
) -> None:
    front, end = placement
    streamed = PageRewriter(head, front, end, granted)
    expected = streamed.feed(body) + streamed.finish()
    assert rewrite_page(body, head, front, end, granted) == expected


def test_the_banner_goes_where_the_body_starts_and_the_end_snippet_before_body_end() -> None:
    page = (
        b'<!doctype html><html><head><title>t</title></head><body class="a">'
        b'<a href="/">x</a><script type="text/plain" data-consent-category="analytics">'
        b"</script></body></html>"
    )
    out = rewrite_page(page, HEAD_SNIPPET, FRONT_SNIPPET, SNIPPET, GRANTED)
    assert out == (
        b"<!doctype html><html><head>"
        + HEAD_SNIPPET
        + b'<title>t</title></head><body class="a">'
        + FRONT_SNIPPET
        + b'<a href="/">x</a><script  data-consent-category="analytics"></script>'
        + SNIPPET
        + b"</body></html>"
    )


def test_a_page_without_head_gets_the_head_snippet_before_the_banner() -> None:
    out = rewrite_page(b"<p>hello</p>", HEAD_SNIPPET, FRONT_SNIPPET, b"")
    assert out == HEAD_SNIPPET + FRONT_SNIPPET + b"<p>hello</p>"
