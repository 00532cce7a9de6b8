"""ConsentMiddleware on the request and response path, through a minimal app."""

from __future__ import annotations

import gzip
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from consent import Category, ConsentMiddleware, ConsentState, get_consent
from consent.log import MemoryConsentLog
from tests.asgi import body_of, call, consent_cookie, headers_of, http_scope
from tests.conftest import make_settings

PAGE = "<!doctype html><html><head><title>t</title></head><body><h1>Article</h1></body></html>"
SETTINGS = make_settings(necessary_cookies=["session"])


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def tracked_page(request: Request) -> Response:
    response = HTMLResponse(PAGE)
    response.set_cookie("session", "s1", httponly=True)
    response.set_cookie("_ga", "GA1.1.2", domain=".testserver.example", path="/")
    response.set_cookie("_fbp", "fb.1")
    response.set_cookie("preferences_theme", "dark")
    response.raw_headers.append((b"set-cookie", b"  _ga_XYZ  =  1 ;Path=/;  Secure"))
    return response


async def data(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def echo_cookies(request: Request) -> Response:
    return JSONResponse({"cookie": request.headers.get("cookie"), "cookies": request.cookies})


async def state(request: Request) -> Response:
    consent = get_consent(request)
    return JSONResponse(
        {
            "decided": consent.decided,
            "granted": sorted(consent.granted),
            "consent_id": consent.consent_id,
            "gpc": consent.gpc,
            "revision": consent.revision,
            "allows_analytics": consent.allows("analytics"),
        }
    )


def streamed(chunks: list[bytes]) -> Any:
    async def endpoint(request: Request) -> Response:
        async def body() -> Any:
            for chunk in chunks:
                yield chunk

        return StreamingResponse(body(), media_type="text/html")

    return endpoint


def make_app(**overrides: Any) -> Starlette:
    routes = [
        Route("/", page),
        Route("/tracked", tracked_page),
        Route("/data", data),
        Route("/echo", echo_cookies),
        Route("/state", state),
        Route("/stream", streamed([b"<html><body><p>one</p></bo", b"dy></html>"])),
    ]
    app = Starlette(routes=routes)
    settings = make_settings(necessary_cookies=["session"], **overrides) if overrides else SETTINGS
    app.add_middleware(ConsentMiddleware, settings=settings)
    return app


def client(cookies: dict[str, str] | None = None, **overrides: Any) -> TestClient:
    test_client = TestClient(make_app(**overrides))
    for name, value in (cookies or {}).items():
        test_client.cookies.set(name, value)
    return test_client


def decided_client(granted: set[str], method: str = "s") -> TestClient:
    test_client = client()
    value = consent_cookie(SETTINGS, granted, method)[1].decode().split("=", 1)[1]  # type: ignore[arg-type]
    test_client.cookies.set("consent", value)
    return test_client


def set_cookie_names(response: Any) -> list[str]:
    return [v.split("=", 1)[0].strip() for v in response.headers.get_list("set-cookie")]


# --- the banner ---------------------------------------------------------------------------


def test_undecided_visitor_gets_the_banner_first_in_the_body() -> None:
    response = client().get("/")
    start = PAGE.partition("<h1>")[0]
    assert response.text.startswith(start + '<div class="consent-root"')
    script = r'<script type="module" src="/_consent/static/consent\.[0-9a-f]{12}\.js"'
    script += r' fetchpriority="low">'
    assert re.search(script + r"</script><link rel=\"preload\"", response.text)
    assert re.search(r"</noscript><h1>Article</h1></body></html>$", response.text)
    assert response.text.count("data-consent-banner") == 1
    assert int(response.headers["content-length"]) == len(response.content)
    # The page depends on the visitor's cookies, their language and how it was fetched.
    assert response.headers["vary"] == "Cookie, Accept-Language, Sec-Fetch-Dest"


def test_banner_is_real_forms_with_equal_sibling_buttons() -> None:
    html = client().get("/").text
    form = re.search(r'<form[^>]*method="post" action="/_consent">(.*?)</form>', html, re.S)
    assert form is not None
    buttons = re.findall(r"<button ([^>]*)>", form.group(1))
    assert len(buttons) == 2
    classes = {re.search(r'class="([^"]*)"', b).group(1) for b in buttons}  # type: ignore[union-attr]
    assert classes == {"consent-button"}  # same class: same size and weight
    assert 'data-consent-action="reject_all"' in buttons[0]
    assert 'data-consent-action="accept_all"' in buttons[1]
    assert '<input type="hidden" name="next" value="/">' in form.group(1)
    assert 'href="/_consent/preferences?next=/" data-consent-action="preferences"' in html
    assert re.search(
        r'<link rel="stylesheet" href="/_consent/static/consent\.[0-9a-f]{12}\.css"', html
    )


def test_decided_visitor_gets_the_settings_control_not_the_banner() -> None:
    html = decided_client({"analytics"}).get("/").text
    assert "data-consent-banner" not in html
    assert re.search(r'<a [^>]*data-consent-action="preferences">Cookie settings</a>', html)


def test_next_is_escaped_in_markup() -> None:
    scope = http_scope(query=b'q="><script>alert(1)</script>')
    html = body_of(call(ConsentMiddleware(_html_app, SETTINGS), scope)).decode()
    assert "<script>alert(1)" not in html
    assert 'name="next" value="/?q=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    assert "?next=/%3Fq%3D%22%3E%3Cscript%3Ealert%281%29%3C/script%3E" in html


def test_texts_are_escaped() -> None:
    hostile = Category(key="x", title="<b>bold</b>", description='"><img src=x onerror=alert(1)>')
    response = client(categories=[hostile]).get("/_consent/preferences")
    assert "<b>bold</b>" not in response.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in response.text
    assert "<img src=x" not in response.text


def test_streamed_body_with_split_end_tag() -> None:
    response = client().get("/stream")
    assert response.text.startswith('<html><body><div class="consent-root"')
    assert response.text.endswith("</noscript><p>one</p></body></html>")
    assert "content-length" not in response.headers


def test_gpc_visitor_is_told_the_signal_is_honoured() -> None:
    html = client().get("/", headers={"Sec-GPC": "1"}).text
    assert "Opt-out request honored" in html
    assert "Opt-out request honored" not in client().get("/").text


@pytest.mark.parametrize(
    ("status", "injected"),
    [(200, True), (404, True), (500, True), (204, False), (206, False), (301, False), (304, False)],
)
def test_only_page_statuses_get_the_banner(status: int, injected: bool) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await HTMLResponse(PAGE, status_code=status)(scope, receive, send)

    messages = call(ConsentMiddleware(app, SETTINGS), http_scope())
    assert (b"data-consent-banner" in body_of(messages)) is injected


# --- what passes untouched ---------------------------------------------------------------


def bare_and_wrapped(
    response: Response, scope: dict[str, Any]
) -> tuple[list[Message], list[Message]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await response(scope, receive, send)

    return call(app, dict(scope)), call(ConsentMiddleware(app, SETTINGS), dict(scope))


@pytest.mark.parametrize(
    ("response", "method"),
    [
        (JSONResponse({"a": 1}), "GET"),
        (HTMLResponse(PAGE), "HEAD"),
        (
            Response(
                gzip.compress(PAGE.encode()),
                media_type="text/html",
                headers={"content-encoding": "gzip"},
            ),
            "GET",
        ),
        (Response(b"data: </body>\n\n", media_type="text/event-stream"), "GET"),
        (Response(PAGE.encode("utf-16"), media_type="text/html; charset=utf-16"), "GET"),
        (Response(b"<svg></svg>", media_type="image/svg+xml"), "GET"),
    ],
    ids=["json", "head", "gzip", "event-stream", "utf-16", "svg"],
)
def test_passes_byte_for_byte(response: Response, method: str) -> None:
    bare, wrapped = bare_and_wrapped(response, http_scope(method=method))
    assert wrapped == bare


def test_response_header_names_are_read_in_any_case() -> None:
    """ASGI lets an app send ``Set-Cookie`` or ``SET-COOKIE``: each is the same header."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"Content-Type", b"Text/HTML; charset=utf-8"),
            (b"Set-Cookie", b"_ga=GA1.1.2; Path=/"),
            (b"SET-COOKIE", b"_fbp=fb.1"),
            (b"set-Cookie", b"session=s1; HttpOnly"),
            (b"X-Custom", b"kept"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE.encode()})

    messages = call(ConsentMiddleware(app, SETTINGS), http_scope())
    set_cookies = [value for name, value in headers_of(messages) if name.lower() == b"set-cookie"]
    assert set_cookies == [b"session=s1; HttpOnly"]
    assert (b"X-Custom", b"kept") in headers_of(messages)
    assert b"data-consent-banner" in body_of(messages)


def test_gzip_with_an_upper_case_name_passes_byte_for_byte() -> None:
    compressed = gzip.compress(PAGE.encode())

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html"), (b"Content-Encoding", b"gzip")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": compressed})

    assert body_of(call(ConsentMiddleware(app, SETTINGS), http_scope())) == compressed


def test_pathsend_keeps_its_original_headers() -> None:
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/html"), (b"content-length", b"1234")],
    }
    pathsend = {"type": "http.response.pathsend", "path": "/srv/page.html"}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(dict(start))
        await send(dict(pathsend))

    scope = http_scope(extensions={"http.response.pathsend": {}})
    assert call(ConsentMiddleware(app, SETTINGS), scope) == [start, pathsend]


def test_websocket_scope_passes_straight_through() -> None:
    seen: list[tuple[Scope, Receive, Send]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent")

    import asyncio

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"cookie", b"_ga=1")]}
    asyncio.run(ConsentMiddleware(app, SETTINGS)(scope, receive, send))
    assert seen == [(scope, receive, send)]
    assert "consent" not in scope


def test_lifespan_passes_straight_through() -> None:
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent")

    import asyncio

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    asyncio.run(ConsentMiddleware(app, SETTINGS)(scope, receive, send))
    assert seen == [(scope, receive, send)]


# --- cookies ------------------------------------------------------------------------------


def test_undecided_visitor_gets_only_necessary_cookies() -> None:
    response = client().get("/tracked")
    assert set_cookie_names(response) == ["session"]


def test_granted_category_cookies_pass() -> None:
    response = decided_client({"analytics"}).get("/tracked")
    assert set_cookie_names(response) == ["session", "_ga", "_ga_XYZ"]
    assert "  _ga_XYZ  =  1 ;Path=/;  Secure" in response.headers.get_list("set-cookie")


def test_undeclared_cookie_blocked_even_with_everything_granted() -> None:
    response = decided_client({"preferences", "analytics", "marketing"}).get("/tracked")
    assert "preferences_theme" not in set_cookie_names(response)
    assert "_fbp" in set_cookie_names(response)


def test_undeclared_cookie_allowed_when_configured() -> None:
    response = client(undeclared_cookies="allow").get("/tracked")
    assert set_cookie_names(response) == ["session", "preferences_theme"]


def test_stripping_on_non_html_adds_vary() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"a": 1})
        response.set_cookie("_ga", "1")
        await response(scope, receive, send)

    messages = call(ConsentMiddleware(app, SETTINGS), http_scope())
    assert headers_of(messages) == [
        (b"content-length", b"7"),
        (b"content-type", b"application/json"),
        (b"vary", b"Cookie"),
    ]
    assert body_of(messages) == b'{"a":1}'


def test_refused_incoming_cookies_are_hidden_from_the_app() -> None:
    test_client = client({"_ga": "GA1", "session": "abc", "tracker": "t"})
    response = test_client.get("/echo")
    assert response.json()["cookies"] == {"session": "abc"}


def test_refused_incoming_cookies_are_expired_on_every_domain() -> None:
    response = client().get(
        "/echo", headers={"cookie": "_ga=GA1; session=abc", "host": "www.example.com"}
    )
    expiries = response.headers.get_list("set-cookie")
    assert expiries == [
        "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
        "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=example.com",
        "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=www.example.com",
    ]


def test_granted_incoming_cookies_reach_the_app_untouched() -> None:
    test_client = decided_client({"analytics"})
    test_client.cookies.set("_ga", "GA1")
    response = test_client.get("/echo")
    assert response.json()["cookies"]["_ga"] == "GA1"
    assert response.headers.get_list("set-cookie") == []


# --- request state ------------------------------------------------------------------------


def test_state_of_an_undecided_visitor() -> None:
    assert client().get("/state").json() == {
        "decided": False,
        "granted": ["necessary"],
        "consent_id": None,
        "gpc": False,
        "revision": 1,
        "allows_analytics": False,
    }


def test_state_of_a_decided_visitor() -> None:
    body = decided_client({"analytics"}).get("/state").json()
    assert body["decided"] is True
    assert body["granted"] == ["analytics", "necessary"]
    assert body["allows_analytics"] is True
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", body["consent_id"])


@pytest.mark.parametrize(
    ("method", "granted"),
    [
        ("a", ["analytics", "necessary", "preferences"]),
        ("s", ["analytics", "marketing", "necessary", "preferences"]),
    ],
)
def test_gpc_turns_off_opt_out_categories_unless_chosen_one_by_one(
    method: str, granted: list[str]
) -> None:
    test_client = decided_client({"preferences", "analytics", "marketing"}, method)
    body = test_client.get("/state", headers={"Sec-GPC": "1"}).json()
    assert body["gpc"] is True
    assert body["granted"] == granted


@pytest.mark.parametrize(
    ("values", "gpc"),
    [
        ([b"1"], True),
        ([b"0"], False),
        ([b"true"], False),
        ([b"yes"], False),
        ([b"11"], False),
        ([b"0", b"1"], True),
        ([b""], False),
    ],
)
def test_only_gpc_value_1_counts(values: list[bytes], gpc: bool) -> None:
    seen: list[ConsentState] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(get_consent(scope))
        await JSONResponse({})(scope, receive, send)

    call(ConsentMiddleware(app, SETTINGS), http_scope(headers=[(b"sec-gpc", v) for v in values]))
    assert seen[0].gpc is gpc


def test_get_consent_without_middleware_says_so() -> None:
    with pytest.raises(RuntimeError, match="add ConsentMiddleware"):
        get_consent({"type": "http"})


@hypothesis_settings(suppress_health_check=[HealthCheck.too_slow], max_examples=150)
@given(st.binary(max_size=300).filter(lambda b: b"\r" not in b and b"\n" not in b))
def test_any_cookie_header_is_a_safe_answer(header: bytes) -> None:
    messages = call(
        ConsentMiddleware(_html_app, SETTINGS), http_scope(headers=[(b"cookie", header)])
    )
    assert messages[0]["status"] == 200
    assert b"data-consent-banner" in body_of(messages)


async def _html_app(scope: Scope, receive: Receive, send: Send) -> None:
    await HTMLResponse(PAGE)(scope, receive, send)


@pytest.mark.parametrize(
    ("destination", "injected"),
    [(None, True), (b"document", True), (b"iframe", False), (b"empty", False), (b"frame", False)],
)
def test_banner_only_in_pages_navigated_to(destination: bytes | None, injected: bool) -> None:
    headers = [(b"sec-fetch-dest", destination)] if destination else []
    messages = call(ConsentMiddleware(_html_app, SETTINGS), http_scope(headers=headers))
    assert (b"data-consent-banner" in body_of(messages)) is injected


def test_banner_names_the_purposes() -> None:
    html = client().get("/").text
    assert "Purposes: Preferences, Analytics, Advertising." in html


# --- the log's part in the request path --------------------------------------------------------


def test_lifespan_starts_the_log_before_startup_completes_and_closes_it_after_shutdown() -> None:
    import asyncio

    log = MemoryConsentLog()
    order: list[str] = []
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        order.append(f"{message['type']} (log started={log.started}, closed={log.closed})")

    asyncio.run(ConsentMiddleware(app, SETTINGS, log=log)({"type": "lifespan"}, receive, send))
    assert order == [
        "lifespan.startup.complete (log started=True, closed=False)",
        "lifespan.shutdown.complete (log started=True, closed=True)",
    ]


def test_every_cookie_seen_is_counted_with_its_category_and_fate() -> None:
    log = MemoryConsentLog()
    app = Starlette(routes=[Route("/tracked", tracked_page)])
    app.add_middleware(ConsentMiddleware, settings=SETTINGS, log=log)
    test_client = TestClient(app)
    test_client.get("/tracked", headers={"cookie": "_ga=1; session=s; stray=1"})
    counts = {
        name: (count.category, count.seen, count.blocked) for name, count in log.cookies.items()
    }
    assert counts == {
        "_ga": ("analytics", 2, 2),
        "_ga_XYZ": ("analytics", 1, 1),
        "_fbp": ("marketing", 1, 1),
        "session": ("necessary", 2, 0),
        "stray": ("UNDECLARED", 1, 1),
        "preferences_theme": ("UNDECLARED", 1, 1),
    }
