"""Lighthouse on one article with three cookie banners: consent, vanilla-cookieconsent v3, Klaro.

Run by hand, from the repository root (Node 20 with npm, and Debian's Chromium at
/usr/bin/chromium: ``apt-get install -y chromium`` if it is missing)::

    .venv/bin/python -m bench.lighthouse                  # 3 runs per library and preset
    .venv/bin/python -m bench.lighthouse --runs 5 --presets desktop --json lighthouse.json

The first run installs Lighthouse 12, vanilla-cookieconsent 3 and Klaro with npm into
``~/.cache/consent-bench/lighthouse`` (``--npm-dir``); later runs reuse them, and nothing
else leaves the machine. The page is ``bench.apps.article_page()`` with one gated
analytics script (its marketing script removed), served by uvicorn on a loopback port
of its own for each library, with ``GZipMiddleware`` outermost, so that every library's
files and the page are gzipped the same way:

- ``none``: the article alone, the baseline;
- ``consent``: ``ConsentMiddleware`` (the ``consent`` Python imports: ``PYTHONPATH``
  may name an earlier checkout, see ``bench/__init__.py``) with an ``analytics``
  category that grants ``analytics_storage``, so the Consent Mode script is served;
- ``consent-nonce``: the same under a nonce-based CSP, the app passing its nonce to the
  middleware (``scope["csp_nonce"]``);
- ``vanilla-cookieconsent``: its stylesheet in ``<head>`` and a module that imports
  ``cookieconsent.umd.js`` and calls ``CookieConsent.run``, as its documentation shows,
  with ``hideFromBots: false``: by default it shows no banner to a browser driven by
  automation, Lighthouse's included;
- ``klaro``: ``config.js`` then ``klaro.js``, both ``defer`` in ``<head>``, as its
  documentation shows.

Each library's banner is first checked to show in Chromium (Playwright). Lighthouse
(performance category only) then loads each page as a first-time, undecided visitor,
with its default mobile emulation and with ``--preset=desktop``, round-robin, ``--runs``
times each; the report gives medians: performance score, FCP, LCP, TBT, CLS, Speed Index, the
render-blocking resources, the page's total transfer size, and the transfer size of
the library's own files (gzipped as served) and of the HTML. ``--json FILE`` keeps
every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from playwright.sync_api import Browser, sync_playwright
from playwright.sync_api import Request as PlaywrightRequest
from playwright.sync_api import Response as PlaywrightResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench.apps import CONSENT_SECRET, article_page
from bench.overhead.report import measured_checkout, print_table
from bench.overhead.uvicorn import free_port
from consent import Category, ConsentMiddleware, ConsentSettings
from tests.chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
SITE_STATIC = ROOT / "examples" / "article_site" / "static"
"""The article site's stylesheet and icon, which the article links to."""
NPM_DIR = Path.home() / ".cache" / "consent-bench" / "lighthouse"
NPM_PACKAGES = ("lighthouse@12", "vanilla-cookieconsent@3", "klaro")
CHROME_FLAGS = ("--headless=new", *CHROMIUM_ARGS)
LIGHTHOUSE_TIMEOUT = 300.0
PRESETS = ("mobile", "desktop")

ANALYTICS_SRC = "https://tracker.example/analytics.js"
"""Never fetched: the gated script stays inert for an undecided visitor."""
ARTICLE_ANALYTICS_TAG = (
    f'<script type="text/plain" data-consent-category="analytics" src="{ANALYTICS_SRC}"></script>'
)
ARTICLE_MARKETING_TAG = (
    '  <script type="text/plain" data-consent-category="marketing" '
    'src="https://ads.example/ads.js"></script>\n'
)
SITE_SCRIPT = 'document.documentElement.classList.add("js");\n'

VANILLA_CONFIG = """\
import "/cookieconsent/cookieconsent.umd.js";

CookieConsent.run({
  // Its default hides the banner from browsers driven by automation (navigator.webdriver),
  // Lighthouse's among them: it would be measured without the banner a visitor sees.
  hideFromBots: false,
  categories: {
    necessary: { enabled: true, readOnly: true },
    analytics: { autoClear: { cookies: [{ name: /^_ga/ }] } },
  },
  language: {
    default: "en",
    translations: {
      en: {
        consentModal: {
          title: "We care about your data",
          description: "With your consent, we would like to use cookies for audience measurement.",
          acceptAllBtn: "Accept all",
          acceptNecessaryBtn: "Reject all",
          showPreferencesBtn: "Choose cookies",
        },
        preferencesModal: {
          title: "Cookie settings",
          acceptAllBtn: "Accept all",
          acceptNecessaryBtn: "Reject all",
          savePreferencesBtn: "Save my choices",
          closeIconLabel: "Close",
          sections: [
            {
              title: "Strictly necessary",
              description: "What the site needs to work.",
              linkedCategory: "necessary",
            },
            {
              title: "Analytics",
              description: "Audience measurement.",
              linkedCategory: "analytics",
            },
            {
              title: "More information",
              description: 'See our <a href="/privacy">privacy and cookie policy</a>.',
            },
          ],
        },
      },
    },
  },
});
"""

