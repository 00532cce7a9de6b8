"""Part 3: two real uvicorn servers on 127.0.0.1, bare and consent, and wrk pairs against them.

Requests/s of the two servers, interleaved: bare and consent back to back for
every case, the order flipped every repeat (``apt-get install wrk`` if wrk is
missing). ``bench/instructions.py`` starts its servers with ``uvicorn_command`` too.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import consent
from bench.overhead.cases import BANNER_MARK, PATHS
from bench.overhead.load import BUSY_CORES, PAIR_ATTEMPTS, OtherLoad
from bench.overhead.report import Target, print_table
from bench.overhead.wrk import WrkRun, run_wrk

ROOT = Path(__file__).resolve().parents[2]
WRK_MIN_RATIO = 0.9


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
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
    """Status and body of one GET to a server on 127.0.0.1."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if cookie:
        request.add_header("Cookie", cookie)
    with urllib.request.urlopen(request, timeout=10) as response:
        status: int = response.status
        return status, response.read()


def check_servers(ports: dict[str, int], cases: Sequence[tuple[str, str]], cookie: str) -> None:
    """Each server runs the ``consent`` this process imported, and answers every case right."""
    for app_name, port in ports.items():
        _, body = http_get(port, "/checkout", None)
        # The servers find consent as this process did (bench/__init__.py); make sure of it.
        if body.decode() != consent.__file__:
            raise RuntimeError(f"{app_name} runs {body!r}, not {consent.__file__}")
    for endpoint, visitor in cases:
        for app_name, port in ports.items():
            status, body = http_get(port, PATHS[endpoint], cookie if visitor == "decided" else None)
            banner = BANNER_MARK in body
            expected = (
                app_name == "consent_app" and endpoint == "article" and visitor == "undecided"
            )
            if status != 200 or banner != expected:
                raise RuntimeError(
                    f"{app_name} {endpoint}/{visitor} over HTTP: {status}, banner {banner}"
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
    """wrk pairs for every case, checked over HTTP first; the targets, numbers in ``results``."""
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
        check_servers(ports, cases, cookie)
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
    return report_pairs(cases, runs, results)


def report_pairs(
    cases: Sequence[tuple[str, str]],
    runs: dict[tuple[str, str, str], list[WrkRun]],
    results: dict[str, Any],
) -> list[Target]:
    """The table of the wrk pairs per case, and the targets; the numbers go in ``results``."""
    rows = []
    targets: list[Target] = []
    for endpoint, visitor in cases:
        bare = runs[(endpoint, visitor, "bare_app")]
        with_consent = runs[(endpoint, visitor, "consent_app")]
        errors = sum(r.errors for r in bare + with_consent)
        # The two runs of a repeat are back to back. A pair during which another
        # process took CPU is left out, unless every pair was disturbed.
        pairs = list(zip(bare, with_consent, strict=True))
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
            "consent": [asdict(r) for r in with_consent],
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
