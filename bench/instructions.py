"""Instructions per request of a whole uvicorn server, bare and with ConsentMiddleware.

Run by hand, from the repository root (``apt-get install valgrind`` if it is missing):

    .venv/bin/python bench/instructions.py                      # the four cases
    .venv/bin/python bench/instructions.py --cases article/decided

Wall-clock time on a shared two-core machine cannot tell a few µs apart; an
instruction count can, and it does not drift with the machine. Each server
(``bench.apps:bare_app`` or ``bench.apps:consent_app``, one uvicorn process, h11)
runs under ``valgrind --tool=callgrind`` with ``PYTHONHASHSEED=0``; it is sent
``--warm-up`` keep-alive requests, its counters are zeroed, it is sent
``--requests`` more and its counters are dumped. What is counted is every
user-space instruction of the server for those requests (h11, asyncio,
Starlette, the middleware), not the kernel's socket work and not the client's.
Valgrind counts a copy's string instructions one by one, so a 54 KB copy that
takes ~1.3 µs weighs ~52,000 instructions here. Not a target: a measure for
choosing between two versions of the request path.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.overhead.cases import decided_cookie_header  # noqa: E402
from bench.overhead.uvicorn import free_port, uvicorn_command  # noqa: E402

CASES = ("json/undecided", "json/decided", "article/undecided", "article/decided")
STACKS = ("bare", "consent")
START_TIMEOUT = 300.0
"""Seconds for uvicorn to start under valgrind (imports run ~50 times slower)."""


def count_instructions(
    stack: str, case: str, cookie: str, warm_up: int, requests: int, workdir: Path
) -> int:
    """Instructions per request of ``stack``'s server answering ``case``."""
    endpoint, visitor = case.split("/")
    port = free_port()
    out = workdir / f"{stack}-{endpoint}-{visitor}.callgrind"
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p",
        *uvicorn_command(f"{stack}_app", port),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL, start_new_session=True
    )
    headers = {"Cookie": cookie} if visitor == "decided" else {}
    try:
        connection = _connect(port, f"/{endpoint}", headers, server)
        for _ in range(warm_up):
            _get(connection, f"/{endpoint}", headers)
        callgrind_control("-z", server.pid)
        for _ in range(requests):
            _get(connection, f"/{endpoint}", headers)
        callgrind_control("-d", server.pid)
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    dumps = sorted(workdir.glob(f"{out.name}.{server.pid}.*"))
    if not dumps:
        raise RuntimeError(f"callgrind wrote no dump for {stack} {case}")
    return callgrind_total(dumps[0]) // requests


def _connect(
    port: int, path: str, headers: dict[str, str], server: subprocess.Popen[bytes]
) -> http.client.HTTPConnection:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            _get(connection, path, headers)
            return connection
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn under valgrind did not start on {port}") from None
            time.sleep(0.5)


def _get(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> None:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}")


def callgrind_control(option: str, pid: int) -> None:
    """Ask a running callgrind to ``--zero`` or ``--dump`` its counters."""
    subprocess.run(["callgrind_control", option, str(pid)], check=True, capture_output=True)


def callgrind_total(dump: Path) -> int:
    """The instructions a callgrind dump counted."""
    with dump.open() as lines:
        for line in lines:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated")
    parser.add_argument("--warm-up", type=int, default=300)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args(argv)
    cases = args.cases.split(",")
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    cookie = asyncio.run(decided_cookie_header())
    jobs = [(stack, case) for case in cases for stack in STACKS]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(os.cpu_count() or 1) as pool:

        def count(job: tuple[str, str]) -> int:
            stack, case = job
            return count_instructions(stack, case, cookie, args.warm_up, args.requests, Path(tmp))

        counts = dict(zip(jobs, pool.map(count, jobs), strict=True))
    print("| case | bare | consent | added |")
    print("|---|---|---|---|")
    for case in cases:
        bare, consent = counts["bare", case], counts["consent", case]
        added = consent - bare
        print(f"| {case} | {bare:,} | {consent:,} | +{added:,} (+{added / bare:.0%}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