KLARO_CONFIG = """\
var klaroConfig = {
  version: 1,
  cookieName: "klaro",
  cookieExpiresAfterDays: 365,
  default: false,
  acceptAll: true,
  translations: {
    zz: { privacyPolicyUrl: "/privacy" },
    en: {
      consentNotice: {
        description: "With your consent, we would like to use cookies for {purposes}.",
      },
      purposes: { analytics: "audience measurement" },
      analytics: { title: "Analytics", description: "Audience measurement." },
    },
  },
  services: [
    { name: "analytics", purposes: ["analytics"], cookies: [/^_ga(_.*)?$/] },
  ],
};
"""


@dataclass(frozen=True)
class Library:
    """How one library is added to the article, and where its own files are served."""

    name: str
    banner: str | None
    """CSS selector of its banner, which must be visible on a first visit."""
    head: str = ""
    """Tags put just before ``</head>``."""
    gated_tag: str = ARTICLE_ANALYTICS_TAG
    """The analytics script, inert until its category is granted."""
    body_end: str = ""
    """Tags put just before ``</body>``."""
    prefix: str | None = None
    """URL path under which the library's own files are served."""
    dist: str | None = None
    """Folder of the npm package served under ``prefix``."""
    config: str = ""
    """The site's configuration script, served as ``{prefix}config.js``."""


LIBRARIES: dict[str, Library] = {
    library.name: library
    for library in (
        Library("none", banner=None),
        Library("consent", banner="[data-consent-banner]", prefix="/_consent/"),
        Library("consent-nonce", banner="[data-consent-banner]", prefix="/_consent/"),
        Library(
            "vanilla-cookieconsent",
            banner="#cc-main .cm",
            head='<link rel="stylesheet" href="/cookieconsent/cookieconsent.css">\n',
            gated_tag=(
                f'<script type="text/plain" data-category="analytics" src="{ANALYTICS_SRC}">'
                "</script>"
            ),
            body_end='<script type="module" src="/cookieconsent/config.js"></script>\n',
            prefix="/cookieconsent/",
            dist="vanilla-cookieconsent/dist",
            config=VANILLA_CONFIG,
        ),
        Library(
            "klaro",
            banner=".klaro .cookie-notice",
            head=(
                '<script defer type="application/javascript" src="/klaro/config.js"></script>\n'
                '<script defer type="application/javascript" src="/klaro/klaro.js"></script>\n'
            ),
            gated_tag=(
                '<script type="text/plain" data-type="application/javascript" '
                f'data-name="analytics" data-src="{ANALYTICS_SRC}"></script>'
            ),
            prefix="/klaro/",
            dist="klaro/dist",
            config=KLARO_CONFIG,
        ),
    )
}
"""Every page measured, in report order; ``none`` is the article without a banner."""


def library_page(library: Library) -> bytes:
    """The benchmark's article with ``library`` added, and only the analytics script gated."""
    page = article_page().decode("ascii")
    edits = (
        (ARTICLE_MARKETING_TAG, ""),
        (ARTICLE_ANALYTICS_TAG, library.gated_tag),
        ("</head>", library.head + "</head>"),
        ("</body>", library.body_end + "</body>"),
    )
    for old, new in edits:
        if page.count(old) != 1:
            raise RuntimeError(f"bench.apps.article_page() no longer holds {old!r} once")
        page = page.replace(old, new)
    return page.encode("ascii")


def consent_settings() -> ConsentSettings:
    """An ``analytics`` category with its Consent Mode type, no log."""
    analytics = Category(
        key="analytics",
        title="Analytics",
        description="Audience measurement.",
        cookies=("_ga", "_ga_*"),
        google_consent_types=("analytics_storage",),
    )
    return ConsentSettings(
        secret_key=CONSENT_SECRET,
        log_url=None,
        privacy_policy_url="/privacy",
        categories=(analytics,),
    )


