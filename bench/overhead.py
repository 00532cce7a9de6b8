"""What ConsentMiddleware costs per request, against bare Starlette and two common middlewares.

Run by hand, from the repository root, on a quiet machine:

    .venv/bin/python bench/overhead.py            # full run, about 5 minutes
    .venv/bin/python bench/overhead.py --quick    # a smoke run, under a minute

Three parts, each with its targets (PASS/FAIL printed; exit status 1 if one fails):

1. in-process: the apps of ``bench/apps.py`` are called directly (a scope dict, a
   ``receive`` that gives one ``http.request``, a ``send`` that counts bytes) in one
   asyncio loop, round-robin over the four stacks, every request timed on its own,
   so that no client cost is measured and every stack sees the same machine state;
2. streaming memory: 100 MiB of streamed HTML through the middleware, in a fresh
   child process per stack, measuring the growth of its peak RSS;
3. uvicorn + wrk: requests/s of two real servers on 127.0.0.1, bare and consent,
   interleaved (``apt-get install wrk`` if it is missing).

Narrow or widen a run with ``--parts inproc,memory,uvicorn``, ``--cases json/decided,...``,
``--stacks bare,consent``, ``--rounds``, ``--requests``, ``--wrk-duration`` and
``--wrk-repeats``; ``--profile`` prints where ConsentMiddleware spends its time (cProfile,
consent's own functions); ``--json FILE`` also writes every number to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import hashlib
import importlib.metadata
import json
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Message, Scope

# Run as a script (``python bench/overhead.py``): make ``bench.apps`` importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apps import (
    ARTICLE,
    STACKS,
    STREAM_CHUNK_BYTES,
    consent_app,
    consent_settings,
    session_cookie_value,
    streamed_page_chunks,
)

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
HOST = "localhost:8000"
STREAM_BYTES = 100 * 1024 * 1024
BANNER_MARK = b"data-consent-banner"
SETTINGS_MARK = b'data-consent-action="preferences"'
BODY_END = b"</body></html>"

# Targets, as the design asks of the middleware.
JSON_MAX_RATIO = 1.35
ARTICLE_BANNER_MAX_ADDED_US = 12.0
DECIDED_JSON_MAX_ADDED_US = 3.0
STREAM_MAX_GROWTH_MB = 10.0
WRK_MIN_RATIO = 0.9

BROWSER_HEADERS = [
    (b"host", HOST.encode("ascii")),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"),
]
# What Firefox sends after the common headers (and after Cookie) for each kind of request.
ACCEPT = {
    "json": b"application/json",
    "article": b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}
FETCH_METADATA = {
    # fetch() from the page's own script
    "json": [
        (b"sec-fetch-dest", b"empty"),
        (b"sec-fetch-mode", b"cors"),
        (b"sec-fetch-site", b"same-origin"),
        (b"priority", b"u=4"),
    ],
    # a link followed to the article
    "article": [
        (b"upgrade-insecure-requests", b"1"),
        (b"sec-fetch-dest", b"document"),
        (b"sec-fetch-mode", b"navigate"),
        (b"sec-fetch-site", b"same-origin"),
        (b"sec-fetch-user", b"?1"),
        (b"priority", b"u=0, i"),
    ],
}
PATHS = {"json": "/json", "article": "/article"}
CASES = (
    ("json", "undecided"),
    ("json", "decided"),
    ("article", "undecided"),
    ("article", "decided"),
)


# --- a minimal in-process ASGI server -------------------------------------------------


def http_scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b""
) -> Scope:
    """The scope uvicorn would build for this request."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 51000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": query,
        "headers": headers,
        "state": {},
    }


