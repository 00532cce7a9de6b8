"""No visitor can make the middleware hold more memory than its documented bound."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.responses import HTMLResponse
from starlette.types import Message, Receive, Scope, Send

from consent import ConsentMiddleware, get_consent
from consent.cache import MEMORY_BOUND, MIB, BoundedCache, Budget
from consent.category import bundled_locales
from tests.asgi import body_of, call, consent_cookie, http_scope
from tests.conftest import make_settings

FLOOD = 8192
"""Requests per flood: twice the visitor cache's entries."""
HEADER_BYTES = 9 * 1024
PAGE = "<html><head></head><body><p>article</p></body></html>"


async def page_app(scope: Scope, receive: Receive, send: Send) -> None:
    state = get_consent(scope)
    headers = {"x-decided": "1" if state.decided else "0"}
    await HTMLResponse(PAGE, headers=headers)(scope, receive, send)


def many_small_cookies(i: int) -> bytes:
    """A ``Cookie`` header of about 9 KB made of many short cookies (most work per byte)."""
    pairs = []
    size = 0
    j = 0
    while size < HEADER_BYTES:
        pair = f"c{i}x{j}=1"
        pairs.append(pair)
        size += len(pair) + 2
        j += 1
    return "; ".join(pairs).encode()


def tracker_cookies(i: int) -> bytes:
    """About 9 KB of 90 tracker-like cookies of 100 bytes each."""
    return "; ".join(f"_t{i}x{j:02}=" + "v" * 90 for j in range(90)).encode()


def one_long_cookie(i: int) -> bytes:
    return f"c{i}=".encode() + b"v" * HEADER_BYTES


LANGUAGES = sorted(bundled_locales())