def script_endpoint(text: str) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint answering with the JavaScript ``text``."""

    async def script(request: Request) -> Response:
        return Response(text, media_type="text/javascript")

    return script


def site_app(library: Library, npm_dir: Path) -> Starlette:
    """The article site with ``library``, gzipped by the outermost middleware."""
    page = library_page(library)

    async def article(request: Request) -> Response:
        return HTMLResponse(page)

    routes: list[BaseRoute] = [
        Route("/", article),
        Route("/static/site.js", script_endpoint(SITE_SCRIPT)),
        Mount("/static", StaticFiles(directory=SITE_STATIC)),
    ]
    if library.prefix and library.dist:
        routes += [
            Route(f"{library.prefix}config.js", script_endpoint(library.config)),
            Mount(library.prefix, StaticFiles(directory=npm_dir / "node_modules" / library.dist)),
        ]
    middleware = [Middleware(GZipMiddleware)]
    if library.name == "consent-nonce":
        middleware.append(Middleware(NonceCSP))
    if library.name.startswith("consent"):
        middleware.append(Middleware(ConsentMiddleware, settings=consent_settings()))
    return Starlette(routes=routes, middleware=middleware)


class NonceCSP:
    """Gives each request a CSP nonce (``scope["csp_nonce"]``) and sends the policy with it.

    The policy allows the site's own files and, inline, only what carries the nonce:
    how a site with a strict CSP passes its nonce to the middleware.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        source = f"'self' 'nonce-{nonce}'"
        policy = f"default-src 'self'; script-src {source}; style-src {source}"

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", []),
                    (b"content-security-policy", policy.encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app({**scope, "csp_nonce": nonce}, receive, send_with_policy)


@contextmanager
def serving(apps: Mapping[str, Starlette], timeout: float = 30.0) -> Iterator[dict[str, str]]:
    """Each app served by its own uvicorn on a loopback port: name -> origin.

    The servers run in one background thread, which is idle while Lighthouse loads a page
    (this process only waits for it); they are stopped on the way out.
    """
    servers = {
        name: uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=free_port(),
                lifespan="off",
                log_level="warning",
                access_log=False,
            )
        )
        for name, app in apps.items()
    }

    async def serve_all() -> None:
        await asyncio.gather(*(server.serve() for server in servers.values()))

    thread = threading.Thread(target=lambda: asyncio.run(serve_all()), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not all(server.started for server in servers.values()):
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the uvicorn servers did not start")
            time.sleep(0.05)
        yield {name: f"http://127.0.0.1:{s.config.port}" for name, s in servers.items()}
    finally:
        for server in servers.values():
            server.should_exit = True
        thread.join(timeout=10)


def install_npm_packages(npm_dir: Path) -> None:
    """Installs Lighthouse and the two libraries into ``npm_dir`` unless they are there."""
    modules = npm_dir / "node_modules"
    names = [package.rsplit("@", 1)[0] for package in NPM_PACKAGES]
    if all((modules / name / "package.json").is_file() for name in names):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed (Node 20 and npm are needed)")
    npm_dir.mkdir(parents=True, exist_ok=True)
    print(f"installing {', '.join(NPM_PACKAGES)} into {npm_dir}", file=sys.stderr)
    command = [npm, "install", "--no-save", "--prefix", str(npm_dir), *NPM_PACKAGES]
    subprocess.run(command, check=True, stdout=sys.stderr)


def package_version(npm_dir: Path, name: str) -> str:
    """The version of an installed npm package."""
    manifest = json.loads((npm_dir / "node_modules" / name / "package.json").read_text())
    return str(manifest["version"])


def check_banner(browser: Browser, library: Library, origin: str) -> None:
    """The library's banner shows on a first visit, with no script error or failed request.

    Every request must stay on the page's own origin: nothing may leave the machine.
    """
    problems: list[str] = []

    def on_request(request: PlaywrightRequest) -> None:
        if not request.url.startswith(origin):
            problems.append(f"request off the site: {request.url}")

    def on_response(response: PlaywrightResponse) -> None:
        if response.status >= 400:
            problems.append(f"{response.status} for {response.url}")

    page = browser.new_page()
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("request", on_request)
    page.on("response", on_response)
    page.goto(origin + "/", wait_until="load")
    if library.banner is not None:
        page.locator(library.banner).first.wait_for(state="visible", timeout=15_000)
    page.close()
    if problems:
        raise RuntimeError(f"{library.name}: " + "; ".join(problems))


def check_banners(origins: Mapping[str, str]) -> None:
    """``check_banner`` for every library served, in one Chromium."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, origin in origins.items():
                check_banner(browser, LIBRARIES[name], origin)
        finally:
            browser.close()


def run_lighthouse(npm_dir: Path, url: str, preset: str) -> dict[str, Any]:
    """One Lighthouse report (performance only) of ``url`` with ``preset``."""
    command = [
        "node", str(npm_dir / "node_modules" / "lighthouse" / "cli" / "index.js"), url,
        "--output=json", "--output-path=stdout", "--quiet", "--only-categories=performance",
        f"--chrome-flags={' '.join(CHROME_FLAGS)}",
    ]  # fmt: skip
    if preset == "desktop":
        command.append("--preset=desktop")
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        timeout=LIGHTHOUSE_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"lighthouse {url} {preset} failed: {done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    if report.get("runtimeError"):
        raise RuntimeError(f"lighthouse {url} {preset}: {report['runtimeError']}")
    return report


@dataclass
class Run:
    """The numbers of one Lighthouse report."""

    library: str
    preset: str
    score: float
    fcp_ms: float
    lcp_ms: float
    tbt_ms: float
    cls: float
    speed_index_ms: float
    render_blocking: list[str]
    """Paths of the resources Lighthouse counts as render-blocking."""
    render_blocking_savings_ms: float
    total_bytes: int
    library_bytes: int
    """Transfer size (headers and gzipped body) of the library's own files."""
    html_bytes: int
    lcp_element: str
    shifted_elements: list[str]
    benchmark_index: float
    """Lighthouse's measure of the machine's CPU speed during the run."""
    warnings: list[str]


def node_labels(details: Any) -> list[str]:
    """Every DOM node named in an audit's details, as its selector and the start of its text."""
    if isinstance(details, dict):
        if details.get("type") == "node":
            return [f"{details.get('selector', '')} ({str(details.get('nodeLabel', ''))[:40]})"]
        return [label for value in details.values() for label in node_labels(value)]
    if isinstance(details, list):
        return [label for value in details for label in node_labels(value)]
    return []


def read_run(report: dict[str, Any], library: Library, preset: str, origin: str) -> Run:
    """The numbers of ``report``; ``RuntimeError`` if the page fetched anything off its origin."""
    audits = report["audits"]
    requests = audits["network-requests"]["details"]["items"]
    off_site = [r["url"] for r in requests if not r["url"].startswith(origin)]
    if off_site:
        raise RuntimeError(f"{library.name} fetched off the site: {off_site}")
    blocking = audits["render-blocking-resources"].get("details", {})
    prefix = library.prefix
    return Run(
        library=library.name,
        preset=preset,
        score=report["categories"]["performance"]["score"] * 100,
        fcp_ms=audits["first-contentful-paint"]["numericValue"],
        lcp_ms=audits["largest-contentful-paint"]["numericValue"],
        tbt_ms=audits["total-blocking-time"]["numericValue"],
        cls=audits["cumulative-layout-shift"]["numericValue"],
        speed_index_ms=audits["speed-index"]["numericValue"],
        render_blocking=[urlsplit(item["url"]).path for item in blocking.get("items", [])],
        render_blocking_savings_ms=blocking.get("overallSavingsMs", 0.0),
        total_bytes=int(audits["total-byte-weight"]["numericValue"]),
        library_bytes=sum(
            int(r["transferSize"])
            for r in requests
            if prefix and urlsplit(r["url"]).path.startswith(prefix)
        ),
        html_bytes=int(
            next(r["transferSize"] for r in requests if r["resourceType"] == "Document")
        ),
        lcp_element=" ".join(node_labels(audits["largest-contentful-paint-element"])),
        shifted_elements=node_labels(audits["layout-shifts"].get("details")),
        benchmark_index=report["environment"]["benchmarkIndex"],
        warnings=list(report.get("runWarnings", [])),
    )


def median_row(runs: Sequence[Run]) -> list[str]:
    """One line of the table: the medians of one library and preset."""

    def median(name: str) -> float:
        return float(statistics.median(getattr(run, name) for run in runs))

    def kib(name: str) -> str:
        return f"{median(name) / 1024:.1f}"

    blocking = statistics.median(len(run.render_blocking) for run in runs)
    return [
        runs[0].library,
        runs[0].preset,
        f"{median('score'):.0f}",
        f"{median('fcp_ms'):,.0f}",
        f"{median('lcp_ms'):,.0f}",
        f"{median('tbt_ms'):,.0f}",
        f"{median('cls'):.3f}",
        f"{median('speed_index_ms'):,.0f}",
        f"{blocking:g} ({median('render_blocking_savings_ms'):,.0f} ms)",
        kib("total_bytes"),
        kib("library_bytes"),
        kib("html_bytes"),
    ]


TABLE_HEADER = (
    "library", "preset", "score", "FCP ms", "LCP ms", "TBT ms", "CLS", "SI ms",
    "render-blocking (savings)", "total KiB", "library JS+CSS KiB", "HTML KiB",
)  # fmt: skip


def report(
    runs: Sequence[Run], libraries: Sequence[str], presets: Sequence[str]
) -> list[list[str]]:
    """Prints the Markdown table of medians and what lies behind it; returns the table's rows."""
    groups = {
        (library, preset): [r for r in runs if r.library == library and r.preset == preset]
        for library in libraries
        for preset in presets
    }
    rows = [median_row(group) for group in groups.values()]
    print_table(TABLE_HEADER, rows)
    print(
        "Per library and preset: every resource Lighthouse counted as render-blocking in "
        "some run, the most common LCP element, every element it saw shift, and the "
        "median benchmarkIndex of the machine (Lighthouse's CPU speed measure)."
    )
    print()
    for (library, preset), group in groups.items():
        blocking = sorted({path for run in group for path in run.render_blocking})
        lcp = Counter(run.lcp_element for run in group).most_common(1)[0][0]
        shifted = sorted({element for run in group for element in run.shifted_elements})
        cpu = statistics.median(run.benchmark_index for run in group)
        print(f"- {library}, {preset} (benchmarkIndex {cpu:.0f})")
        print(f"  - render-blocking: {', '.join(f'`{path}`' for path in blocking) or 'none'}")
        print(f"  - LCP element: `{lcp}`")
        print(f"  - shifted: {'; '.join(f'`{element}`' for element in shifted) or 'nothing'}")
    print()
    return rows


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    summary = (__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench.lighthouse", description=summary)
    parser.add_argument("--runs", type=int, default=3, help="runs per library and preset")
    parser.add_argument("--presets", default=",".join(PRESETS), help="mobile, desktop")
    parser.add_argument(
        "--libraries", default=",".join(LIBRARIES), help=f"among {', '.join(LIBRARIES)}"
    )
    parser.add_argument("--json", type=Path, help="also write every run to this file")
    parser.add_argument("--npm-dir", type=Path, default=NPM_DIR, help="npm cache of the tools")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Checks every banner, runs Lighthouse round-robin, prints the table; 2 on bad options."""
    args = parse_arguments(argv)
    libraries = args.libraries.split(",")
    presets = args.presets.split(",")
    if not set(libraries) <= set(LIBRARIES) or not set(presets) <= set(PRESETS) or args.runs < 1:
        choices = f"--libraries among {', '.join(LIBRARIES)}, --presets among {', '.join(PRESETS)}"
        print(f"choose {choices}, and --runs of at least 1", file=sys.stderr)
        return 2
    if not Path(CHROMIUM).exists():
        print(f"Chromium is missing at {CHROMIUM}: apt-get install -y chromium", file=sys.stderr)
        return 2
    install_npm_packages(args.npm_dir)
    pythonpath = os.environ.get("PYTHONPATH")
    command = [f"PYTHONPATH={pythonpath}"] if pythonpath else []
    command += ["python -m bench.lighthouse", *(sys.argv[1:] if argv is None else argv)]
    environment = {
        "command": " ".join(command),
        "consent": measured_checkout(),
        "lighthouse": package_version(args.npm_dir, "lighthouse"),
        "vanilla-cookieconsent": package_version(args.npm_dir, "vanilla-cookieconsent"),
        "klaro": package_version(args.npm_dir, "klaro"),
        "chromium": subprocess.run(
            [CHROMIUM, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "node": subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "load average at start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }
    print("# Lighthouse: the same article with each cookie banner")
    print()
    for key, value in environment.items():
        print(f"- {key}: {value}")
    print(f"- runs: {args.runs} per library and preset, round-robin; medians below")
    print()
    apps = {name: site_app(LIBRARIES[name], args.npm_dir) for name in libraries}
    runs: list[Run] = []
    with serving(apps) as origins:
        check_banners(origins)
        for index in range(args.runs):
            for preset in presets:
                for name in libraries:
                    print(f"run {index + 1}/{args.runs}: {name}, {preset}", file=sys.stderr)
                    lighthouse = run_lighthouse(args.npm_dir, origins[name] + "/", preset)
                    runs.append(read_run(lighthouse, LIBRARIES[name], preset, origins[name]))
    rows = report(runs, libraries, presets)
    environment["load average at end"] = " ".join(f"{load:.2f}" for load in os.getloadavg())
    if args.json:
        results = {
            "environment": environment,
            "medians": [dict(zip(TABLE_HEADER, row, strict=True)) for row in rows],
            "runs": [asdict(run) for run in runs],
        }
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
