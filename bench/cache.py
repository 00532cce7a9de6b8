"""Pages behind a full-page cache: hit ratio, throughput and origin cost through Varnish.

Run by hand from the repository root (docs/benchmarks.md, "Pages behind a full-page cache"):

    .venv/bin/python -m bench.cache                          # the full run, about 7 minutes
    .venv/bin/python -m bench.cache --visitors 60 --articles 5 --modes esi
    .venv/bin/python -m bench.cache --session-cookie both --json cache.json

For each ``cache_mode`` a real Varnish (``tests.cache.servers``: ``docs/varnish/site.vcl``
and what ``consent vcl --keep theme`` makes; the "vary" stand-in VCL in "vary" mode) runs
in front of a real uvicorn serving the example article site, from an empty cache.
Simulated readers, each with a cookie jar of their own, come in: a third stay
undecided, a third accept and a third reject, on the banner's own form (JavaScript
off: the form is read from the page, posted through Varnish, and its 303 followed).
Each then reads every article URL once, in an order of their own. Readers carry
analytics cookies of their own and a session cookie of their own: the affinity
cookie of a load balancer in front of the site (``SERVERID``, declared necessary
and left out of the look-up with ``consent vcl --ignore``; ``--session-cookie``).
Every page is checked for the state its reader must see, and Varnish's counters
against the responses.
The exit status is 1 when a target fails.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import importlib
import importlib.metadata
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import httpx2

from bench.overhead.report import Target, print_table
from consent.cli import load_demo_site
from consent.settings import CacheMode
from tests.cache.serve import site_settings
from tests.cache.servers import SITE_IGNORE, SITE_KEEP, VARNISHD, Origin, Varnish, consent_vcl

MODES: tuple[CacheMode, ...] = ("vary", "esi", "shared")
KINDS = ("undecided", "accepted", "rejected")
ACTIONS = {"accepted": "accept_all", "rejected": "reject_all"}
MIN_HIT_RATIO = 0.95
"""The target, for "esi" and "shared"."""
GA_PROPERTY_COOKIE = "_ga_7QK2J4B9XZ"
"""Google Analytics 4 keeps one such cookie per property: the name is the site's."""
SESSION_COOKIE = "SERVERID"
"""The example's load-balancer session cookie: necessary, one per reader, no page changes."""
REFERRERS = ("", "newsletter", "social", "search")
"""The article URLs readers arrive by: as linked from the site, then with a ``?ref=``."""
LANGUAGES = (
    ("en-GB,en;q=0.9", 31),
    ("en-US,en;q=0.9", 15),
    ("de-DE,de;q=0.9,en;q=0.8", 12),
    ("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", 10),
    ("es-ES,es;q=0.9", 7),
    ("nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7", 5),
    ("it-IT,it;q=0.9,en-US;q=0.8,en;q=0.7", 5),
    ("pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7", 4),
    ("pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7", 3),
    ("en", 3),
    ("sv-SE,sv;q=0.9,en-US;q=0.8,en;q=0.7", 2),
    ("zh-CN,zh;q=0.9", 2),
    ("ja-JP,ja;q=0.9", 1),
)
"""``Accept-Language`` as browsers send it, weighted for a European English-language site."""
BROWSER = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "accept-encoding": "gzip, deflate",
    "upgrade-insecure-requests": "1",
    "sec-fetch-dest": "document",
    "sec-fetch-mode": "navigate",
    "sec-fetch-site": "same-origin",
    "sec-fetch-user": "?1",
}
BANNER = b"data-consent-banner"
WITHDRAW = re.compile(rb"<form[^>]*data-consent-withdraw( hidden)?")
BANNER_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Reader:
    """One simulated browser: who they are, and the order they read the articles in."""

    kind: str
    language: str
    cookies: dict[str, str]
    urls: list[str]


@dataclass
class Run:
    """What one mode measured; the counters are Varnish's, taken before and after."""

    mode: str
    session: bool
    concurrency: int
    page_views: int = 0
    hits: int = 0
    """Page responses served from the cache (``X-Varnish`` with two numbers)."""
    fetched_setting_cookies: int = 0
    """Pages fetched from the origin whose answer set a cookie (so Varnish did not store it)."""
    cookies_set: dict[str, int] = field(default_factory=dict)
    """Of those, how many set (or expired) each cookie name."""
    wrong_pages: int = 0
    decisions: int = 0
    read_page_views: int = 0
    read_seconds: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    other_cores: float = 0.0
    varnish: dict[str, int] = field(default_factory=dict)

    @property
    def page_fetches(self) -> int:
        """Origin requests for pages: every backend request less fragments and decisions.

        A fetch that Varnish sent again on a new connection (the origin had closed the
        idle one) counts once.
        """
        varnish = self.varnish
        fetches = varnish["backend_req"] - varnish.get("backend_retry", 0)
        return fetches - varnish["esi_req"] - self.decisions

    def per_page_view_us(self, process: str) -> float:
        """CPU µs of ``process`` (origin, varnish or client) per page view."""
        return self.cpu_seconds[process] / self.page_views * 1e6


