"""``python -m bench.overhead``: the options, and the parts run in order."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from starlette.types import ASGIApp

import bench.overhead
from bench.apps import STACKS
from bench.overhead.cases import CASES, decided_cookie_header
from bench.overhead.inprocess import in_process_part
from bench.overhead.memory import STREAM_BYTES, VISITORS, memory_child, memory_part
from bench.overhead.profile import profile_part
from bench.overhead.report import Target, command_line, machine_description, print_table
from bench.overhead.uvicorn import wrk_part

QUICK_STREAM_BYTES = 8 * 1024 * 1024


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, with the defaults that ``main`` fills in left as None."""
    summary = (bench.overhead.__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=summary)
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
    children = [f"{stack}/{visitor}" for stack in ("bare", "consent") for visitor in VISITORS]
    parser.add_argument("--memory-child", choices=children, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Ends a run stopped by SIGTERM as Ctrl+C does, so that the servers are stopped."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the parts asked for; 0 when every target passes, 1 when one fails, 2 on bad options."""
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
        stack, _, visitor = args.memory_child.partition("/")
        child = memory_child(stack, args.stream_bytes, visitor)
        print(json.dumps(asyncio.run(child)))
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
    print(f"- command: {command_line(sys.argv[1:] if argv is None else argv)}")
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
            total = QUICK_STREAM_BYTES if args.quick else args.stream_bytes
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
