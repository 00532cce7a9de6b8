"""The overhead benchmark still runs and still measures what it says (never its timings)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest
from starlette.types import ASGIApp, Message

from bench.apps import ARTICLE, STREAM_CHUNK_BYTES, bare_app, consent_app
from bench.overhead.cases import (
    BANNER_MARK,
    CASES,
    JSON_BODY,
    SETTINGS_MARK,
    case_template,
    check_case,
    decided_cookie_header,
)
from bench.overhead.inprocess import in_process_part
from bench.overhead.memory import memory_child
from tests.asgi import CountingSink, body_of, http_scope, serve

STACKS: dict[str, ASGIApp] = {"bare": bare_app, "consent": consent_app}


@pytest.fixture(scope="module")
def decided_cookie() -> str:
    return asyncio.run(decided_cookie_header())


def run(request: Awaitable[None]) -> None:
    """Runs one ``serve`` in a loop of its own."""

    async def main() -> None:
        await request

    asyncio.run(main())


def consent_answer(endpoint: str, visitor: str, cookie: str) -> bytes:
    sent: list[Message] = []
    template = case_template(endpoint, visitor, cookie)
    run(serve(consent_app, template, sent.append))
    assert sent[0]["status"] == 200
    return body_of(sent)


def test_the_decided_cookie_comes_from_the_http_surface(decided_cookie: str) -> None:
    consent, session = decided_cookie.split("; ")
    assert consent.startswith("consent=")
    assert session.startswith("session=")


def test_json_passes_unchanged_for_both_visitors(decided_cookie: str) -> None:
    assert consent_answer("json", "undecided", decided_cookie) == JSON_BODY
    assert consent_answer("json", "decided", decided_cookie) == JSON_BODY


def test_the_undecided_visitor_s_article_gets_the_banner(decided_cookie: str) -> None:
    page = consent_answer("article", "undecided", decided_cookie)
    assert page.count(BANNER_MARK) == 1
    assert len(page) > len(ARTICLE)


def test_the_decided_visitor_s_article_gets_the_settings_control(decided_cookie: str) -> None:
    page = consent_answer("article", "decided", decided_cookie)
    assert BANNER_MARK not in page
    assert SETTINGS_MARK in page


def test_the_case_check_refuses_a_wrong_answer(decided_cookie: str) -> None:
    # The undecided visitor's request, checked as if it were the decided one's.
    undecided = case_template("article", "undecided", decided_cookie)
    with pytest.raises(RuntimeError, match="1 banner"):
        asyncio.run(check_case("article", "decided", undecided, STACKS))


def test_a_tiny_in_process_run_checks_times_and_reports_every_case(
    capsys: pytest.CaptureFixture[str],
) -> None:
    results: dict[str, Any] = {}
    targets = asyncio.run(in_process_part(STACKS, CASES, 1, 3, 1, results))
    assert set(results) == {f"{endpoint}/{visitor}" for endpoint, visitor in CASES}
    for numbers in results.values():
        assert set(numbers) == {"other_cores", "bare", "consent"}
        assert len(numbers["consent"]["round_medians_us"]) == 1
    assert [target.name for target in targets] == [
        "json, undecided: consent ÷ bare",
        "json, decided: consent ÷ bare",
        "json, decided: µs added",
        "article, undecided (banner): µs added",
    ]
    assert "### Summary" in capsys.readouterr().out


@pytest.mark.parametrize("visitor", ["undecided", "decided"])
def test_a_small_stream_is_counted_banner_and_bytes(visitor: str) -> None:
    measured = asyncio.run(memory_child("consent", 8 * STREAM_CHUNK_BYTES, visitor))
    assert measured["status"] == 200
    assert measured["roots"] == 1
    assert measured["ends_right"] is True
    assert measured["bytes"] == measured["expected_bytes"] > 8 * STREAM_CHUNK_BYTES
    assert measured["chunks_out"] >= 8


def test_the_sink_counts_a_marker_split_across_two_chunks() -> None:
    sink = CountingSink(marker=b"<mark>", tail_bytes=4)
    sink({"type": "http.response.start", "status": 200, "headers": []})
    sink({"type": "http.response.body", "body": b"ab<ma", "more_body": True})
    sink({"type": "http.response.body", "body": b"rk>cd<mark>", "more_body": False})
    assert (sink.status, sink.size, sink.chunks, sink.markers) == (200, 16, 2, 2)
    assert sink.tail == b"ark>"


def test_every_served_request_gets_its_own_header_objects() -> None:
    template = http_scope("/json", headers=[(b"accept", b"application/json")])
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["headers"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    for _ in range(2):
        run(serve(app, template, CountingSink()))
    first, second = seen
    assert first == second == template["headers"]
    assert all(a is not b for a, b in zip(first[0], template["headers"][0], strict=True))
    assert first is not template["headers"]
    assert second is not first