def article_urls(count: int) -> list[str]:
    """``count`` distinct article URLs: the site's articles, then with ``?ref=`` values."""
    load_demo_site()
    articles = importlib.import_module("consent_article_site.articles").ARTICLES
    slugs = [article.slug for article in articles]
    urls = []
    for index in range(count):
        round_, slug = divmod(index, len(slugs))
        ref = REFERRERS[round_] if round_ < len(REFERRERS) else f"r{round_}"
        urls.append(f"/articles/{slugs[slug]}" + (f"?ref={ref}" if ref else ""))
    return urls


def make_readers(
    count: int,
    urls: Sequence[str],
    session: bool,
    seed: int,
    language_mix: Sequence[tuple[str, float]] = LANGUAGES,
) -> list[Reader]:
    """``count`` readers, a third of each kind, in an arrival order shuffled by ``seed``."""
    rng = random.Random(seed)
    languages, weights = zip(*language_mix, strict=True)
    readers = []
    for number in range(count):
        first_visit = 1_700_000_000 + rng.randrange(30_000_000)
        cookies = {
            "_ga": f"GA1.1.{rng.randrange(10**9, 10**10)}.{first_visit}",
            GA_PROPERTY_COOKIE: f"GS1.1.{first_visit + 86_400}.{rng.randrange(2, 40)}.1."
            f"{first_visit + 86_460}.0.0.0",
        }
        if session:
            cookies[SESSION_COOKIE] = rng.randbytes(24).hex()
        order = list(urls)
        rng.shuffle(order)
        language = rng.choices(languages, weights)[0]
        readers.append(Reader(KINDS[number % 3], language, cookies, order))
    rng.shuffle(readers)
    return readers


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, from ``/proc/PID/stat``."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_of(pid: int) -> list[int]:
    """The child processes of ``pid`` (varnishd's worker process, under its manager)."""
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(child) for child in children.read().split()]


def busy_cores_seconds() -> float:
    """CPU seconds every process of the machine has used (``/proc/stat``: all but idle)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:8]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS


def shown_state(body: bytes) -> str:
    """What a page shows its reader: the banner, or the control with or without withdraw."""
    if BANNER in body:
        return "undecided"
    withdraw = WITHDRAW.search(body)
    if withdraw is None:
        return "none"
    return "rejected" if withdraw.group(1) else "accepted"


class Visit:
    """A reader's browser, talking to Varnish through the shared connection pool."""

    def __init__(self, reader: Reader, run: Run, transport: httpx2.AsyncHTTPTransport, url: str):
        self.reader = reader
        self.run = run
        self.state = "undecided"
        self.base = url
        host = url.split("//", 1)[1].split(":")[0]
        jar = httpx2.Cookies()
        for name, value in reader.cookies.items():
            jar.set(name, value, domain=host)
        self.client = httpx2.AsyncClient(
            base_url=url,
            transport=transport,
            headers={**BROWSER, "accept-language": reader.language},
            cookies=jar,
            timeout=60,
            trust_env=False,
        )

    async def read(self, url: str) -> bytes:
        """One page view, checked for what this reader must see."""
        response = await self.client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
        run = self.run
        run.page_views += 1
        set_cookies = {c.split("=", 1)[0] for c in response.headers.get_list("set-cookie")}
        if len(response.headers["x-varnish"].split()) == 2:
            run.hits += 1
        elif set_cookies:
            run.fetched_setting_cookies += 1
            for name in set_cookies:
                run.cookies_set[name] = run.cookies_set.get(name, 0) + 1
        if SESSION_COOKIE in set_cookies:
            raise RuntimeError("the site answered the load balancer's cookie")
        body = response.content
        expected = "undecided" if run.mode == "shared" else self.state
        if shown_state(body) != expected or b"<esi:include" in body:
            run.wrong_pages += 1
        if run.mode == "shared" and b"/_consent/static/consent-state." not in body:
            run.wrong_pages += 1
        return body

    async def arrive(self) -> None:
        """The first page; a deciding reader then submits the banner's form and is sent back."""
        url = self.reader.urls[0]
        body = await self.read(url)
        action = ACTIONS.get(self.reader.kind)
        if action is None:
            return
        page = body.decode()
        form = BANNER_FORM.search(page, page.index(BANNER.decode()))
        if form is None:
            raise RuntimeError(f"{url}: no banner form")
        fields = {name: html.unescape(value) for name, value in HIDDEN_INPUT.findall(form[2])}
        fields["action"] = action
        answer = await self.client.post(
            html.unescape(form[1]), data=fields, headers={"origin": self.base}
        )
        if answer.status_code != 303 or answer.headers["location"] != url:
            raise RuntimeError(f"decision on {url}: {answer.status_code} {answer.text[:200]}")
        self.run.decisions += 1
        self.state = self.reader.kind
        await self.read(answer.headers["location"])

    async def read_the_rest(self) -> None:
        """Every other article URL, one after the other."""
        for url in self.reader.urls[1:]:
            await self.read(url)


