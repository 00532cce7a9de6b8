"""The flagship example site, through the real middleware: what a visitor's browser receives."""

from __future__ import annotations

import gc
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from starlette.testclient import TestClient
from typer.testing import CliRunner

from consent import ConsentSettings
from consent.cli import app as cli_app
from examples.article_site.app import create_app
from examples.article_site.articles import ARTICLES
from examples.article_site.thirdparty import create_tracker_app

US_JAPAN = "/articles/us-japan-joint-command-upgrade"
VIDEO_ARTICLE = "/articles/council-approves-eastside-tram"

DECLARED_COOKIES = (
    "session",
    "theme",
    "_ga",
    "_ga_*",
    "_gid",
    "site_analytics",
    "_fbp",
    "_gcl_au",
    "IDE",
)


def make_client() -> TestClient:
    return TestClient(create_app(log_url=None))


def cookie_headers(response_headers: list[str], name: str) -> list[str]:
    """The Set-Cookie headers that set or expire `name`."""
    return [header for header in response_headers if header.startswith(f"{name}=")]


def decide(client: TestClient, action: str, categories: tuple[str, ...] = ()) -> None:
    response = client.post(
        "/_consent",
        data={"action": action, "categories": list(categories), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303


class GatedElements(HTMLParser):
    """Collects the attributes of every element that carries data-consent-category."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "data-consent-category" in attributes:
            self.elements.append((tag, attributes))


def gated_elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = GatedElements()
    parser.feed(html)
    return parser.elements


def test_front_page_lists_all_five_articles() -> None:
    response = make_client().get("/")

    assert response.status_code == 200
    assert len(ARTICLES) == 5
    assert response.text.count('href="/articles/') == 5
    for article in ARTICLES:
        assert f'href="/articles/{article.slug}"' in response.text


def test_us_japan_article_renders() -> None:
    response = make_client().get(US_JAPAN)

    assert response.status_code == 200
    assert "<h1>Allies rewire the chain of command" in response.text
    assert "1960" in response.text
    assert response.text.count("<h1") == 1


def test_undecided_visitor_gets_banner_and_no_analytics_cookie() -> None:
    response = make_client().get(US_JAPAN)

    assert response.status_code == 200
    assert "data-consent-banner" in response.text
    assert cookie_headers(response.headers.get_list("set-cookie"), "site_analytics") == []


def test_accept_all_lets_the_analytics_cookie_through() -> None:
    client = make_client()
    decide(client, "accept_all")

    response = client.get(US_JAPAN)

    [header] = cookie_headers(response.headers.get_list("set-cookie"), "site_analytics")
    assert "Max-Age=0" not in header


def test_reject_all_blocks_the_analytics_cookie() -> None:
    client = make_client()
    decide(client, "reject_all")

    response = client.get(US_JAPAN)

    assert cookie_headers(response.headers.get_list("set-cookie"), "site_analytics") == []


def test_reject_all_expires_an_analytics_cookie_the_browser_already_holds() -> None:
    client = make_client()
    decide(client, "reject_all")
    client.cookies.set("site_analytics", "left-over-visitor-id-1234")

    response = client.get(US_JAPAN)

    # Deleted at / and at the default path of the article that was asked for.
    headers = cookie_headers(response.headers.get_list("set-cookie"), "site_analytics")
    assert all("Max-Age=0" in header for header in headers)
    assert {header.rsplit("Path=", 1)[1].split(";")[0] for header in headers} == {"/", "/articles"}


def test_login_sets_session_cookie_for_undecided_visitor() -> None:
    response = make_client().post(
        "/login", data={"username": "reader", "password": "demo"}, follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert len(cookie_headers(response.headers.get_list("set-cookie"), "session")) == 1


def test_signed_in_visitor_sees_name_in_header() -> None:
    client = make_client()
    client.post("/login", data={"username": "reader", "password": "demo"})

    response = client.get("/")

    assert "Signed in as <strong>reader</strong>" in response.text


def test_wrong_password_does_not_sign_in() -> None:
    response = make_client().post(
        "/login", data={"username": "reader", "password": "wrong"}, follow_redirects=False
    )

    assert response.status_code == 400
    assert cookie_headers(response.headers.get_list("set-cookie"), "session") == []


def test_gated_scripts_are_inert_for_undecided_visitor() -> None:
    elements = gated_elements(make_client().get(VIDEO_ARTICLE).text)

    scripts = [
        (attrs["data-consent-category"], attrs) for tag, attrs in elements if tag == "script"
    ]
    assert [category for category, _ in scripts] == ["analytics", "marketing"]
    assert all(attrs.get("type") == "text/plain" for _, attrs in scripts)
    assert scripts[0][1]["src"] == "/thirdparty/analytics.js"
    assert scripts[1][1]["src"] == "/thirdparty/ads.js"


def test_pixel_and_video_have_no_src_for_undecided_visitor() -> None:
    elements = gated_elements(make_client().get(VIDEO_ARTICLE).text)

    [pixel] = [attrs for tag, attrs in elements if tag == "img"]
    [iframe] = [attrs for tag, attrs in elements if tag == "iframe"]
    assert "src" not in pixel
    assert pixel["data-src"] == "/thirdparty/pixel.gif"
    assert "src" not in iframe
    assert iframe["data-consent-category"] == "media"
    assert iframe["data-consent-service"] == "harbourton-video"
    assert iframe["data-src"] == "/thirdparty/video.html"


def test_tracker_origin_is_used_for_third_party_urls() -> None:
    client = TestClient(create_app(log_url=None, tracker_origin="http://127.0.0.2:8001"))

    response = client.get(VIDEO_ARTICLE)

    sources = [
        attrs.get("src") or attrs.get("data-src") for _, attrs in gated_elements(response.text)
    ]
    assert sources == [
        "http://127.0.0.2:8001/analytics.js",
        "http://127.0.0.2:8001/ads.js",
        "http://127.0.0.2:8001/pixel.gif",
        "http://127.0.0.2:8001/video.html",
    ]
    assert client.get("/thirdparty/analytics.js").status_code == 404


@pytest.mark.parametrize("name", DECLARED_COOKIES)
def test_privacy_page_lists_declared_cookie(name: str) -> None:
    response = make_client().get("/privacy")

    assert response.status_code == 200
    assert f"<code>{name}</code>" in response.text


def test_privacy_page_lists_the_consent_cookie() -> None:
    app = create_app(log_url=None)
    given = [middleware.kwargs.get("settings") for middleware in app.user_middleware]
    [settings] = [value for value in given if isinstance(value, ConsentSettings)]

    response = TestClient(app).get("/privacy")

    assert f"<code>{settings.cookie_name}</code>" in response.text


def test_privacy_page_shows_current_choices() -> None:
    client = make_client()
    decide(client, "save", ("preferences",))

    response = client.get("/privacy")

    assert "<strong>Preferences</strong>: allowed" in response.text
    assert "<strong>Analytics</strong>: refused" in response.text


@pytest.mark.parametrize(
    ("decision", "categories"),
    [(None, ()), ("reject_all", ()), ("save", ("analytics", "marketing", "media"))],
)
def test_theme_cookie_is_stripped_without_preferences(
    decision: str | None, categories: tuple[str, ...]
) -> None:
    client = make_client()
    if decision is not None:
        decide(client, decision, categories)

    response = client.post(
        "/theme", data={"theme": "dark", "next": "/privacy"}, follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/privacy"
    assert cookie_headers(response.headers.get_list("set-cookie"), "theme") == []


def test_theme_cookie_is_set_when_preferences_granted() -> None:
    client = make_client()
    decide(client, "save", ("preferences",))

    response = client.post(
        "/theme", data={"theme": "dark", "next": "/privacy"}, follow_redirects=False
    )

    [header] = cookie_headers(response.headers.get_list("set-cookie"), "theme")
    assert header.startswith("theme=dark;")
    assert 'class="theme-dark"' in client.get("/privacy").text


def test_theme_form_does_not_redirect_off_site() -> None:
    response = make_client().post(
        "/theme", data={"theme": "dark", "next": "//evil.example/"}, follow_redirects=False
    )

    assert response.headers["location"] == "/"


@pytest.mark.parametrize("path", ["/articles/no-such-article", "/no/such/page"])
def test_unknown_path_gets_the_sites_404_page(path: str) -> None:
    response = make_client().get(path)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<h1 class="page-title">Page not found</h1>' in response.text
    assert 'class="site-header"' in response.text


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/analytics.js", "application/javascript"),
        ("/ads.js", "application/javascript"),
        ("/pixel.gif", "image/gif"),
        ("/video.html", "text/html; charset=utf-8"),
        ("/vistaline.html", "text/html; charset=utf-8"),
        ("/privacy/harbourton-video", "text/html; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
    ],
)
def test_tracker_app_serves_third_party_files(path: str, media_type: str) -> None:
    response = TestClient(create_tracker_app()).get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers.get_list("set-cookie") == []


class InlineCode(HTMLParser):
    """Finds what `Content-Security-Policy: default-src 'self'` would block."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "style" in attributes:
            self.found.append(f"<{tag} style=...>")
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and not attributes.get("src"):
            self.found.append("<script> without src")
        self.found.extend(f"<{tag} {name}=...>" for name in attributes if name.startswith("on"))


@pytest.mark.parametrize("decision", ["undecided", "accept_all"])
@pytest.mark.parametrize("path", ["/", US_JAPAN, VIDEO_ARTICLE, "/privacy", "/login", "/missing"])
def test_page_has_no_inline_script_or_style(path: str, decision: str) -> None:
    client = make_client()
    if decision != "undecided":
        decide(client, decision)
    parser = InlineCode()

    parser.feed(client.get(path).text)

    assert parser.found == []


@pytest.mark.parametrize("freeze", [False, True])
def test_site_freezes_its_start_up_heap_only_when_asked(freeze: bool) -> None:
    gc.unfreeze()
    try:
        app = create_app(log_url=None, freeze_startup_heap=freeze)
        assert gc.get_freeze_count() == 0
        with TestClient(app) as client:
            assert client.get("/").status_code == 200
            assert (gc.get_freeze_count() > 0) is freeze
    finally:
        gc.unfreeze()


# --- consent demo: the site, and its third parties on a second origin ----------------------


@contextmanager
def running_demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """``consent demo`` on two free ports: the process, the site's URL and the trackers'
    origin, as it prints them, once both servers answer."""
    command = [sys.executable, "-m", "consent.cli", "demo", "--port", "0", "--tracker-port", "0"]
    process = subprocess.Popen(
        [*command, "--db", f"sqlite:///{tmp_path / 'demo.db'}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        site = re.search(r"article site at (http://\S+?)/?$", process.stdout.readline())
        tracker = re.search(r"second origin\) at (http://\S+?)/?$", process.stdout.readline())
        assert site is not None
        assert tracker is not None
        for origin in (site[1], tracker[1]):
            wait_until_it_answers(origin + "/")
        yield process, site[1], tracker[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def wait_until_it_answers(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
def test_demo_loads_the_third_parties_from_a_second_origin(tmp_path: Path) -> None:
    with running_demo(tmp_path) as (_, site, tracker):
        assert urlsplit(site).port != urlsplit(tracker).port
        html = urllib.request.urlopen(site + VIDEO_ARTICLE, timeout=5).read().decode()
        sources = [attrs.get("src") or attrs.get("data-src") for _, attrs in gated_elements(html)]

        assert sources == [
            f"{tracker}/analytics.js",
            f"{tracker}/ads.js",
            f"{tracker}/pixel.gif",
            f"{tracker}/video.html",
        ]
        assert [status_of(source) for source in sources if source] == [200, 200, 200, 200]
        assert status_of(site + "/thirdparty/analytics.js") == 404


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_demo_stops_both_servers_on(stop: signal.Signals, tmp_path: Path) -> None:
    with running_demo(tmp_path) as (process, _, _):
        process.send_signal(stop)

        # Both servers shut down, then the process ends by itself: neither is left running.
        assert process.wait(timeout=30) == 0
        assert process.stdout is not None
        assert "Traceback" not in process.stdout.read()


def test_demo_serves_the_third_parties_on_the_host_it_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    served: list[tuple[str, int, Any]] = []

    async def keep(server: uvicorn.Server, **_options: Any) -> None:
        served.append((server.config.host, server.config.port, server.config.app))

    # Not started here (the tests above start them): what each server is given is kept.
    monkeypatch.setattr(uvicorn.Server, "serve", keep)
    options = ["--port", "0", "--tracker-host", "localhost", "--tracker-port", "0"]
    result = CliRunner().invoke(cli_app, ["demo", *options, "--db", f"sqlite:///{tmp_path}/d.db"])

    assert result.exit_code == 0, result.output
    [(site_host, _, site), (tracker_host, tracker_port, _)] = served
    assert (site_host, tracker_host) == ("127.0.0.1", "localhost")
    html = TestClient(site).get(VIDEO_ARTICLE).text
    [*_, (_, video)] = gated_elements(html)
    assert video["data-src"] == f"http://localhost:{tracker_port}/video.html"


@pytest.mark.parametrize("taken", ["--port", "--tracker-port"])
def test_demo_names_the_port_it_cannot_listen_on(taken: str, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        options = {"--port": "0", "--tracker-port": "0", taken: str(port)}
        arguments = [item for pair in options.items() for item in pair]

        result = CliRunner().invoke(
            cli_app, ["demo", *arguments, "--db", f"sqlite:///{tmp_path}/d.db"]
        )

    assert result.exit_code == 2
    assert f"Invalid value for {taken}" in result.output
    assert "Traceback" not in result.output


def test_demo_refuses_one_origin_for_both() -> None:
    result = CliRunner().invoke(cli_app, ["demo", "--port", "8123", "--tracker-port", "8123"])

    assert result.exit_code == 2
    assert "Invalid value for --tracker-port" in result.output