def fresh_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` as new objects, as a server makes them for each request.

    Reused objects would keep their hashes cached from one request to the next,
    which no request coming off a socket has.
    """
    return [(bytes(bytearray(name)), bytes(bytearray(value))) for name, value in headers]


async def call(
    app: ASGIApp,
    template: Scope,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, int]:
    """Runs one request through ``app``; its status and the number of body bytes.

    Like uvicorn, ``receive`` gives the request body once, then waits until the
    response is complete and reports a disconnect. The scope is copied because
    apps write into it; ``headers``, when given, replace the template's.
    """
    status = 0
    size = 0
    finished = False
    body_sent = False
    done: asyncio.Future[None] | None = None

    async def receive() -> Message:
        nonlocal body_sent, done
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if not finished:
            done = asyncio.get_running_loop().create_future()
            await done
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, size, finished
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                finished = True
                if done is not None and not done.done():
                    done.set_result(None)

    scope = dict(template)
    if headers is not None:
        scope["headers"] = headers
    await app(scope, receive, send)
    return status, size


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header_values(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key.lower() == name]


async def fetch(app: ASGIApp, template: Scope, body: bytes = b"") -> Response:
    """Runs one request and keeps the whole response, to check it."""
    messages: list[Message] = []
    finished = asyncio.Event()
    body_sent = False

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    await app(dict(template), receive, send)
    start = messages[0]
    return Response(
        status=start["status"],
        headers=list(start.get("headers", [])),
        body=b"".join(m.get("body", b"") for m in messages[1:]),
    )


# --- visitors ------------------------------------------------------------------------


async def decided_cookie_header() -> str:
    """``Cookie`` of a visitor who accepted everything once, and has a session."""
    headers = [
        *BROWSER_HEADERS,
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"origin", f"http://{HOST}".encode("ascii")),
    ]
    response = await fetch(
        consent_app, http_scope("POST", "/_consent", headers), b"action=accept_all&next=/"
    )
    cookie_name = consent_settings().cookie_name
    for value in response.header_values(b"set-cookie"):
        pair = value.split(b";", 1)[0].decode("latin-1")
        if pair.startswith(cookie_name + "="):
            return f"{pair}; session={session_cookie_value()}"
    raise RuntimeError(f"POST /_consent set no consent cookie: {response.status} {response}")


def request_headers(endpoint: str, cookie: str | None) -> list[tuple[bytes, bytes]]:
    """A browser's request headers, in a browser's order (12 or 13 of them)."""
    headers = [
        *BROWSER_HEADERS,
        (b"accept", ACCEPT[endpoint]),
        (b"accept-language", b"en-GB,en;q=0.5"),
        (b"accept-encoding", b"gzip, deflate, br, zstd"),
        (b"referer", f"http://{HOST}/".encode("ascii")),
        (b"connection", b"keep-alive"),
    ]
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return headers + FETCH_METADATA[endpoint]


# --- other processes' load ------------------------------------------------------------

BUSY_CORES = 0.1
"""CPU used by other processes during a measurement, in cores, above which it is suspect."""
PAIR_ATTEMPTS = 3
"""How many times a wrk pair (bare, consent) is run when another process disturbs it."""


def _busy_ticks() -> int:
    """Non-idle CPU ticks of the whole machine since boot."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4]  # less idle and iowait


def _process_ticks(pid: int | str, children: bool = False) -> int:
    """CPU ticks of a process (and of its waited-for children)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks


class OtherLoad:
    """Measures the CPU that processes other than the benchmark's use while a block runs.

    On a shared machine another job steals cycles from one stack's runs and not the
    other's; this tells such a measurement apart (``cores`` above ``BUSY_CORES``).
    """

    def __init__(self, pids: Sequence[int] = ()) -> None:
        self._pids = list(pids)
        self.cores = float("nan")
        self._start = (0, 0, 0.0)

    def _sample(self) -> tuple[int, int, float]:
        ours = _process_ticks("self", children=True)
        ours += sum(_process_ticks(pid) for pid in self._pids)
        return _busy_ticks(), ours, time.monotonic()

    def __enter__(self) -> OtherLoad:
        with suppress(OSError, ValueError, IndexError):
            self._start = self._sample()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with suppress(OSError, ValueError, IndexError):
            busy, ours, now = self._sample()
            other = (busy - self._start[0]) - (ours - self._start[1])
            ticks_per_second = os.sysconf("SC_CLK_TCK")
            self.cores = max(0.0, other / ticks_per_second / (now - self._start[2]))

    @property
    def busy(self) -> bool:
        return self.cores > BUSY_CORES


# --- part 1: in-process, interleaved -------------------------------------------------


@dataclass
class Timing:
    """Per-request times of one stack in one case, in nanoseconds."""

    samples: list[int] = field(default_factory=list)
    round_medians: list[float] = field(default_factory=list)
    paired_bare: list[int] = field(default_factory=list)
    """The bare request timed right before or after each sample (empty for bare)."""

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples) / 1000

    @property
    def p90_us(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, int(len(ordered) * 0.9 + 0.5) - 1)] / 1000


@dataclass
class Target:
    name: str
    measured: str
    limit: str
    passed: bool

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"


async def check_case(
    endpoint: str, visitor: str, template: Scope, stacks: dict[str, ASGIApp]
) -> None:
    """Every stack answers the case right, before anything is timed."""
    for name, app in stacks.items():
        response = await fetch(app, template)
        if response.status != 200:
            raise RuntimeError(f"{name} {endpoint}/{visitor}: status {response.status}")
        if endpoint == "json":
            if response.body != b'{"ok":true}':
                raise RuntimeError(f"{name} {endpoint}/{visitor}: body {response.body[:80]!r}")
            continue
        lengths = response.header_values(b"content-length")
        if lengths != [str(len(response.body)).encode()]:
            raise RuntimeError(f"{name} {endpoint}: Content-Length {lengths} is wrong")
        if not response.body.endswith(BODY_END):
            raise RuntimeError(f"{name} {endpoint}: the page lost its end")
        if name != "consent":
            if response.body != ARTICLE:
                raise RuntimeError(f"{name} {endpoint}: the page was changed")
            continue
        banners = response.body.count(BANNER_MARK)
        controls = response.body.count(SETTINGS_MARK)
        expected_banners = 1 if visitor == "undecided" else 0
        if banners != expected_banners or (visitor == "decided" and controls < 1):
            raise RuntimeError(
                f"consent {endpoint}/{visitor}: {banners} banner(s), {controls} control(s)"
            )
    if visitor == "decided":
        # A decided visitor must not be shown the banner nor lose the session cookie.
        response = await fetch(stacks["consent"], template)
        if response.header_values(b"set-cookie"):
            raise RuntimeError("consent expired a cookie of the decided visitor")


async def measure_case(
    template: Scope, stacks: dict[str, ASGIApp], rounds: int, requests: int, warmup: int
) -> dict[str, Timing]:
    """Each stack against bare, request by request: a bare request, then one of the stack.

    Every request gets its own header objects, as from a server. This machine's
    speed drifts within seconds; alternating one bare request with one
    of the stack exposes both to the same drift, and the median of the per-request
    differences (``added_us``) cancels most of it. Only two stacks alternate at a
    time, so that one stack's garbage and cache misses do not land on another's
    requests. The order of the stacks rotates from round to round.
    """
    names = list(stacks)
    others = [name for name in names if name != "bare"]
    headers = template["headers"]
    for name in names:
        for _ in range(warmup):
            await call(stacks[name], template)
    gc.collect()
    clock = time.perf_counter_ns
    bare_app = stacks["bare"]
    timings = {name: Timing() for name in names}
    bare = timings["bare"]
    for index in range(rounds):
        shift = index % len(others)
        for name in others[shift:] + others[:shift]:
            app, timing = stacks[name], timings[name]
            for _ in range(requests):
                bare_headers = fresh_headers(headers)
                stack_headers = fresh_headers(headers)
                start = clock()
                status, _ = await call(bare_app, template, headers=bare_headers)
                middle = clock()
                other_status, _ = await call(app, template, headers=stack_headers)
                end = clock()
                if status != 200 or other_status != 200:
                    raise RuntimeError(f"{name}: status {other_status} while timing")
                timing.paired_bare.append(middle - start)
                timing.samples.append(end - middle)
            timing.round_medians.append(statistics.median(timing.samples[-requests:]) / 1000)
            bare.samples.extend(timing.paired_bare[-requests:])
        bare.round_medians.append(statistics.median(bare.samples[-requests * len(others) :]) / 1000)
    return timings


def ratio_to_bare(stack: Timing, bare: Timing) -> float:
    """Median time of the stack over that of the bare requests it was paired with."""
    if stack is bare:
        return 1.0
    return statistics.median(stack.samples) / statistics.median(stack.paired_bare)


def added_us(stack: Timing, bare: Timing) -> float:
    """Median of the per-request differences to bare (the two timed back to back)."""
    if stack is bare:
        return 0.0
    pairs = zip(stack.samples, stack.paired_bare, strict=True)
    return statistics.median(s - b for s, b in pairs) / 1000


def case_targets(endpoint: str, visitor: str, bare: Timing, consent: Timing) -> list[Target]:
    ratio = ratio_to_bare(consent, bare)
    added = added_us(consent, bare)
    targets: list[Target] = []
    label = f"{endpoint}, {visitor}"
    if endpoint == "json":
        targets.append(
            Target(
                f"{label}: consent ÷ bare",
                f"{ratio:.2f}×",
                f"≤ {JSON_MAX_RATIO}×",
                ratio <= JSON_MAX_RATIO,
            )
        )
    if endpoint == "article" and visitor == "undecided":
        targets.append(
            Target(
                f"{label} (banner): µs added",
                f"{added:+.1f} µs",
                f"≤ {ARTICLE_BANNER_MAX_ADDED_US:g} µs",
                added <= ARTICLE_BANNER_MAX_ADDED_US,
            )
        )
    if endpoint == "json" and visitor == "decided":
        targets.append(
            Target(
                f"{label}: µs added",
                f"{added:+.1f} µs",
                f"≤ {DECIDED_JSON_MAX_ADDED_US:g} µs",
                added <= DECIDED_JSON_MAX_ADDED_US,
            )
        )
    return targets


async def in_process_part(
    stacks: dict[str, ASGIApp],
    cases: Sequence[tuple[str, str]],
    rounds: int,
    requests: int,
    warmup: int,
    results: dict[str, Any],
) -> list[Target]:
    cookie = await decided_cookie_header()
    print(f"decided visitor's Cookie header: {len(cookie)} bytes")
    print(
        f"{rounds} rounds × {requests} requests per stack and case, {warmup} warm-up requests; "
        "each stack alternates request by request with bare, and µs added is the median "
        "of the per-request differences"
    )
    print()
    targets: list[Target] = []
    summary: list[list[str]] = []
    references = [name for name in stacks if name not in ("bare", "consent")]
    for endpoint, visitor in cases:
        headers = request_headers(endpoint, cookie if visitor == "decided" else None)
        template = http_scope("GET", PATHS[endpoint], headers)
        await check_case(endpoint, visitor, template, stacks)
        with OtherLoad() as other:
            timings = await measure_case(template, stacks, rounds, requests, warmup)
        bare = timings["bare"]
        rows = []
        for name, timing in timings.items():
            spread = f"{min(timing.round_medians):.1f}–{max(timing.round_medians):.1f}"
            rows.append(
                [
                    name,
                    f"{timing.median_us:.1f}",
                    f"{timing.p90_us:.1f}",
                    spread,
                    f"{ratio_to_bare(timing, bare):.2f}×",
                    f"{added_us(timing, bare):+.1f}",
                ]
            )
        print(f"### {endpoint} ({len(ARTICLE) if endpoint == 'article' else 11} B), {visitor}")
        print()
        print(f"other processes used {other.cores:.2f} cores meanwhile", end="")
        print(": BUSY MACHINE, numbers inflated and noisy" if other.busy else "")
        print()
        columns = ["stack", "median µs", "p90 µs", "round medians µs", "× bare", "µs added"]
        print_table(columns, rows)
        consent = timings["consent"]
        summary.append(
            [
                f"{endpoint}, {visitor}",
                f"{statistics.median(consent.paired_bare) / 1000:.1f}",
                f"{consent.median_us:.1f}",
                f"{ratio_to_bare(consent, bare):.2f}×",
                f"{added_us(consent, bare):+.1f}",
                *(f"{added_us(timings[name], bare):+.1f}" for name in references),
                f"{other.cores:.2f}",
            ]
        )
        targets.extend(case_targets(endpoint, visitor, bare, consent))
        results[f"{endpoint}/{visitor}"] = {
            "other_cores": other.cores,
            **{
                name: {
                    "median_us": timing.median_us,
                    "p90_us": timing.p90_us,
                    "round_medians_us": timing.round_medians,
                    "added_us": added_us(timing, bare),
                }
                for name, timing in timings.items()
            },
        }
    print("### Summary: median µs per request (bare: the requests paired with consent's)")
    added = [f"{name} µs added" for name in references]
    columns = ["case", "bare", "consent", "consent × bare", "consent µs added", *added]
    print_table([*columns, "other CPU (cores)"], summary)
    return targets


# --- part 2: streaming memory, in a child process -------------------------------------


def memory_kb() -> dict[str, int]:
    """VmHWM (peak RSS) and VmRSS of this process, in kB."""
    values: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(value.split()[0])
    return values


def reset_peak_rss() -> bool:
    """Resets VmHWM to the current RSS (Linux 4.0+), so that the peak measures what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


class CountingSink:
    """Receives a response's messages and keeps only counts and a short tail."""

    def __init__(self) -> None:
        self.status = 0
        self.size = 0
        self.banners = 0
        self.tail = b""
        self.carry = b""
        self.chunks = 0

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            return
        body: bytes = message.get("body", b"")
        if not body:
            return
        self.chunks += 1
        # The marker may straddle two chunks: search the end of the previous one too.
        window = self.carry + body
        self.banners += window.count(BANNER_MARK)
        self.carry = window[1 - len(BANNER_MARK) :]
        self.size += len(body)
        self.tail = (self.tail + body)[-8192:] if len(body) < 8192 else body[-8192:]


async def stream_through(app: ASGIApp, total: int) -> CountingSink:
    # Same request-target length for every size, hence the same snippet length.
    template = http_scope(
        "GET", "/stream", request_headers("article", None), f"bytes={total:09d}".encode()
    )
    sink = CountingSink()
    finished = asyncio.Event()
    body_sent = False

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        await sink.send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    await app(dict(template), receive, send)
    return sink


async def fetch_stream(app: ASGIApp, total: int) -> bytes:
    template = http_scope(
        "GET", "/stream", request_headers("article", None), f"bytes={total:09d}".encode()
    )
    response = await fetch(app, template)
    return response.body


async def memory_child(stack: str, total: int) -> dict[str, Any]:
    """Streams ``total`` bytes through one stack; what the parent reports."""
    app = STACKS[stack]
    small = 4 * STREAM_CHUNK_BYTES
    # Builds the middleware stack and learns the snippet from a small page.
    first, middle, last = streamed_page_chunks(small)
    page = first + middle * 2 + last
    warm = await fetch_stream(app, small)
    cut = len(page) - len(BODY_END)
    snippet = warm[cut : len(warm) - len(BODY_END)] if stack == "consent" else b""
    if warm[:cut] != page[:cut] or not warm.endswith(BODY_END):
        raise RuntimeError(f"{stack}: the small streamed page came out wrong")
    expected_snippet = snippet.replace(f"{small:09d}".encode(), f"{total:09d}".encode())
    gc.collect()
    before = memory_kb()
    reset = reset_peak_rss()
    after_reset = memory_kb()
    started = time.perf_counter()
    sink = await stream_through(app, total)
    seconds = time.perf_counter() - started
    after = memory_kb()
    baseline = after_reset["VmRSS"] if reset else max(before["VmHWM"], before["VmRSS"])
    return {
        "stack": stack,
        "status": sink.status,
        "bytes": sink.size,
        "expected_bytes": total + len(expected_snippet),
        "snippet_bytes": len(expected_snippet),
        "banners": sink.banners,
        "snippet_before_end": sink.tail.endswith(expected_snippet + BODY_END),
        "chunks_out": sink.chunks,
        "rss_before_kb": before["VmRSS"],
        "peak_before_kb": before["VmHWM"],
        "peak_reset": reset,
        "peak_after_kb": after["VmHWM"],
        "rss_after_kb": after["VmRSS"],
        "growth_kb": after["VmHWM"] - baseline,
        "seconds": seconds,
    }


def memory_part(total: int, results: dict[str, Any]) -> list[Target]:
    rows = []
    targets: list[Target] = []
    found: dict[str, dict[str, Any]] = {}
    for stack in ("bare", "consent"):
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--memory-child",
            stack,
            "--stream-bytes",
            str(total),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"memory child {stack} failed:\n{done.stderr}")
        data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        found[stack] = data
        rows.append(
            [
                stack,
                f"{data['bytes']:,}",
                str(data["banners"]),
                f"{data['rss_before_kb'] / 1024:.1f}",
                f"{data['peak_after_kb'] / 1024:.1f}",
                f"{data['growth_kb'] / 1024:.2f}",
                f"{total / 2**20 / data['seconds']:.0f}",
            ]
        )
    results["memory"] = found
    mib = total / 2**20
    print(
        f"StreamingResponse of {mib:g} MiB ({STREAM_CHUNK_BYTES // 1024} KiB chunks), "
        "undecided visitor, one child process per stack"
    )
    print_table(
        [
            "stack",
            "bytes out",
            "banners",
            "RSS before MiB",
            "peak after MiB",
            "peak growth MiB",
            "MiB/s",
        ],
        rows,
    )
    consent = found["consent"]
    growth_mb = consent["growth_kb"] / 1024
    print(
        f"snippet: {consent['snippet_bytes']} bytes; "
        f"peak reset through /proc/self/clear_refs: {consent['peak_reset']}"
    )
    targets.append(
        Target(
            "stream: peak RSS growth",
            f"{growth_mb:.2f} MiB",
            f"≤ {STREAM_MAX_GROWTH_MB:g} MB",
            growth_mb <= STREAM_MAX_GROWTH_MB,
        )
    )
    targets.append(
        Target(
            "stream: banner injected once, before </body></html>",
            f"{consent['banners']} banner(s), at the end: {consent['snippet_before_end']}",
            "1, True",
            consent["banners"] == 1 and consent["snippet_before_end"],
        )
    )
    targets.append(
        Target(
            "stream: bytes = body + snippet",
            f"{consent['bytes']:,}",
            f"= {consent['expected_bytes']:,}",
            consent["bytes"] == consent["expected_bytes"] and found["bare"]["bytes"] == total,
        )
    )
    return targets


# --- part 3: uvicorn + wrk -------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def uvicorn_command(app: str, port: int) -> list[str]:
    """The command of one uvicorn worker serving ``bench.apps:{app}`` on 127.0.0.1."""
    return [
        sys.executable, "-m", "uvicorn", f"bench.apps:{app}",
        "--app-dir", str(ROOT),
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


@contextmanager
def uvicorn_servers(
    names: Sequence[str], timeout: float = 30.0
) -> Iterator[dict[str, tuple[int, int]]]:
    """One uvicorn per app of ``bench/apps.py`` on 127.0.0.1: name -> (port, pid).

    The servers are ended on the way out, whatever happens.
    """
    processes: list[subprocess.Popen[bytes]] = []
    ports: dict[str, int] = {}
    try:
        for name in names:
            port = free_port()
            command = uvicorn_command(name, port)
            processes.append(subprocess.Popen(command, cwd=ROOT, start_new_session=True))
            ports[name] = port
        deadline = time.monotonic() + timeout
        for name, port in ports.items():
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise RuntimeError(f"uvicorn for {name} did not start on port {port}")
                time.sleep(0.1)
        yield {
            name: (port, process.pid)
            for (name, port), process in zip(ports.items(), processes, strict=True)
        }
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def http_get(port: int, path: str, cookie: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if cookie:
        request.add_header("Cookie", cookie)
    with urllib.request.urlopen(request, timeout=10) as response:
        status: int = response.status
        return status, response.read()


@dataclass
class WrkRun:
    requests_per_second: float
    latency_p50_ms: float
    latency_p90_ms: float
    errors: int
    other_cores: float = float("nan")


def parse_duration_ms(text: str) -> float:
    """A wrk duration (``812.00us``, ``1.20ms``, ``2.01s``) in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise RuntimeError(f"cannot read the wrk duration {text!r}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[found.group(2)]
    return float(found.group(1)) * scale


def run_wrk(
    wrk: str, url: str, cookie: str | None, threads: int, connections: int, duration: int
) -> WrkRun:
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "--latency",
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    out = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p90 = re.search(r"^\s+90%\s+(\S+)", out, re.MULTILINE)
    if not (rate and p50 and p90):
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return WrkRun(
        requests_per_second=float(rate.group(1)),
        latency_p50_ms=parse_duration_ms(p50.group(1)),
        latency_p90_ms=parse_duration_ms(p90.group(1)),
        errors=errors,
    )


def wrk_part(
    cases: Sequence[tuple[str, str]],
    cookie: str,
    duration: int,
    threads: int,
    connections: int,
    repeats: int,
    results: dict[str, Any],
) -> list[Target]:
    wrk = shutil.which("wrk") or ("/usr/bin/wrk" if os.path.exists("/usr/bin/wrk") else None)
    if wrk is None:
        print("wrk is not installed: apt-get install wrk   (Debian/Ubuntu; part skipped)")
        return [Target("uvicorn + wrk", "wrk missing", "apt-get install wrk", False)]
    print(
        f"wrk -t{threads} -c{connections} -d{duration}s, {repeats} runs per stack and case, "
        f"bare and consent interleaved; a pair disturbed by another process (over "
        f"{BUSY_CORES} cores) is run again, up to {PAIR_ATTEMPTS} times"
    )
    runs: dict[tuple[str, str, str], list[WrkRun]] = {}
    with uvicorn_servers(["bare_app", "consent_app"]) as servers:
        ports = {name: port for name, (port, _) in servers.items()}
        pids = [pid for _, pid in servers.values()]
        # Check through HTTP that each server answers as the in-process part expects.
        for endpoint, visitor in cases:
            for app_name, port in ports.items():
                status, body = http_get(
                    port, PATHS[endpoint], cookie if visitor == "decided" else None
                )
                banner = BANNER_MARK in body
                if status != 200 or banner != (
                    app_name == "consent_app" and endpoint == "article" and visitor == "undecided"
                ):
                    raise RuntimeError(
                        f"{app_name} {endpoint}/{visitor} over HTTP: {status}, banner {banner}"
                    )
        for repeat in range(repeats):
            for endpoint, visitor in cases:
                order = ["bare_app", "consent_app"]
                if repeat % 2:
                    order.reverse()
                # A pair disturbed by another process is run again, at most PAIR_ATTEMPTS times.
                for attempt in range(1, PAIR_ATTEMPTS + 1):
                    pair: dict[str, WrkRun] = {}
                    for app_name in order:
                        url = f"http://127.0.0.1:{ports[app_name]}{PATHS[endpoint]}"
                        with OtherLoad(pids) as other:
                            run = run_wrk(
                                wrk,
                                url,
                                cookie if visitor == "decided" else None,
                                threads,
                                connections,
                                duration,
                            )
                        run.other_cores = other.cores
                        pair[app_name] = run
                        print(
                            f"  {endpoint:7} {visitor:9} {app_name:11} "
                            f"{run.requests_per_second:9.0f} req/s  "
                            f"p50 {run.latency_p50_ms:.2f} ms  errors {run.errors}  "
                            f"other CPU {other.cores:.2f} cores" + ("  BUSY" if other.busy else "")
                        )
                    busy = any(r.other_cores > BUSY_CORES for r in pair.values())
                    if not busy or attempt == PAIR_ATTEMPTS:
                        break
                    print("  (pair disturbed by another process: run again)")
                    time.sleep(2)
                for app_name, run in pair.items():
                    runs.setdefault((endpoint, visitor, app_name), []).append(run)
    print()
    rows = []
    targets: list[Target] = []
    for endpoint, visitor in cases:
        bare = runs[(endpoint, visitor, "bare_app")]
        consent = runs[(endpoint, visitor, "consent_app")]
        errors = sum(r.errors for r in bare + consent)
        # The two runs of a repeat are back to back. A pair during which another
        # process took CPU is left out, unless every pair was disturbed.
        pairs = list(zip(bare, consent, strict=True))
        quiet = [
            (b, c)
            for b, c in pairs
            if not (b.other_cores > BUSY_CORES or c.other_cores > BUSY_CORES)
        ]
        used = quiet or pairs
        bare_rate = statistics.mean(b.requests_per_second for b, _ in used)
        consent_rate = statistics.mean(c.requests_per_second for _, c in used)
        pair_ratios = [c.requests_per_second / b.requests_per_second for b, c in used]
        # The machine's speed changes between runs more than within a pair: the median
        # of the ratios of back-to-back runs is the figure that drift moves least.
        ratio = statistics.median(pair_ratios)
        rows.append(
            [
                f"{endpoint}, {visitor}",
                f"{bare_rate:,.0f}",
                f"{consent_rate:,.0f}",
                f"{ratio:.3f}",
                f"{min(pair_ratios):.2f}–{max(pair_ratios):.2f}",
                f"{len(quiet)} of {len(pairs)}",
                f"{statistics.mean(b.latency_p50_ms for b, _ in used):.2f} / "
                f"{statistics.mean(c.latency_p50_ms for _, c in used):.2f}",
                str(errors),
            ]
        )
        targets.append(
            Target(
                f"uvicorn {endpoint}, {visitor}: consent ÷ bare req/s",
                f"{ratio:.3f}×" + ("" if quiet else " (busy machine)"),
                f"≥ {WRK_MIN_RATIO}×",
                ratio >= WRK_MIN_RATIO and errors == 0,
            )
        )
        results[f"wrk/{endpoint}/{visitor}"] = {
            "bare": [asdict(r) for r in bare],
            "consent": [asdict(r) for r in consent],
        }
    print_table(
        [
            "case",
            "bare req/s",
            "consent req/s",
            "consent ÷ bare (median of pairs)",
            "per pair",
            "quiet pairs",
            "p50 ms bare / consent",
            "errors",
        ],
        rows,
    )
    return targets


# --- profile ------------------------------------------------------------------------


async def profile_part(cases: Sequence[tuple[str, str]], requests: int) -> None:
    """cProfile of the consent stack per case, limited to consent/ and the top entries."""
    cookie = await decided_cookie_header()
    for endpoint, visitor in cases:
        template = http_scope(
            "GET",
            PATHS[endpoint],
            request_headers(endpoint, cookie if visitor == "decided" else None),
        )
        for _ in range(500):
            await call(consent_app, template)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            await call(consent_app, template)
        profiler.disable()
        print(f"### consent, {endpoint}, {visitor}: {requests} requests")
        stats = pstats.Stats(profiler)
        # Only consent's own functions: Starlette's cost is the same with and without it.
        stats.sort_stats("tottime").print_stats(r"consent[/\\]", 15)
        stats.print_callees(r"middleware.py:\d+\(read_visitor\)|\(_start\)|\(_first_body\)")


# --- report ---------------------------------------------------------------------------


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A Markdown table, columns aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print()


def machine_description() -> dict[str, str]:
    cpu = "unknown"
    with suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with suppress(OSError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    wrk = shutil.which("wrk")
    wrk_version = "not installed"
    if wrk:
        with suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=5)
            wrk_version = (out.stdout or out.stderr).split("Copyright")[0].strip()
    sources = hashlib.sha256()
    for path in sorted((ROOT / "consent").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            sources.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    commit = "none"
    with suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        )
        commit = head.stdout.strip() if head.returncode == 0 else "none yet"
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "consent"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if status.stdout.strip():
            changed = len(status.stdout.strip().splitlines())
            commit += f" + uncommitted changes to {changed} file(s) in consent/"
    return {
        "consent": f"commit {commit}, sources sha256 {sources.hexdigest()[:12]}",
        "CPU": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "RAM": memory,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "starlette": version("starlette"),
        "uvicorn": (
            f"{version('uvicorn')} (uvloop {version('uvloop')}, httptools {version('httptools')})"
        ),
        "itsdangerous": version("itsdangerous"),
        "wrk": wrk_version,
        "load average at start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--parts",
        default="inproc,memory,uvicorn",
        help="comma-separated: inproc, memory, uvicorn (default: all three)",
    )
    parser.add_argument(
        "--stacks",
        default=",".join(STACKS),
        help="in-process stacks, comma-separated; bare and consent are required (default: all)",
    )
    parser.add_argument(
        "--cases",
        help="comma-separated among json/undecided, json/decided, article/undecided, "
        "article/decided (default: all)",
    )
    parser.add_argument("--rounds", type=int, help="in-process rounds (default 20, quick 3)")
    parser.add_argument(
        "--requests", type=int, help="requests per stack and round (default 2000, quick 300)"
    )
    parser.add_argument("--wrk-duration", type=int, help="seconds per wrk run (default 2)")
    parser.add_argument("--wrk-connections", type=int, default=32)
    parser.add_argument(
        "--wrk-repeats", type=int, help="wrk runs per stack and case (default 10, quick 2)"
    )
    parser.add_argument(
        "--wrk-threads", type=int, help="default 2, or 1 on a machine of 2 cores or fewer"
    )
    parser.add_argument("--stream-bytes", type=int, default=STREAM_BYTES, help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the consent stack, then stop"
    )
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--memory-child", choices=["bare", "consent"], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    stack_names = args.stacks.split(",")
    if not {"bare", "consent"} <= set(stack_names) <= set(STACKS):
        print(f"--stacks: choose among {', '.join(STACKS)}, with bare and consent", file=sys.stderr)
        return 2
    known = {f"{endpoint}/{visitor}": (endpoint, visitor) for endpoint, visitor in CASES}
    wanted = args.cases.split(",") if args.cases else list(known)
    if not set(wanted) <= set(known):
        print(f"--cases: choose among {', '.join(known)}", file=sys.stderr)
        return 2
    cases = [known[name] for name in wanted]
    if args.memory_child:
        print(json.dumps(asyncio.run(memory_child(args.memory_child, args.stream_bytes))))
        return 0
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    # Even when started in the background (where SIGINT is ignored), Ctrl+C stops the servers.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.profile:
        asyncio.run(profile_part(cases, args.requests or 5000))
        return 0
    rounds = args.rounds or (3 if args.quick else 20)
    requests = args.requests or (300 if args.quick else 2000)
    warmup = 100 if args.quick else 1000
    # Four short runs interleaved rather than two long ones: this machine's speed drifts
    # over tens of seconds, and more alternations average the drift out.
    duration = args.wrk_duration or 2
    repeats = args.wrk_repeats or (2 if args.quick else 10)
    threads = args.wrk_threads or (1 if (os.cpu_count() or 1) <= 2 else 2)
    parts = {part.strip() for part in args.parts.split(",")}

    machine = machine_description()
    if os.getloadavg()[0] > 0.5:
        print(
            "warning: the machine is busy (1-minute load above 0.5); "
            "the numbers will be slower and noisier than on a quiet machine",
            file=sys.stderr,
        )
    print("# consent overhead benchmark")
    print()
    for key, value in machine.items():
        print(f"- {key}: {value}")
    print(f"- command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print()
    results: dict[str, Any] = {"machine": machine, "argv": sys.argv}
    targets: list[Target] = []
    started = time.monotonic()
    try:
        if "inproc" in parts:
            print("## 1. In-process ASGI calls, interleaved")
            print()
            gc.collect()
            gc.freeze()
            stacks: dict[str, ASGIApp] = {name: STACKS[name] for name in stack_names}
            cpu, wall = time.process_time(), time.perf_counter()
            targets += asyncio.run(
                in_process_part(stacks, cases, rounds, requests, warmup, results)
            )
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            results["inproc_cpu_over_wall"] = cpu / wall
            print(
                f"CPU time / wall time of this part: {cpu / wall:.3f} "
                "(below 0.95: the process was not on a core of its own; do not trust the µs)"
            )
            print()
        if "memory" in parts:
            print("## 2. Streaming memory")
            print()
            total = 8 * 1024 * 1024 if args.quick else args.stream_bytes
            targets += memory_part(total, results)
            print()
        if "uvicorn" in parts:
            print("## 3. uvicorn + wrk")
            print()
            cookie = asyncio.run(decided_cookie_header())
            targets += wrk_part(
                cases, cookie, duration, threads, args.wrk_connections, repeats, results
            )
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        return 130
    print("## Targets")
    print()
    print_table(
        ["target", "measured", "limit", "verdict"],
        [[t.name, t.measured, t.limit, t.verdict] for t in targets],
    )
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"total time: {time.monotonic() - started:.0f} s; load average at the end: {load}")
    results["targets"] = [asdict(t) | {"verdict": t.verdict} for t in targets]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(t.passed for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
