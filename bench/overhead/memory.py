"""Part 2: 100 MiB of streamed HTML through a stack, in a fresh child process per stack:
bare, then consent for an undecided visitor (the banner where the body starts, the
stylesheet before ``</body>``) and for a decided one (gated tags made live, the
"Cookie settings" control before ``</body>``).

The child measures the growth of its own peak RSS (``VmHWM``, reset just before
through ``/proc/self/clear_refs``) while the response goes into a sink that keeps
only counts, and prints one JSON line for the parent.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Scope

import consent
from bench.apps import STACKS, STREAM_CHUNK_BYTES, streamed_page_chunks
from bench.overhead.cases import BODY_END, decided_cookie_header, fetch, request_headers
from bench.overhead.report import Target, print_table
from tests.asgi import CountingSink, body_of, http_scope, serve

ROOT = Path(__file__).resolve().parents[2]
STREAM_BYTES = 100 * 1024 * 1024
STREAM_MAX_GROWTH_MB = 10.0
STREAM_MIN_THROUGHPUT = 0.8
"""The undecided visitor's stream, as a share of bare throughput."""
ROOT_MARK = b"data-consent-root"
"""Once in every page the middleware rewrites: the root of the banner or settings control."""
VISITORS = ("undecided", "decided")
RUNS = (("bare", "undecided"), ("consent", "undecided"), ("consent", "decided"))


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


def stream_template(total: int, cookie: str | None) -> Scope:
    """A visitor asking for a streamed page of ``total`` bytes."""
    # Same request-target length for every size, hence the same snippet length.
    query = f"bytes={total:09d}".encode()
    headers = request_headers("article", cookie)
    return http_scope("/stream", headers=headers, query=query, host=None)


async def memory_child(stack: str, total: int, visitor: str = "undecided") -> dict[str, Any]:
    """Streams ``total`` bytes through one stack to one visitor; what the parent reports."""
    app: ASGIApp = STACKS[stack]
    cookie = await decided_cookie_header() if visitor == "decided" else None
    small = 4 * STREAM_CHUNK_BYTES
    # Builds the middleware stack and learns what it adds from a small page: the
    # snippets and live tags are the same for every length (only the first and
    # last chunks hold any).
    first, middle, last = streamed_page_chunks(small)
    page = first + middle * 2 + last
    warm = body_of(await fetch(app, stream_template(small, cookie)))
    added = len(warm) - len(page)
    roots = warm.count(ROOT_MARK)
    if not warm.endswith(BODY_END) or roots != (stack == "consent") or added < 0:
        raise RuntimeError(f"{stack}: the small streamed page came out wrong")
    template = stream_template(total, cookie)
    sink = CountingSink(marker=ROOT_MARK, tail_bytes=8192)
    gc.collect()
    before = memory_kb()
    reset = reset_peak_rss()
    after_reset = memory_kb()
    started = time.perf_counter()
    await serve(app, template, sink)
    seconds = time.perf_counter() - started
    after = memory_kb()
    baseline = after_reset["VmRSS"] if reset else max(before["VmHWM"], before["VmRSS"])
    return {
        "stack": stack,
        "visitor": visitor,
        "consent": consent.__file__,
        "status": sink.status,
        "bytes": sink.size,
        "expected_bytes": total + added,
        "added_bytes": added,
        "roots": sink.markers,
        "ends_right": sink.tail.endswith(BODY_END),
        "chunks_out": sink.chunks,
        "rss_before_kb": before["VmRSS"],
        "peak_before_kb": before["VmHWM"],
        "peak_reset": reset,
        "peak_after_kb": after["VmHWM"],
        "rss_after_kb": after["VmRSS"],
        "growth_kb": after["VmHWM"] - baseline,
        "seconds": seconds,
    }


def run_child(stack: str, total: int, visitor: str) -> dict[str, Any]:
    """``memory_child`` in a fresh process (``python -m bench.overhead --memory-child``)."""
    command = [
        sys.executable, "-m", "bench.overhead",
        "--memory-child", f"{stack}/{visitor}", "--stream-bytes", str(total),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {stack} failed:\n{done.stderr}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # The child finds consent as this process did (bench/__init__.py); make sure of it.
    if data["consent"] != consent.__file__:
        measured = data["consent"]
        raise RuntimeError(f"memory child {stack} measured {measured}, not {consent.__file__}")
    return data


def memory_part(total: int, results: dict[str, Any]) -> list[Target]:
    """Streams ``total`` bytes through bare and consent; the targets, numbers in ``results``."""
    rows = []
    found: dict[str, dict[str, Any]] = {}
    for stack, visitor in RUNS:
        data = found[f"{stack}/{visitor}"] = run_child(stack, total, visitor)
        rows.append(
            [
                stack if stack == "bare" else f"{stack}, {visitor}",
                f"{data['bytes']:,}",
                str(data["roots"]),
                f"{data['rss_before_kb'] / 1024:.1f}",
                f"{data['peak_after_kb'] / 1024:.1f}",
                f"{data['growth_kb'] / 1024:.2f}",
                f"{total / 2**20 / data['seconds']:.0f}",
                f"{found['bare/undecided']['seconds'] / data['seconds']:.2f}",
            ]
        )
    results["memory"] = found
    print(
        f"StreamingResponse of {total / 2**20:g} MiB ({STREAM_CHUNK_BYTES // 1024} KiB chunks), "
        "one child process per row"
    )
    columns = ["stack", "bytes out", "banner roots", "RSS before MiB", "peak after MiB"]
    print_table([*columns, "peak growth MiB", "MiB/s", "÷ bare"], rows)
    targets = []
    for visitor in ("undecided", "decided"):
        data = found[f"consent/{visitor}"]
        growth_mb = data["growth_kb"] / 1024
        targets += [
            Target(
                f"stream, {visitor}: peak RSS growth",
                f"{growth_mb:.2f} MiB",
                f"≤ {STREAM_MAX_GROWTH_MB:g} MB",
                growth_mb <= STREAM_MAX_GROWTH_MB,
            ),
            Target(
                f"stream, {visitor}: snippets once, page ends as it did",
                f"{data['roots']} root(s), ends right: {data['ends_right']}",
                "1, True",
                data["roots"] == 1 and data["ends_right"],
            ),
            Target(
                f"stream, {visitor}: bytes = body + what the small page gained",
                f"{data['bytes']:,}",
                f"= {data['expected_bytes']:,}",
                data["bytes"] == data["expected_bytes"],
            ),
        ]
    share = found["bare/undecided"]["seconds"] / found["consent/undecided"]["seconds"]
    targets.append(
        Target(
            "stream, undecided: throughput ÷ bare",
            f"{share:.2f}",
            f"≥ {STREAM_MIN_THROUGHPUT:g}",
            share >= STREAM_MIN_THROUGHPUT,
        )
    )
    return targets
