"""Part 1: the stacks called in-process, each paired with bare, request by request.

The apps are called directly in one asyncio loop (``tests/asgi.py``: a scope, a
``receive`` that gives one ``http.request``, a sink that counts bytes), so that
no client cost is measured, and every request is timed on its own.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Scope

from bench.apps import ARTICLE
from bench.overhead.cases import JSON_BODY, case_template, check_case, decided_cookie_header
from bench.overhead.load import OtherLoad
from bench.overhead.report import Target, print_table
from tests.asgi import CountingSink, fresh_headers, serve

# Targets, as the design asks of the middleware.
JSON_MAX_RATIO = 1.35
ARTICLE_BANNER_MAX_ADDED_US = 12.0
DECIDED_JSON_MAX_ADDED_US = 3.0


@dataclass
class Timing:
    """Per-request times of one stack in one case, in nanoseconds."""

    samples: list[int] = field(default_factory=list)
    round_medians: list[float] = field(default_factory=list)
    paired_bare: list[int] = field(default_factory=list)
    """The bare request timed right before each sample (empty for bare)."""

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples) / 1000

    @property
    def p90_us(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, int(len(ordered) * 0.9 + 0.5) - 1)] / 1000


async def measure_case(
    template: Scope, stacks: Mapping[str, ASGIApp], rounds: int, requests: int, warmup: int
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
            await serve(stacks[name], template, CountingSink())
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
                bare_sink = CountingSink()
                stack_sink = CountingSink()
                start = clock()
                await serve(bare_app, template, bare_sink, headers=bare_headers)
                middle = clock()
                await serve(app, template, stack_sink, headers=stack_headers)
                end = clock()
                if bare_sink.status != 200 or stack_sink.status != 200:
                    raise RuntimeError(f"{name}: status {stack_sink.status} while timing")
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
    """The targets of one case: the ratio on JSON, µs added on the banner and decided JSON."""
    ratio = ratio_to_bare(consent, bare)
    added = added_us(consent, bare)
    label = f"{endpoint}, {visitor}"
    targets: list[Target] = []
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
    stacks: Mapping[str, ASGIApp],
    cases: Sequence[tuple[str, str]],
    rounds: int,
    requests: int,
    warmup: int,
    results: dict[str, Any],
) -> list[Target]:
    """Checks, times and reports every case; the targets, and the numbers in ``results``."""
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
        template = case_template(endpoint, visitor, cookie)
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
        size = len(ARTICLE) if endpoint == "article" else len(JSON_BODY)
        print(f"### {endpoint} ({size} B), {visitor}")
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
