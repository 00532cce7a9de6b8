"""Streaming injection gives the same bytes as the reference, however the body is split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.inject import BodyInjector, inject_reference, last_marker

SNIPPET = b"<div data-consent-banner></div>"


def stream(body: bytes, cuts: list[int], hold_limit: int = 64 * 1024) -> bytes:
    """Feed ``body`` cut at ``cuts`` through an injector; return every byte sent."""
    injector = BodyInjector(SNIPPET, hold_limit=hold_limit)
    out = b""
    start = 0
    for cut in sorted(set(cuts)):
        out += injector.feed(body[start:cut])
        start = cut
    out += injector.feed(body[start:])
    return out + injector.finish()


fragments = st.sampled_from(
    [
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
)
bodies = st.lists(fragments, max_size=30).map(b"".join)


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
