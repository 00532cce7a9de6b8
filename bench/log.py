"""What the consent log costs and how fast it is audited.

Run by hand, from the repository root (loopback only; every step is bounded in time):

    .venv/bin/python bench/log.py                  # everything, about 5 minutes
    .venv/bin/python bench/log.py --parts http     # one part: http, verify, export
    .venv/bin/python bench/log.py --quick          # a smoke run: 100k events, short wrk runs
    .venv/bin/python bench/log.py --uvicorn-extras DIR   # uvicorn with httptools and uvloop

Three parts, each with its target (PASS/FAIL printed, exit status 1 if one fails):

1. http: decisions/s end to end, ``wrk`` POSTing ``/_consent`` (a Lua script) to
   one uvicorn process serving a Starlette page behind ``ConsentMiddleware``,
   whose log is a SQLite file, then a PostgreSQL database (a throw-away server,
   fsync on). Every answer must be a 303, the log must hold one event per
   answer, and its chain must verify. Each case runs as the app starts and with
   its start-up heap frozen (``gc.freeze()``, as docs/operations.md advises).
   Target with SQLite: ≥ 1,500 decisions/s, and p99 < 50 ms at 64 connections
   (the p99 with the heap frozen).
2. verify: ``consent verify`` on a log of 1,000,000 events (written straight
   into the database, chained the way the writer chains them). Target ≥ 200,000
   events/s, end to end (process start included).
3. export: ``consent log --format csv > /dev/null`` on the same log: events/s,
   and the peak memory (max RSS) of the process, which must not grow with the log.

``--json FILE`` writes every number to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consent import ConsentMiddleware, ConsentSettings  # noqa: E402
from consent.log import ConsentLog, MemoryConsentLog, SqlConsentLog  # noqa: E402
from consent.log.chain import GENESIS_HASH  # noqa: E402
from consent.log.database import create_log_engine  # noqa: E402
from consent.log.events import ConsentEvent  # noqa: E402
from consent.log.schema import SCHEMA_VERSION, chain, events, upgrade_schema  # noqa: E402
from consent.log.statements import event_row  # noqa: E402

WRK = "/usr/bin/wrk"
TIME = "/usr/bin/time"
"""GNU time (Debian package ``time``), for the peak memory of a command."""
CONNECTIONS = 64
MIN_DECISIONS_PER_S = 1500
MAX_P99_MS = 50.0
MIN_VERIFY_PER_S = 200_000
SECRET = "bench-secret-key-that-is-long-enough-0123456789"

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = "action=accept_all&next=%2F"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""


# --- the app under test (imported by uvicorn as bench.log:create_app) ----------------------


async def _home(request: Request) -> Response:
    return HTMLResponse("<html><body><h1>home</h1></body></html>")


def create_app() -> Starlette:
    """A page behind ConsentMiddleware, logging to ``BENCH_LOG_URL`` (``memory``: no database)."""
    log: ConsentLog
    if os.environ["BENCH_LOG_URL"] == "memory":
        log = _CountingLog()
    else:
        log = SqlConsentLog(os.environ["BENCH_LOG_URL"], spool_path=os.environ["BENCH_SPOOL"])

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await log.start()
        if os.environ.get("BENCH_GC_FREEZE"):
            # What docs/operations.md advises: the start-up heap out of full collections.
            gc.freeze()
        yield
        await log.close()

    settings = ConsentSettings(secret_key=SECRET, log_url=None)
    return Starlette(
        routes=[Route("/", _home)],
        lifespan=lifespan,
        middleware=[Middleware(ConsentMiddleware, settings=settings, log=log)],
    )


class _CountingLog(MemoryConsentLog):
    """The baseline: a log that keeps nothing, to show what the middleware alone costs."""

    async def record(self, event: ConsentEvent, notice: Mapping[str, Any]) -> None:
        """Forget the event."""


# --- helpers ------------------------------------------------------------------------------


@dataclass
class Result:
    """One measured number and its verdict."""

    name: str
    value: float
    unit: str
    target: str = ""
    passed: bool | None = None

    def line(self) -> str:
        """The result as one printed line."""
        verdict = "" if self.passed is None else ("PASS" if self.passed else "FAIL")
        target = f"  (target {self.target})" if self.target else ""
        return f"{verdict:4}  {self.name}: {self.value:,.1f} {self.unit}{target}"


def _free_port() -> int:
    from tests.log.postgres import free_port

    return free_port()


UVICORN_EXTRAS: Path | None = None
"""A directory holding httptools and uvloop (``pip install --target DIR httptools uvloop``):
then uvicorn runs with them, as ``uvicorn[standard]`` does, instead of h11 and asyncio."""


@contextlib.contextmanager
def _uvicorn(log_url: str, spool: Path, *, freeze: bool = False) -> Iterator[str]:
    port = _free_port()
    path = [str(ROOT)] if UVICORN_EXTRAS is None else [str(UVICORN_EXTRAS), str(ROOT)]
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(path),
        "BENCH_LOG_URL": log_url,
        "BENCH_SPOOL": str(spool),
    }
    environment.pop("BENCH_GC_FREEZE", None)
    if freeze:
        environment["BENCH_GC_FREEZE"] = "1"
    command = [sys.executable, "-m", "uvicorn", "bench.log:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    command += ["--no-access-log"]
    if UVICORN_EXTRAS is not None:
        command += ["--http", "httptools", "--loop", "uvloop"]
    process = subprocess.Popen(command, env=environment, cwd=spool.parent)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.05)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def _wrk(base: str, seconds: int, script: Path) -> dict[str, float]:
    output = subprocess.run(
        [
            WRK,
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            base + "/_consent",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests": requests,
        "rate": rate,
        "p50_ms": _latency(output, "50%"),
        "p99_ms": _latency(output, "99%"),
        "bad_responses": int(bad.group(1)) if bad else 0,
        "socket_errors": 1 if errors else 0,
    }


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {percentile} latency in wrk output:\n{output}")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _count_and_verify(url: str) -> tuple[int, bool]:
    count = (
        subprocess.run(
            [sys.executable, "-m", "consent.cli", "log", "--db", url, "--format", "csv"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.count("\n")
        - 1
    )
    verified = subprocess.run(
        [sys.executable, "-m", "consent.cli", "verify", "--db", url], capture_output=True
    )
    return count, verified.returncode == 0


# --- part 1: decisions/s through uvicorn --------------------------------------------------


def bench_http(work: Path, seconds: int, postgres_url: str | None) -> list[Result]:
    """wrk against uvicorn, with no log, a SQLite log, then a PostgreSQL one.

    Each twice: as the app starts, and with its start-up heap frozen (``gc.freeze()``
    once the log has started, as docs/operations.md advises). Without it, every
    full collection walks the ~80,000 objects that imports leave, a 20-40 ms pause
    for every request in flight, and decisions waiting for their commit live long
    enough to bring those collections on several times a minute.
    """
    script = work / "decide.lua"
    script.write_text(WRK_SCRIPT)
    results: list[Result] = []
    for freeze, setup in ((False, "as started"), (True, "start-up heap frozen")):
        with _uvicorn("memory", work / "memory.spool", freeze=freeze) as base:
            _wrk(base, 2, script)
            baseline = _wrk(base, seconds, script)
        label = f"no log (baseline), {setup}"
        results.append(
            Result(f"{label}: decisions/s at {CONNECTIONS} connections", baseline["rate"], "/s")
        )
        results.append(Result(f"{label}: p99 latency", baseline["p99_ms"], "ms"))
    backends = [("SQLite", f"sqlite:///{work / 'http.db'}")]
    if postgres_url is not None:
        backends.append(("PostgreSQL", postgres_url))
    for name, url in backends:
        for freeze, setup in ((False, "as started"), (True, "start-up heap frozen")):
            with _uvicorn(url, work / f"http-{name}.spool", freeze=freeze) as base:
                _wrk(base, 2, script)  # warm-up: imports, first connections, schema
                measured = _wrk(base, seconds, script)
            count, intact = _count_and_verify(url)
            print(
                f"      {name}, {setup}: {measured['requests']:.0f} answered in the measured "
                f"run, {count} events stored in all, chain {'intact' if intact else 'BROKEN'}, "
                f"bad answers {measured['bad_responses']:.0f}"
            )
            ok = intact and measured["bad_responses"] == 0
            label = f"{name}, {setup}"
            # Throughput is judged as the app starts; the tail as deployed per the docs.
            rate_target = name == "SQLite" and not freeze
            tail_target = name == "SQLite" and freeze
            results.append(
                Result(
                    f"{label}: decisions/s at {CONNECTIONS} connections",
                    measured["rate"],
                    "/s",
                    f"≥ {MIN_DECISIONS_PER_S:,}" if rate_target else "",
                    (measured["rate"] >= MIN_DECISIONS_PER_S and ok) if rate_target else ok,
                )
            )
            results.append(
                Result(
                    f"{label}: p99 latency",
                    measured["p99_ms"],
                    "ms",
                    f"< {MAX_P99_MS:.0f} ms" if tail_target else "",
                    measured["p99_ms"] < MAX_P99_MS if tail_target else None,
                )
            )
            results.append(Result(f"{label}: p50 latency", measured["p50_ms"], "ms"))
    return results


# --- parts 2 and 3: a big log -------------------------------------------------------------


def generate_log(url: str, count: int) -> float:
    """Write ``count`` chained events straight into a new log; returns seconds taken."""
    started = time.perf_counter()

    async def prepare() -> None:
        engine = create_log_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_schema)
        await engine.dispose()

    asyncio.run(prepare())
    assert SCHEMA_VERSION == 3  # the columns below are every column of that schema
    columns = [c.name for c in events.columns]
    first = datetime(2026, 1, 1, tzinfo=UTC)
    actions = ("accept_all", "reject_all", "custom", "accept_all", "reject_all")

    def rows() -> Iterator[list[dict[str, Any]]]:
        prev_hash = GENESIS_HASH
        batch: list[dict[str, Any]] = []
        for seq in range(1, count + 1):
            action = actions[seq % 5]
            granted = ("analytics", "necessary") if action != "reject_all" else ("necessary",)
            event = ConsentEvent(
                consent_id=f"{seq:022x}",
                occurred_at=first + timedelta(seconds=seq * 2),
                action=action,  # type: ignore[arg-type]
                granted=granted,
                denied=("marketing", "preferences"),
                revision=1,
                locale="en",
                mechanism="banner",
                notice_hash="ab" * 32,
                gpc=seq % 7 == 0,
            )
            row = event_row(event, seq, prev_hash)
            prev_hash = row["hash"]
            batch.append(row)
            if len(batch) == 20_000:
                yield batch
                batch = []
        if batch:
            yield batch

    if url.startswith("sqlite"):
        # Straight through sqlite3: the fastest way in, and the log format is the same.
        path = url.split(":///", 1)[1]
        connection = sqlite3.connect(path)
        placeholders = ", ".join("?" for _ in columns)
        statement = f"INSERT INTO consent_events ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
        head = (0, GENESIS_HASH)
        for batch in rows():
            connection.executemany(
                statement,
                [
                    tuple(
                        r[c].strftime("%Y-%m-%d %H:%M:%S.%f") if c == "occurred_at" else r[c]
                        for c in columns
                    )
                    for r in batch
                ],
            )
            head = (batch[-1]["seq"], batch[-1]["hash"])
        connection.execute("UPDATE consent_chain SET head_seq = ?, head_hash = ?", head)
        connection.commit()
        connection.close()
    else:

        async def insert_all() -> None:
            engine = create_log_engine(url)
            head = (0, GENESIS_HASH)
            for batch in rows():
                async with engine.begin() as connection:
                    await connection.execute(events.insert(), batch)
                head = (batch[-1]["seq"], batch[-1]["hash"])
            async with engine.begin() as connection:
                await connection.execute(chain.update().values(head_seq=head[0], head_hash=head[1]))
            await engine.dispose()

        asyncio.run(insert_all())
    return time.perf_counter() - started


def _timed_cli(*arguments: str) -> tuple[float, float, int, str]:
    """Run the consent CLI, stdout to /dev/null: seconds, peak RSS in MiB, status, stderr.

    The peak RSS comes from GNU time: a child forked from this (large) process
    would count this process's pages until its exec.
    """
    with (
        open(os.devnull, "w") as devnull,
        tempfile.TemporaryFile("w+") as stderr,
        tempfile.NamedTemporaryFile("r") as peak,
    ):
        command = [TIME, "-f", "%M", "-o", peak.name, sys.executable, "-m", "consent.cli"]
        started = time.perf_counter()
        status = subprocess.run([*command, *arguments], stdout=devnull, stderr=stderr).returncode
        elapsed = time.perf_counter() - started
        stderr.seek(0)
        return elapsed, int(peak.read().split()[-1]) / 1024, status, stderr.read()


def bench_big_log(url: str, name: str, count: int, parts: set[str]) -> list[Result]:
    """Verify and export speed on a log of ``count`` events."""
    results: list[Result] = []
    print(f"      {name}: writing {count:,} chained events ...", flush=True)
    seconds = generate_log(url, count)
    print(f"      {name}: written in {seconds:.1f} s", flush=True)
    if "verify" in parts:
        elapsed, rss, status, stderr = _timed_cli("verify", "--db", url)
        # The command's own measure, from its first event read to its last checked.
        checking = re.search(r"verified (\d+) events in ([\d.]+) s", stderr)
        if checking is None:
            raise RuntimeError(f"consent verify said: {stderr}")
        rate = int(checking.group(1)) / float(checking.group(2))
        results.append(
            Result(
                f"{name}: verify {count:,} events (checking)",
                rate,
                "events/s",
                f"≥ {MIN_VERIFY_PER_S:,}",
                status == 0 and rate >= MIN_VERIFY_PER_S,
            )
        )
        results.append(
            Result(f"{name}: verify {count:,} events (whole command)", count / elapsed, "events/s")
        )
        results.append(Result(f"{name}: verify peak RSS", rss, "MiB"))
    if "export" in parts:
        for output, label in (("csv", "CSV"), ("json", "JSON Lines")):
            elapsed, rss, status, _ = _timed_cli("log", "--db", url, "--format", output)
            results.append(
                Result(
                    f"{name}: export {count:,} events as {label}",
                    count / elapsed,
                    "events/s",
                    "",
                    status == 0,
                )
            )
            results.append(Result(f"{name}: {label} export peak RSS", rss, "MiB"))
        # The same export of a tenth of the log: constant memory means the same peak.
        _, rss, status, _ = _timed_cli(
            "log", "--db", url, "--format", "csv", "--limit", str(count // 10)
        )
        results.append(
            Result(f"{name}: CSV export of {count // 10:,} events, peak RSS", rss, "MiB")
        )
    return results


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def main() -> int:
    """Run the parts asked for; exit status 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="http,verify,export")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--wrk-duration", type=int, default=15)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true", help="big-log parts on PostgreSQL only")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--uvicorn-extras",
        type=Path,
        help="directory with httptools and uvloop installed (pip install --target DIR ...)",
    )
    options = parser.parse_args()
    global UVICORN_EXTRAS
    UVICORN_EXTRAS = options.uvicorn_extras
    if options.quick:
        options.events, options.wrk_duration = 100_000, 4
    parts = set(options.parts.split(","))
    print(machine())
    stack = "h11 + asyncio" if UVICORN_EXTRAS is None else "httptools + uvloop"
    print(f"uvicorn {importlib.metadata.version('uvicorn')} ({stack}), wrk -t2 -c{CONNECTIONS}")
    from tests.log.postgres import PostgresServer, postgres_bin_dir

    results: list[Result] = []
    work = Path(tempfile.mkdtemp(prefix="consent-bench-"))
    server: PostgresServer | None = None
    try:
        bin_dir = postgres_bin_dir()
        if not options.no_postgres and bin_dir is not None:
            pg_root = Path(tempfile.mkdtemp(prefix="consent-bench-pg-"))
            server = PostgresServer(bin_dir, pg_root)
            server.init()
            server.start()
            print(f"PostgreSQL from {bin_dir} on 127.0.0.1:{server.port}")
        if "http" in parts:
            print("1. decisions through uvicorn", flush=True)
            pg_url = server.url(server.create_database()) if server else None
            results += bench_http(work, options.wrk_duration, pg_url)
        if parts & {"verify", "export"}:
            print("2-3. a big log", flush=True)
            _, rss, _, _ = _timed_cli("--help")
            results.append(Result("consent --help (the imports alone): peak RSS", rss, "MiB"))
            if not options.no_sqlite:
                big = f"sqlite:///{work / 'big.db'}"
                results += bench_big_log(big, "SQLite", options.events, parts)
            if server is not None:
                url = server.url(server.create_database())
                results += bench_big_log(url, "PostgreSQL", options.events, parts)
    finally:
        if server is not None:
            server.stop("fast")
            shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    print()
    for result in results:
        print(result.line())
    if options.json:
        options.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))
    return 1 if any(r.passed is False for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
