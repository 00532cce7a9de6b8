"""The overhead benchmark still runs and still measures what it says (never its timings)."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp, Message

from bench.apps import ARTICLE, STREAM_CHUNK_BYTES, bare_app, consent_app
from bench.cache import (
    GA_PROPERTY_COOKIE,
    KINDS,
    SESSION_COOKIE,
    Run,
    article_urls,
    check,
    make_readers,
    measure,
    process_cpu_seconds,
    report,
)
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
from consent.settings import CacheMode
from tests.asgi import CountingSink, body_of, http_scope, serve
from tests.cache.servers import VARNISHD

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


# --- bench/cache.py: pages behind Varnish (a tiny run; the benchmark itself is run by hand)


def test_process_cpu_seconds_reads_the_process_s_own_cpu_time() -> None:
    pid = os.getpid()
    before, own = process_cpu_seconds(pid), time.process_time()
    while time.process_time() - own < 0.3:
        sum(range(10_000))
    spent = process_cpu_seconds(pid) - before
    # /proc counts in clock ticks (10 ms): the same 0.3 s, to within a few ticks.
    assert abs(spent - (time.process_time() - own)) < 0.05


def test_readers_are_a_third_of_each_kind_each_with_cookies_of_their_own() -> None:
    urls = article_urls(20)
    assert len(set(urls)) == 20
    assert sum("?ref=" in url for url in urls) == 15  # the site has 5 articles
    readers = make_readers(9, urls, session=True, seed=1)
    assert Counter(reader.kind for reader in readers) == dict.fromkeys(KINDS, 3)
    for name in ("_ga", GA_PROPERTY_COOKIE, SESSION_COOKIE):
        assert len({reader.cookies[name] for reader in readers}) == 9
    assert all(sorted(reader.urls) == sorted(urls) for reader in readers)
    assert len({tuple(reader.urls) for reader in readers}) == 9
    assert not any(SESSION_COOKIE in r.cookies for r in make_readers(3, urls, False, 1))


def test_the_run_check_refuses_counts_that_disagree() -> None:
    counters = {"cache_hit": 5, "backend_req": 7, "esi_req": 0, "s_pass": 2}
    run = Run("shared", False, 2, page_views=10, hits=5, decisions=2, varnish=counters)
    check(run)
    with pytest.raises(RuntimeError, match="varnishstat counts 5 hits, X-Varnish 4"):
        check(Run("shared", False, 2, page_views=10, hits=4, decisions=2, varnish=counters))
    with pytest.raises(RuntimeError, match="1 pages showed"):
        check(Run("shared", False, 2, 10, 5, wrong_pages=1, decisions=2, varnish=counters))


@pytest.mark.varnish
@pytest.mark.parametrize(
    ("mode", "session"), [("vary", True), ("esi", True), ("shared", True), ("esi", False)]
)
def test_a_tiny_run_through_varnish_counts_pages_hits_and_origin_requests(
    mode: CacheMode, session: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not Path(VARNISHD).is_file():
        pytest.skip("Varnish is not installed (Debian package varnish; scripts/test adds it)")
    # One language: a tiny run over many languages' variants would be all misses.
    readers = make_readers(6, article_urls(3), session, seed=1, language_mix=[("en-GB,en", 1)])
    run = asyncio.run(measure(mode, session, readers, 2, tmp_path))
    # Four readers of six decide on their first page, and see it again after the 303.
    assert (run.page_views, run.decisions, run.read_page_views) == (6 * 3 + 4, 4, 6 * 2)
    check(run)  # each page showed its reader's state; X-Varnish and varnishstat agree
    assert run.varnish["esi_req"] == (2 * run.page_views if mode == "esi" else 0)
    # Every reader arrives undecided: the first answer from the origin expires its `_ga`.
    assert run.fetched_setting_cookies >= run.cookies_set["_ga"] > 0
    passed = run.varnish["s_pass"] - run.varnish["esi_req"] - run.decisions
    # The load balancer's cookie, one per reader, is left out of the look-up: no pass.
    assert passed == 0
    if mode != "vary":
        assert run.hits > 0
    elif session:
        # Vary: Cookie, and every reader's cookies are their own.
        assert run.hits == 0
    targets = report([run])
    assert [target.name.split(",")[0] for target in targets] == ([] if mode == "vary" else [mode])
    assert f"| {mode} " in capsys.readouterr().out
