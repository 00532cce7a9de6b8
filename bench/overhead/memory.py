"""Part 2: 100 MiB of streamed HTML through a stack, in a fresh child process per stack.

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
from bench.overhead.cases import BANNER_MARK, BODY_END, fetch, request_headers
from bench.overhead.report import Target, print_table
from tests.asgi import CountingSink, body_of, http_scope, serve

ROOT = Path(__file__).resolve().parents[2]
STREAM_BYTES = 100 * 1024 * 1024
STREAM_MAX_GROWTH_MB = 10.0


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


def stream_template(total: int) -> Scope:
    """An undecided visitor asking for a streamed page of ``total`` bytes."""
    # Same request-target length for every size, hence the same snippet length.
    query = f"bytes={total:09d}".encode()
    return http_scope("/stream", headers=request_headers("article", None), query=query, host=None)


async def memory_child(stack: str, total: int) -> dict[str, Any]:
    """Streams ``total`` bytes through one stack; what the parent reports."""
    app: ASGIApp = STACKS[stack]
    small = 4 * STREAM_CHUNK_BYTES
    # Builds the middleware stack and learns the snippet from a small page.
    first, middle, last = streamed_page_chunks(small)
    page = first + middle * 2 + last
    warm = body_of(await fetch(app, stream_template(small)))
    cut = len(page) - len(BODY_END)
    snippet = warm[cut : len(warm) - len(BODY_END)] if stack == "consent" else b""
    if warm[:cut] != page[:cut] or not warm.endswith(BODY_END):
        raise RuntimeError(f"{stack}: the small streamed page came out wrong")
    expected_snippet = snippet.replace(f"{small:09d}".encode(), f"{total:09d}".encode())
    template = stream_template(total)
    sink = CountingSink(marker=BANNER_MARK, tail_bytes=8192)
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
        "consent": consent.__file__,
        "status": sink.status,
        "bytes": sink.size,
        "expected_bytes": total + len(expected_snippet),
        "snippet_bytes": len(expected_snippet),
        "banners": sink.markers,
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


def run_child(stack: str, total: int) -> dict[str, Any]:
    """``memory_child`` in a fresh process (``python -m bench.overhead --memory-child``)."""
    command = [
        sys.executable, "-m", "bench.overhead",
        "--memory-child", stack, "--stream-bytes", str(total),
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
    for stack in ("bare", "consent"):
        data = found[stack] = run_child(stack, total)
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
    print(
        f"StreamingResponse of {total / 2**20:g} MiB ({STREAM_CHUNK_BYTES // 1024} KiB chunks), "
        "undecided visitor, one child process per stack"
    )
    columns = ["stack", "bytes out", "banners", "RSS before MiB", "peak after MiB"]
    print_table([*columns, "peak growth MiB", "MiB/s"], rows)
    consent = found["consent"]
    growth_mb = consent["growth_kb"] / 1024
    print(
        f"snippet: {consent['snippet_bytes']} bytes; "
        f"peak reset through /proc/self/clear_refs: {consent['peak_reset']}"
    )
    return [
        Target(
            "stream: peak RSS growth",
            f"{growth_mb:.2f} MiB",
            f"≤ {STREAM_MAX_GROWTH_MB:g} MB",
            growth_mb <= STREAM_MAX_GROWTH_MB,
        ),
        Target(
            "stream: banner injected once, before </body></html>",
            f"{consent['banners']} banner(s), at the end: {consent['snippet_before_end']}",
            "1, True",
            consent["banners"] == 1 and consent["snippet_before_end"],
        ),
        Target(
            "stream: bytes = body + snippet",
            f"{consent['bytes']:,}",
            f"= {consent['expected_bytes']:,}",
            consent["bytes"] == consent["expected_bytes"] and found["bare"]["bytes"] == total,
        ),
    ]