async def each(visits: Sequence[Visit], step: str, concurrency: int) -> None:
    """``step`` of every visit, ``concurrency`` readers at a time, each in arrival order."""
    queue = iter(visits)

    async def worker() -> None:
        for visit in queue:
            await getattr(visit, step)()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def stats_after(varnish: Varnish, before: dict[str, int], requests: int) -> dict[str, int]:
    """Varnish's counters since ``before``, once the closed sessions have been added in."""
    names = (
        "client_req",
        "cache_hit",
        "cache_miss",
        "s_pass",
        "esi_req",
        "backend_req",
        "backend_retry",
    )
    deadline = time.monotonic() + 10
    while True:
        now = varnish.stats()
        delta = {name: now[f"MAIN.{name}"] - before[f"MAIN.{name}"] for name in names}
        if delta["client_req"] >= requests or time.monotonic() > deadline:
            return delta
        time.sleep(0.2)


async def measure(
    mode: CacheMode, session: bool, readers: Sequence[Reader], concurrency: int, workdir: Path
) -> Run:
    """One mode, from an empty cache: the readers arrive (and decide), then read."""
    run = Run(mode=mode, session=session, concurrency=concurrency)
    origin = Origin("site", mode)
    try:
        work = workdir / f"{mode}-{'session' if session else 'plain'}"
        vcl = consent_vcl(site_settings(mode), SITE_KEEP, SITE_IGNORE)
        varnish = Varnish(work, origin.port, vcl)
        try:
            await measure_through(varnish, origin, run, readers)
        finally:
            varnish.stop()
    finally:
        origin.stop()
    return run


async def measure_through(
    varnish: Varnish, origin: Origin, run: Run, readers: Sequence[Reader]
) -> None:
    # The origin's first requests compile templates: made before anything is counted.
    async with httpx2.AsyncClient(base_url=origin.url, headers=BROWSER) as warm:
        for url in readers[0].urls[:5]:
            (await warm.get(url, params={"warm": "1"})).raise_for_status()
    limits = httpx2.Limits(
        max_connections=run.concurrency, max_keepalive_connections=run.concurrency
    )
    transport = httpx2.AsyncHTTPTransport(limits=limits, trust_env=False)
    visits = [Visit(reader, run, transport, varnish.url) for reader in readers]
    processes = {"origin": [origin.process.pid]}
    processes["varnish"] = [varnish.process.pid, *children_of(varnish.process.pid)]
    before = varnish.stats()
    cpu = {name: sum(map(process_cpu_seconds, pids)) for name, pids in processes.items()}
    client_cpu, busy = time.process_time(), busy_cores_seconds()
    started = time.perf_counter()
    await each(visits, "arrive", run.concurrency)
    arrived, reading = run.page_views, time.perf_counter()
    await each(visits, "read_the_rest", run.concurrency)
    run.read_seconds = time.perf_counter() - reading
    wall = time.perf_counter() - started
    run.read_page_views = run.page_views - arrived
    run.cpu_seconds = {
        name: sum(map(process_cpu_seconds, pids)) - cpu[name] for name, pids in processes.items()
    }
    run.cpu_seconds["client"] = time.process_time() - client_cpu
    run.other_cores = (busy_cores_seconds() - busy - sum(run.cpu_seconds.values())) / wall
    await transport.aclose()  # Varnish adds a session's counters in when it closes
    run.varnish = stats_after(varnish, before, run.page_views + run.decisions)
    for visit in visits:
        await visit.client.aclose()


def check(run: Run) -> None:
    """The run measured what it says: right pages, and counts that agree with each other."""
    varnish = run.varnish
    problems = []
    if run.wrong_pages:
        problems.append(f"{run.wrong_pages} pages showed their reader the wrong state")
    if varnish["cache_hit"] != run.hits:
        problems.append(f"varnishstat counts {varnish['cache_hit']} hits, X-Varnish {run.hits}")
    if run.page_fetches != run.page_views - run.hits:
        problems.append(f"{run.page_fetches} pages fetched for {run.page_views - run.hits} misses")
    if problems:
        raise RuntimeError(f"{run.mode}: " + "; ".join(problems))