def long_language(i: int) -> bytes:
    """A long header, each naming a bundled language: every language's markup gets made."""
    language = LANGUAGES[i % len(LANGUAGES)]
    return f"x-{i},{language};q=0.9,".encode() + b"en;q=0.5," * (HEADER_BYTES // 9)


def resident_bytes() -> int:
    """This process's resident set size, from ``/proc`` (what an operator's tools show)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def flood_growth(
    middleware: ConsentMiddleware,
    request_headers: Callable[[int], list[tuple[bytes, bytes]]],
    query: Callable[[int], bytes] = lambda i: b"",
) -> int:
    """Resident bytes gained over ``FLOOD`` requests, each with its own headers and address.

    Measured as the resident set size rather than with tracemalloc, which would
    make the flood many times slower; the bound is far below what an unbounded
    cache reaches (hundreds of megabytes), so the allocator's slack does not hide it.
    """

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    async def flood() -> None:
        for i in range(FLOOD):
            scope = http_scope(f"/news/{i}", query=query(i), headers=request_headers(i))
            await middleware(scope, receive, send)

    # One request first, so that start-up allocations are not counted.
    call(middleware, http_scope("/", headers=request_headers(-1)))
    gc.collect()
    before = resident_bytes()
    asyncio.run(flood())
    gc.collect()
    return resident_bytes() - before


@pytest.fixture(autouse=True)
def _quiet_undeclared(caplog: pytest.LogCaptureFixture) -> None:
    """Thousands of undeclared names would each be reported once."""
    caplog.set_level(logging.ERROR, logger="consent")


DOCUMENTED_BOUND = int(33.75 * MIB)
"""What README.md and docs/operations.md promise (``MEMORY_BOUND``)."""
ALLOWANCE = DOCUMENTED_BOUND + 16 * MIB
"""The documented bound, and room for the allocator's own slack and the interpreter's."""


@pytest.mark.parametrize(
    ("shape", "undeclared"),
    [(many_small_cookies, "block"), (tracker_cookies, "allow")],
)
def test_a_flood_of_distinct_cookie_headers_stays_within_the_bound(
    shape: Callable[[int], bytes], undeclared: str
) -> None:
    middleware = ConsentMiddleware(page_app, make_settings(undeclared_cookies=undeclared))
    growth = flood_growth(middleware, lambda i: [(b"cookie", shape(i))])
    # Bounded only in entries, 8,192 such visitors held hundreds of megabytes.
    assert growth < ALLOWANCE, growth / MIB


def test_a_flood_with_gpc_stays_within_the_bound() -> None:
    middleware = ConsentMiddleware(page_app, make_settings(undeclared_cookies="allow"))
    growth = flood_growth(
        middleware, lambda i: [(b"cookie", one_long_cookie(i)), (b"sec-gpc", b"1")]
    )
    assert growth < ALLOWANCE, growth / MIB


def test_a_flood_of_long_addresses_and_languages_stays_within_the_bound() -> None:
    middleware = ConsentMiddleware(page_app, make_settings())
    growth = flood_growth(
        middleware,
        lambda i: [(b"accept-language", long_language(i))],
        query=lambda i: f"q={i}&".encode() + b"x" * HEADER_BYTES,
    )
    assert growth < ALLOWANCE, growth / MIB


def test_the_budgets_add_up_to_the_documented_total() -> None:
    assert MEMORY_BOUND == DOCUMENTED_BOUND


def test_bounded_cache_evicts_the_oldest_to_stay_within_bytes() -> None:
    cache: BoundedCache[str, int] = BoundedCache(
        Budget(max_entries=100, max_bytes=1000, max_item_bytes=400)
    )
    for i in range(10):
        cache.put(f"k{i}", i, 300)
    assert cache.size <= 1000
    assert len(cache) == 3
    assert [cache.get(f"k{i}") for i in (6, 7, 8, 9)] == [None, 7, 8, 9]


def test_bounded_cache_evicts_the_oldest_to_stay_within_entries() -> None:
    cache: BoundedCache[str, int] = BoundedCache(
        Budget(max_entries=2, max_bytes=10_000, max_item_bytes=400)
    )
    for key in ("a", "b", "c"):
        cache.put(key, 1, 10)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 1, 1)


def test_bounded_cache_does_not_keep_an_oversize_entry() -> None:
    cache: BoundedCache[str, int] = BoundedCache(
        Budget(max_entries=10, max_bytes=1000, max_item_bytes=100)
    )
    cache.put("small", 1, 50)
    cache.put("big", 2, 101)
    assert (cache.get("small"), cache.get("big"), cache.size) == (1, None, 50)


def test_bounded_cache_replacing_a_key_counts_it_once() -> None:
    cache: BoundedCache[str, int] = BoundedCache(
        Budget(max_entries=10, max_bytes=1000, max_item_bytes=600)
    )
    cache.put("a", 1, 500)
    cache.put("a", 2, 500)
    assert (cache.get("a"), cache.size, len(cache)) == (2, 500, 1)


def test_a_cached_decided_visitor_is_undecided_once_the_choice_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(accept_days=1)
    middleware = ConsentMiddleware(page_app, settings)
    cookie = consent_cookie(settings, {"analytics"}, "a")
    first = call(middleware, http_scope("/", headers=[cookie]))
    assert dict(first[0]["headers"])[b"x-decided"] == b"1"
    # The same header again, from the cache, just before and just after expiry.
    signed_at = time.time()
    expires_at = signed_at + 86400
    monkeypatch.setattr(time, "time", lambda: expires_at - 5)
    before = call(middleware, http_scope("/", headers=[cookie]))
    assert dict(before[0]["headers"])[b"x-decided"] == b"1"
    monkeypatch.setattr(time, "time", lambda: expires_at + 5)
    after = call(middleware, http_scope("/", headers=[cookie]))
    assert dict(after[0]["headers"])[b"x-decided"] == b"0"
    assert b"data-consent-banner" in body_of(after)


def test_the_bound_is_the_one_documented() -> None:
    figure = f"{MEMORY_BOUND / MIB:g} MiB"
    root = Path(__file__).parent.parent
    assert figure in (root / "README.md").read_text()
    assert figure in (root / "docs" / "operations.md").read_text()