def report(runs: Sequence[Run]) -> list[Target]:
    """Prints the tables; returns the targets."""
    label = {True: "`SERVERID`", False: "none"}
    print("### What reached the origin")
    print()
    rows = []
    for run in runs:
        v = run.varnish
        passed = v["s_pass"] - v["esi_req"] - run.decisions
        rows.append(
            [
                run.mode,
                label[run.session],
                f"{run.page_views:,}",
                f"{run.hits:,} ({run.hits / run.page_views:.2%})",
                f"{v['cache_hit']:,} / {v['cache_miss']:,} / {passed:,}",
                f"{run.page_fetches:,} ({run.fetched_setting_cookies:,})",
                f"{v['esi_req']:,}",
                f"{run.decisions:,}",
                f"{v['backend_req'] / run.page_views:.3f}",
            ]
        )
    header = ["mode", "necessary cookie", "page views", "hits (page hit ratio)"]
    header += ["hit / miss / pass", "pages fetched (setting a cookie)", "fragments"]
    print_table([*header, "decisions", "origin requests per page view"], rows)
    print("### Pages fetched that set a cookie (Varnish stores none of them), by cookie")
    print()
    rows = [
        [
            run.mode,
            label[run.session],
            ", ".join(f"{name} {count:,}" for name, count in sorted(run.cookies_set.items())),
        ]
        for run in runs
    ]
    print_table(["mode", "necessary cookie", "cookies set or expired"], rows)
    print("### Cost (one run, every mode in turn)")
    print()
    rows = [
        [
            run.mode,
            label[run.session],
            f"{run.read_page_views / run.read_seconds:,.0f}",
            *(f"{run.per_page_view_us(name):,.0f}" for name in ("origin", "varnish", "client")),
            f"{run.other_cores:.2f}",
        ]
        for run in runs
    ]
    header = ["mode", "necessary cookie", "page views/s (reading)", "origin CPU µs per page view"]
    print_table([*header, "Varnish CPU µs", "client CPU µs", "other cores"], rows)
    targets = []
    for run in runs:
        if run.mode != "vary":
            ratio = run.hits / run.page_views
            name = f"{run.mode}, necessary cookie {label[run.session]}: page hit ratio"
            targets.append(Target(name, f"{ratio:.2%}", "≥ 95 %", ratio >= MIN_HIT_RATIO))
    return targets


def machine() -> dict[str, str]:
    """The machine and the versions of what serves and sends the requests."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    varnish = subprocess.run([VARNISHD, "-V"], capture_output=True, text=True).stderr
    names = ("starlette", "uvicorn", "httpx2")
    return {
        "CPU": f"{cpu}, {os.cpu_count()} logical CPUs",
        "RAM": f"{memory / 2**20:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Varnish": varnish.splitlines()[0] if varnish else "unknown",
        "packages": ", ".join(f"{name} {importlib.metadata.version(name)}" for name in names),
        "load average at start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cache", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--visitors", type=int, default=1000, help="readers (default 1000)")
    parser.add_argument("--articles", type=int, default=20, help="URLs each reads (default 20)")
    parser.add_argument("--modes", default=",".join(MODES), help="default vary,esi,shared")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="readers at a time = connections (default 16)"
    )
    parser.add_argument(
        "--session-cookie",
        choices=("with", "without", "both"),
        default="with",
        help="whether readers carry a load balancer's session cookie (default: with; both: "
        "one run each)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="write every number to this file")
    parser.add_argument("--workdir", help="where Varnish keeps its files (default: a temp dir)")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    if not set(modes) <= set(MODES) or args.visitors < 3 or args.articles < 1:
        parser.error("--modes among vary,esi,shared; --visitors ≥ 3; --articles ≥ 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    sessions = {"with": [True], "without": [False], "both": [True, False]}[args.session_cookie]
    urls = article_urls(args.articles)
    print("# Pages behind a full-page cache")
    print()
    for key, value in machine().items():
        print(f"- {key}: {value}")
    print(f"- readers: {args.visitors:,}, {args.articles} article URLs each, ", end="")
    print(f"{args.concurrency} at a time (connections)")
    print()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as temporary:
        workdir = Path(args.workdir or temporary)
        for session in sessions:
            readers = make_readers(args.visitors, urls, session, args.seed)
            for mode in cast(list[CacheMode], args.modes.split(",")):
                started = time.monotonic()
                run = asyncio.run(measure(mode, session, readers, args.concurrency, workdir))
                print(
                    f"{mode}, session cookie {'yes' if session else 'no'}: "
                    f"{run.hits / run.page_views:.2%} hits, {time.monotonic() - started:.0f} s",
                    file=sys.stderr,
                )
                check(run)
                runs.append(run)
    targets = report(runs)
    print_table(
        ["target", "measured", "limit", "verdict"],
        [[t.name, t.measured, t.limit, t.verdict] for t in targets],
    )
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(run) for run in runs], indent=1))
    return 0 if all(target.passed for target in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
