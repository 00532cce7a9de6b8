"""``cache_mode``: ESI pages and their fragments, one shared page, and the Varnish VCL.

In process: the middleware around a small ASGI app. The VCL is compiled by the
real ``varnishd -C`` (marked ``varnish``).
"""

from __future__ import annotations

import html
import importlib
import json
import os
import re
import string
import subprocess
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from typer.testing import CliRunner

from consent import Category, ConsentMiddleware, ConsentSettings
from consent.cli import app as cli_app
from consent.cli import load_demo_site
from consent.settings import CacheMode
from consent.vcl import cookie_name_regex, varnish_vcl
from tests.asgi import body_of, call, consent_cookie, header_values, http_scope
from tests.cache.servers import SITE_VCL, VARNISHD
from tests.conftest import SECRET, make_settings

ROOT = Path(__file__).resolve().parent.parent
DOCS_VCL = ROOT / "docs" / "varnish" / "consent.vcl"

PAGE = (
    "<!doctype html><html><head><title>t</title></head><body>"
    '<script type="text/plain" data-consent-category="analytics" src="/a.js"></script>'
    "<h1>Article</h1></body></html>"
)
GATED = b'<script type="text/plain" data-consent-category="analytics" src="/a.js">'
GOOGLE = (
    Category(
        key="analytics",
        title="Analytics",
        cookies=("_ga", "_ga_*"),
        google_consent_types=("analytics_storage",),
    ),
    Category(
        key="marketing",
        title="Ads",
        cookies=("_fbp",),
        gpc_opt_out=True,
        google_consent_types=("ad_storage",),
    ),
)
ESI = (b"surrogate-capability", b'varnish="ESI/1.0"')
"""What Varnish says of itself (``consent.vcl`` sets it on every request)."""

SETTINGS = make_settings(cache_mode="esi")
"""For ``consent vcl --settings tests.test_cache_modes:SETTINGS``."""
VARY_SETTINGS = make_settings()
NOT_SETTINGS = "a string"


def shared_settings() -> ConsentSettings:
    """For ``--settings tests.test_cache_modes:shared_settings``: a function that makes them."""
    return make_settings(cache_mode="shared", cookie_name="site_consent")


def example_site_settings() -> ConsentSettings:
    """The example article site's settings in ``"esi"`` mode, as docs/varnish/consent.vcl is."""
    load_demo_site()
    # load_demo_site() imports the example as a package of this name.
    module = importlib.import_module("consent_article_site.cookie_policy")
    settings = module.build_consent_settings(
        secret_key="docs-example-secret-key-0123456789abcdef", log_url=None, cache_mode="esi"
    )
    return cast(ConsentSettings, settings)


def site(mode: CacheMode, *, nonce: str = "", **overrides: Any) -> ConsentMiddleware:
    """The middleware in ``mode`` around an app that answers ``PAGE`` at every path."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if nonce:
            scope.setdefault("state", {})["csp_nonce"] = nonce
        await HTMLResponse(PAGE)(scope, receive, send)

    return ConsentMiddleware(app, make_settings(cache_mode=mode, **overrides))


def cookie_of(middleware: ConsentMiddleware, granted: set[str]) -> tuple[bytes, bytes]:
    return consent_cookie(middleware.settings, granted)


def vary_names(messages: list[Message]) -> list[str]:
    return [
        token.strip().decode()
        for value in header_values(messages, b"vary")
        for token in value.split(b",")
    ]


def includes(page: bytes) -> list[str]:
    return [src.decode() for src in re.findall(rb'<esi:include src="([^"]*)"/>', page)]


def consent_mode_state(fragment: str) -> dict[str, Any]:
    found = re.search(r'data-consent-mode="([^"]*)"', fragment)
    assert found is not None, fragment
    state: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return state


# --- cache_mode "esi": the page ------------------------------------------------------------


def test_esi_page_includes_the_fragments_where_the_snippets_go() -> None:
    messages = call(site("esi", categories=GOOGLE), http_scope(headers=[ESI]))
    assert body_of(messages).decode() == PAGE.replace(
        "<head>", '<head><esi:include src="/_consent/fragment/head"/>'
    ).replace("<body>", '<body><esi:include src="/_consent/fragment/body?next=/"/>')
    assert header_values(messages, b"surrogate-control") == [b'content="ESI/1.0"']
    assert header_values(messages, b"content-length") == [str(len(body_of(messages))).encode()]


def test_esi_page_has_no_head_include_without_consent_mode() -> None:
    page = body_of(call(site("esi"), http_scope(headers=[ESI]))).decode()
    assert page.startswith("<!doctype html><html><head><title>")
    assert includes(page.encode()) == ["/_consent/fragment/body?next=/"]


def test_esi_page_varies_by_how_it_is_fetched_not_by_cookie() -> None:
    middleware = site("esi")
    messages = call(middleware, http_scope(headers=[ESI, cookie_of(middleware, {"analytics"})]))
    # Every language gets the same page: the fragments are in the visitor's.
    assert vary_names(messages) == ["Sec-Fetch-Dest", "Surrogate-Capability"]


def test_esi_page_is_the_same_bytes_for_every_visitor() -> None:
    middleware = site("esi", categories=GOOGLE)
    visitors: dict[str, list[tuple[bytes, bytes]]] = {
        "undecided": [],
        "accepted": [cookie_of(middleware, {"analytics", "marketing"})],
        "rejected": [cookie_of(middleware, set())],
        "gpc": [(b"sec-gpc", b"1")],
    }
    pages = {
        name: call(middleware, http_scope("/news", headers=[ESI, *headers], query=b"p=2"))
        for name, headers in visitors.items()
    }
    assert pages["accepted"] == pages["undecided"]
    assert pages["rejected"] == pages["undecided"]
    assert pages["gpc"] == pages["undecided"]
    assert b"esi:include" in body_of(pages["undecided"])


def test_esi_page_leaves_gated_tags_to_the_browser() -> None:
    middleware = site("esi")
    accepted = cookie_of(middleware, {"analytics"})
    through_esi = body_of(call(middleware, http_scope(headers=[ESI, accepted])))
    assert GATED in through_esi
    # The same visitor's own page (no ESI processor in front) has the tag made live:
    # the assertion above is not true of every page.
    own_page = body_of(call(middleware, http_scope(headers=[accepted])))
    assert GATED not in own_page
    assert b'src="/a.js"' in own_page


def test_esi_includes_carry_the_pages_nonce_and_fragments_give_it_back() -> None:
    middleware = site("esi", nonce="n0nce+/=", categories=GOOGLE)
    client = TestClient(middleware)
    page = client.get("/", headers={"surrogate-capability": 'varnish="ESI/1.0"'})
    head, body = includes(page.content)
    assert head == "/_consent/fragment/head?nonce=n0nce%2B%2F%3D"
    assert body == "/_consent/fragment/body?next=/&nonce=n0nce%2B%2F%3D"
    # What the ESI processor fetches: the visitor's tags, with the page's nonce.
    name, value = cookie_of(middleware, {"analytics"})
    head_fragment = client.get(head, headers={name.decode(): value.decode()})
    assert head_fragment.text.startswith('<script nonce="n0nce+/=" data-consent-mode="')
    body_fragment = client.get(body).text
    assert body_fragment.count('nonce="n0nce+/="') == 2  # the banner's style and consent.js
    assert 'nonce="' not in body_fragment.replace('nonce="n0nce+/="', "")


def test_esi_body_include_names_the_page_as_next_url_encoded() -> None:
    middleware = site("esi")
    target = "/a%20b?x=1&y=%C3%A9&z=a/b"
    path, _, query = target.partition("?")
    page = body_of(call(middleware, http_scope(path, headers=[ESI], query=query.encode())))
    [body] = includes(page)
    assert body == "/_consent/fragment/body?next=" + quote(target, safe="/")
    fields = parse_qs(urlsplit(body).query)
    assert fields == {"next": [target]}
    # The fragment's forms come back to that page.
    fragment = TestClient(middleware).get(body).text
    assert f'name="next" value="{html.escape(target)}"' in fragment


@pytest.mark.parametrize(
    ("capability", "esi_page"),
    [
        (None, False),
        (b'varnish="ESI/1.0"', True),
        (b'cdn="ESI/1.0", varnish="ESI/1.0"', True),
        (b'varnish="ESI/0.9"', False),
    ],
)
def test_esi_mode_without_an_esi_processor_serves_the_visitors_own_page(
    capability: bytes | None, esi_page: bool
) -> None:
    headers = [(b"surrogate-capability", capability)] if capability else []
    messages = call(site("esi"), http_scope(headers=headers))
    page = body_of(messages)
    assert (b"esi:include" in page) is esi_page
    assert (b"data-consent-banner" in page) is not esi_page
    assert bool(header_values(messages, b"surrogate-control")) is esi_page
    assert ("Cookie" in vary_names(messages)) is not esi_page
    # Either way, a cache in front keeps the two apart.
    assert "Surrogate-Capability" in vary_names(messages)


# --- cache_mode "esi": the fragments -------------------------------------------------------


def fragment(
    middleware: ConsentMiddleware,
    part: str,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> list[Message]:
    return call(middleware, http_scope(f"/_consent/fragment/{part}", headers=headers, query=query))


@pytest.mark.parametrize(
    ("granted", "update"),
    [
        (None, None),
        (set(), {"ad_storage": "denied", "analytics_storage": "denied"}),
        ({"analytics"}, {"ad_storage": "denied", "analytics_storage": "granted"}),
    ],
)
def test_head_fragment_is_consent_mode_with_the_visitors_choice(
    granted: set[str] | None, update: dict[str, str] | None
) -> None:
    middleware = site("esi", categories=GOOGLE)
    headers = [cookie_of(middleware, granted)] if granted is not None else []
    messages = fragment(middleware, "head", headers=headers)
    text = body_of(messages).decode()
    assert re.fullmatch(
        r'<script src="/_consent/static/consent-mode\.[0-9a-f]{12}\.js" '
        r'data-consent-mode="[^"]*"></script>',
        text,
    )
    state = consent_mode_state(text)
    assert state["default"]["analytics_storage"] == "denied"
    assert state["default"]["security_storage"] == "granted"
    if update is None:
        assert state["update"] is None
    else:
        assert {name: state["update"][name] for name in update} == update


def test_body_fragment_of_an_undecided_visitor_is_the_banner() -> None:
    text = body_of(fragment(site("esi"), "body", b"next=/news")).decode()
    assert text.startswith('<div class="consent-root"')
    assert "data-consent-banner hidden" in text
    assert "data-consent-gpc" not in text
    assert "data-consent-settings hidden" in text
    assert 'name="next" value="/news"' in text


def test_body_fragment_tells_a_gpc_visitor_the_signal_is_honoured() -> None:
    text = body_of(fragment(site("esi"), "body", headers=[(b"sec-gpc", b"1")])).decode()
    assert "data-consent-banner hidden" in text
    assert '<p class="consent-banner__gpc" data-consent-gpc>' in text


@pytest.mark.parametrize(
    ("granted", "withdraw_form"),
    [(set(), "data-consent-withdraw hidden>"), ({"analytics"}, "data-consent-withdraw>")],
)
def test_body_fragment_of_a_decided_visitor_is_the_settings_control(
    granted: set[str], withdraw_form: str
) -> None:
    middleware = site("esi")
    text = body_of(fragment(middleware, "body", headers=[cookie_of(middleware, granted)])).decode()
    assert "data-consent-banner" not in text
    assert "data-consent-settings>" in text
    assert withdraw_form in text


@pytest.mark.parametrize("part", ["head", "body"])
def test_fragments_are_never_stored(part: str) -> None:
    messages = fragment(site("esi", categories=GOOGLE), part)
    assert messages[0]["status"] == 200
    assert header_values(messages, b"cache-control") == [b"private, no-store"]
    assert header_values(messages, b"content-type") == [b"text/html; charset=utf-8"]


@pytest.mark.parametrize(
    ("next_url", "kept"),
    [
        ("https://evil.example/x", "/"),
        ("//evil.example/x", "/"),
        ("javascript:alert(1)", "/"),
        ("http://testserver/a?b=1", "/a?b=1"),
        ("/news?page=2", "/news?page=2"),
    ],
)
def test_body_fragment_next_stays_on_the_site(next_url: str, kept: str) -> None:
    query = ("next=" + quote(next_url, safe="")).encode()
    text = body_of(fragment(site("esi"), "body", query)).decode()
    assert f'name="next" value="{html.escape(kept)}"' in text
    assert "evil" not in text


@pytest.mark.parametrize(
    "nonce",
    ['n"onmouseover="x', "<script>", "a b", "a" * 200, "é"],
    ids=["quote", "lt", "space", "200-characters", "non-ascii"],
)
@pytest.mark.parametrize("part", ["head", "body"])
def test_hostile_nonce_is_ignored(part: str, nonce: str) -> None:
    query = ("nonce=" + quote(nonce, safe="")).encode()
    text = body_of(fragment(site("esi", categories=GOOGLE), part, query)).decode()
    assert "nonce" not in text
    # The same request with a well-formed nonce does carry it.
    query = b"nonce=" + b"a" * 128
    assert (
        'nonce="' + "a" * 128 + '"'
        in body_of(fragment(site("esi", categories=GOOGLE), part, query)).decode()
    )


@pytest.mark.parametrize(
    "query",
    [
        b"next=%ff%fe%00",
        b"next=http://[::1",
        b"next=http://[bad/",
        b"next=" + b"/" * 5000,
        b"&&==&next&nonce",
        b"next=%zz&nonce=%zz",
        b"\xff\xfe=\x00",
    ],
)
def test_bad_fragment_query_is_a_banner_not_an_error(query: bytes) -> None:
    messages = fragment(site("esi"), "body", query)
    assert messages[0]["status"] == 200
    assert b"data-consent-banner" in body_of(messages)


_GOOGLE_ESI = site("esi", categories=GOOGLE)


@hypothesis_settings(suppress_health_check=[HealthCheck.too_slow], max_examples=150, deadline=None)
@given(st.sampled_from(["head", "body"]), st.binary(max_size=200))
def test_any_fragment_query_is_answered(part: str, query: bytes) -> None:
    messages = fragment(_GOOGLE_ESI, part, query)
    assert messages[0]["status"] == 200
    assert body_of(messages).startswith(b"<script" if part == "head" else b'<div class="consent')


@pytest.mark.parametrize(
    ("accept_language", "lang", "text"),
    [(None, "en", "Reject all"), (b"de-DE,de;q=0.9", "de", "Alle ablehnen")],
)
def test_body_fragment_speaks_the_visitors_language(
    accept_language: bytes | None, lang: str, text: str
) -> None:
    headers = [(b"accept-language", accept_language)] if accept_language else []
    fragment_text = body_of(fragment(site("esi"), "body", headers=headers)).decode()
    assert 'data-consent-banner hidden role="region"' in fragment_text
    assert f'lang="{lang}"' in fragment_text
    assert f">{text}</button>" in fragment_text


# --- cache_mode "shared" -------------------------------------------------------------------


def test_shared_page_is_the_same_bytes_for_every_visitor() -> None:
    middleware = site("shared", categories=GOOGLE)
    visitors: dict[str, list[tuple[bytes, bytes]]] = {
        "undecided": [],
        "accepted": [cookie_of(middleware, {"analytics", "marketing"})],
        "rejected": [cookie_of(middleware, set())],
        "gpc": [(b"sec-gpc", b"1")],
    }
    pages = {
        name: call(middleware, http_scope("/news", headers=headers, query=b"p=2"))
        for name, headers in visitors.items()
    }
    assert pages["accepted"] == pages["undecided"]
    assert pages["rejected"] == pages["undecided"]
    assert pages["gpc"] == pages["undecided"]
    page = body_of(pages["undecided"])
    assert b"data-consent-banner" in page
    assert GATED in page


@pytest.mark.parametrize("nonce", ["", "n-1"])
def test_shared_page_head_starts_with_the_consent_state_script(nonce: str) -> None:
    middleware = site("shared", nonce=nonce, cookie_name="site_consent", policy_revision=3)
    client = TestClient(middleware)
    page = client.get("/").text
    attribute = f' nonce="{nonce}"' if nonce else ""
    found = re.match(
        r"<!doctype html><html><head>"
        r'<script src="(/_consent/static/consent-state\.[0-9a-f]{12}\.js)"'
        + attribute
        + r' data-consent-state="([^"]*)"></script><title>',
        page,
    )
    assert found is not None, page[:300]
    assert json.loads(html.unescape(found.group(2))) == {
        "cookie": "site_consent",
        "revision": 3,
        "categories": ["preferences", "analytics", "marketing"],
        "gpc": ["marketing"],
        "optout": False,
        "services": [],
        "categoryOf": {},
        "fingerprint": "47DE",
    }
    script = client.get(found.group(1))
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "data-consent-state" in script.text


def test_shared_page_has_the_gpc_line_hidden_for_every_visitor() -> None:
    for headers in ([], [(b"sec-gpc", b"1")]):
        page = body_of(call(site("shared"), http_scope(headers=headers))).decode()
        assert page.count("data-consent-gpc") == 1
        assert '<p class="consent-banner__gpc" data-consent-gpc hidden>' in page


@pytest.mark.parametrize(
    ("overrides", "vary"),
    [
        ({}, ["Accept-Language", "Sec-Fetch-Dest"]),
        ({"locale": "de"}, ["Sec-Fetch-Dest"]),
    ],
)
def test_shared_page_varies_by_language_and_how_it_is_fetched(
    overrides: dict[str, Any], vary: list[str]
) -> None:
    middleware = site("shared", **overrides)
    messages = call(middleware, http_scope(headers=[cookie_of(middleware, {"analytics"})]))
    assert vary_names(messages) == vary


@pytest.mark.parametrize(("mode", "http_only"), [("vary", True), ("esi", True), ("shared", False)])
def test_consent_cookie_is_readable_by_the_page_only_in_shared_mode(
    mode: CacheMode, http_only: bool
) -> None:
    client = TestClient(site(mode), follow_redirects=False)
    response = client.post("/_consent", data={"action": "accept_all", "next": "/"})
    assert response.status_code == 303
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith("consent=")]
    attributes = [part.strip() for part in cookie.split(";")]
    assert ("HttpOnly" in attributes) is http_only
    assert "Path=/" in attributes


# --- every mode: cookies and Vary ----------------------------------------------------------

MODES = [
    pytest.param("vary", [], id="vary"),
    pytest.param("esi", [ESI], id="esi"),
    pytest.param("esi", [], id="esi-no-processor"),
    pytest.param("shared", [], id="shared"),
]


def cookie_app(cookies: list[str], *, page: bool = True) -> ASGIApp:
    """An app that sets ``cookies`` on a page (or JSON) and answers the cookies it got."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        got = [value.decode() for name, value in scope["headers"] if name == b"cookie"]
        response: Response
        if page:
            response = HTMLResponse(PAGE.replace("Article", "Cookies: " + "|".join(got)))
        else:
            response = JSONResponse({"cookie": got})
        for name in cookies:
            response.set_cookie(name, "1")
        await response(scope, receive, send)

    return app


def through(mode: CacheMode, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    settings = make_settings(cache_mode=mode, necessary_cookies=["session"])
    return call(ConsentMiddleware(app, settings), http_scope(headers=headers))


def set_cookie_names(messages: list[Message]) -> list[str]:
    return [value.split(b"=", 1)[0].decode() for value in header_values(messages, b"set-cookie")]


@pytest.mark.parametrize(("mode", "headers"), MODES)
@pytest.mark.parametrize("page", [True, False], ids=["html", "json"])
def test_refused_set_cookie_is_stripped_and_a_kept_one_varies_by_cookie(
    mode: CacheMode, headers: list[tuple[bytes, bytes]], page: bool
) -> None:
    messages = through(mode, cookie_app(["session", "_ga"], page=page), headers)
    assert set_cookie_names(messages) == ["session"]
    assert "Cookie" in vary_names(messages)


@pytest.mark.parametrize(("mode", "headers"), MODES)
def test_a_page_whose_cookies_were_all_refused_varies_by_cookie_only_if_its_own(
    mode: CacheMode, headers: list[tuple[bytes, bytes]]
) -> None:
    messages = through(mode, cookie_app(["_ga"]), headers)
    assert set_cookie_names(messages) == []
    one_for_everyone = mode == "shared" or (mode == "esi" and ESI in headers)
    assert ("Cookie" in vary_names(messages)) is not one_for_everyone


@pytest.mark.parametrize(("mode", "headers"), MODES)
def test_refused_request_cookies_are_hidden_from_the_app_and_expired(
    mode: CacheMode, headers: list[tuple[bytes, bytes]]
) -> None:
    messages = through(
        mode, cookie_app([], page=False), [*headers, (b"cookie", b"_ga=GA1; session=abc")]
    )
    assert json.loads(body_of(messages)) == {"cookie": ["session=abc"]}
    assert header_values(messages, b"set-cookie") == [
        b"_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
    ]
    assert "Cookie" in vary_names(messages)


@pytest.mark.parametrize(("mode", "headers"), MODES)
def test_refused_request_cookies_are_expired_on_a_shared_page_too(
    mode: CacheMode, headers: list[tuple[bytes, bytes]]
) -> None:
    messages = through(mode, cookie_app([]), [*headers, (b"cookie", b"_ga=GA1; session=abc")])
    assert b"Cookies: session=abc<" in body_of(messages)
    assert set_cookie_names(messages) == ["_ga"]
    assert "Cookie" in vary_names(messages)


@pytest.mark.parametrize(("mode", "headers"), MODES)
def test_a_page_in_an_iframe_gets_no_banner_but_says_it_varies_by_fetch_dest(
    mode: CacheMode, headers: list[tuple[bytes, bytes]]
) -> None:
    messages = through(mode, cookie_app([]), [*headers, (b"sec-fetch-dest", b"iframe")])
    assert body_of(messages) == PAGE.replace("Article", "Cookies: ").encode()
    assert "Sec-Fetch-Dest" in vary_names(messages)
    # Navigated to, the same page does get its snippets.
    navigated = through(mode, cookie_app([]), [*headers, (b"sec-fetch-dest", b"document")])
    assert body_of(navigated) != body_of(messages)


# --- consent.vcl ---------------------------------------------------------------------------

TOKEN = "!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters
"""RFC 6265's token characters: what a cookie name is made of."""
COOKIE_OCTETS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",;\\')
"""RFC 6265's cookie-octets: what a cookie value is made of."""
# Few characters, so that random names and patterns meet; each means something to a
# glob or a regular expression.
FEW = "ab_-.!^$*|"
_bracket = st.builds(
    lambda negate, first, body: f"[{negate}{first}{body}]",
    st.sampled_from(["", "!"]),
    st.sampled_from(["", "]"]),
    st.text(alphabet=FEW + "-?[", max_size=4),
)
glob_patterns = st.lists(
    st.one_of(st.sampled_from(list(FEW)), st.sampled_from(["*", "?", "[", "]"]), _bracket),
    min_size=1,
    max_size=6,
).map("".join)
cookie_names = st.one_of(
    st.text(alphabet=FEW, min_size=1, max_size=8), st.text(alphabet=TOKEN, min_size=1)
)


def near_names(pattern: str) -> st.SearchStrategy[str]:
    """Names made from ``pattern``, its wildcards and brackets replaced: many match it."""
    letters = sorted(set(FEW + pattern) - set("*?[]"))
    wildcard = st.text(alphabet=letters, max_size=2)
    pieces = [wildcard if char in "*?[]!" else st.just(char) for char in pattern]
    return st.tuples(*pieces).map("".join).filter(bool)


# A pattern, and a name that it may match: random, or made from the pattern.
named_patterns = glob_patterns.flatmap(
    lambda pattern: st.tuples(st.just(pattern), cookie_names | near_names(pattern))
)


# Varnish matches with PCRE2 and the test with Python's ``re``. That is fair for what
# ``cookie_name_regex`` writes: literals escaped with a backslash before punctuation
# (a literal in both), ``[^;=\s]``, a lookahead, bracket sets as ``fnmatch.translate``
# writes them (ranges, ``^`` negation, a first ``]`` taken literally, backslash-escaped
# punctuation inside: the same in both), ``*`` and ``(?!)``. Nothing it writes
# (no ``\d``, ``\Z``, POSIX classes, flags or set operations) is read differently by the
# two. ``test_generated_vcl_compiles_with_varnishd`` has the real PCRE2 compile it.
@hypothesis_settings(suppress_health_check=[HealthCheck.too_slow], max_examples=500, deadline=None)
@given(named_patterns, st.text(alphabet=COOKIE_OCTETS, max_size=6))
# Found by the test: the regex matched cookies the pattern does not.
@example(("?id", "id"), "1")
@example(("[!x]id", "id"), "1")
@example(("a[!b]", "a"), "=x")
@example(("a[%-?]", "a"), "=x")
def test_cookie_name_regex_matches_what_fnmatch_matches(
    named_pattern: tuple[str, str], value: str
) -> None:
    pattern, name = named_pattern
    regex = cookie_name_regex(pattern)
    # The VCL holds it in a {"..."} string, which "} would end.
    assert '"}' not in regex
    # As consent.vcl uses it: regsuball("; " + req.http.Cookie, {"; *(...)=[^;]*"}, "").
    match = re.search(f"; *({regex})=[^;]*", f"; {name}={value}")
    assert (match is not None) is fnmatchcase(name, pattern), (pattern, regex, name, value)
    if match is not None:
        assert match.group(1) == name


def test_vcl_refuses_vary_mode_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r'^cache_mode: "vary" .* "esi" or "shared"$'):
        varnish_vcl(make_settings(cache_mode="vary"))


def test_vcl_refuses_an_undeclared_keep_naming_the_option() -> None:
    with pytest.raises(ValueError, match=r"^--keep: \['theme'\] not declared by any category$"):
        varnish_vcl(make_settings(cache_mode="esi"), ("_ga", "theme"))


def tricky_settings(mode: CacheMode) -> ConsentSettings:
    """Settings whose cookie patterns reach every construct of ``cookie_name_regex``."""
    return make_settings(
        cache_mode=mode,
        path_prefix="/c.c/x-y",
        cookie_name="c~consent",
        categories=[
            Category(key="a", title="A", cookies=("_pk_[!a-c]*", "x[]]y", "q[^b]c", "r[z-a]")),
            Category(key="b", title="B", cookies=("$|.^+'&`#%!",)),
        ],
    )


@pytest.mark.varnish
@pytest.mark.parametrize("mode", ["esi", "shared"])
@pytest.mark.parametrize("settings_of", ["example", "tricky"])
def test_generated_vcl_compiles_with_varnishd(
    mode: CacheMode, settings_of: str, tmp_path: Path
) -> None:
    if not Path(VARNISHD).is_file():
        pytest.skip("Varnish is not installed (Debian package varnish; scripts/test adds it)")
    if settings_of == "example":
        settings = example_site_settings().model_copy(update={"cache_mode": mode})
        vcl = varnish_vcl(settings, ("theme",))
    else:
        vcl = varnish_vcl(tricky_settings(mode))
    (tmp_path / "consent.vcl").write_text(vcl)
    (tmp_path / "site.vcl").write_text(SITE_VCL.read_text())
    command = [
        VARNISHD,
        "-C",
        "-f",
        str(tmp_path / "site.vcl"),
        "-p",
        f"vcl_path={tmp_path}",
        "-n",
        str(tmp_path / "state"),
    ]
    if os.geteuid() == 0:
        # As root, varnishd would drop to its own users, who cannot read a test's files.
        command += ["-j", "none"]
    compiled = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    # varnishd -C writes the C it made to stderr, with a table of the subroutines.
    for name in ("consent_recv", "consent_backend_response"):
        assert re.search(rf"^ \* sub +SUB +\d+ +\d+ {name}$", compiled.stderr, re.M), name


runner = CliRunner()


@pytest.mark.parametrize(
    ("reference", "keep", "settings"),
    [
        ("tests.test_cache_modes:SETTINGS", [], SETTINGS),
        ("tests.test_cache_modes:shared_settings", ["--keep", "_ga"], shared_settings()),
    ],
)
def test_cli_prints_the_vcl_of_the_named_settings(
    reference: str, keep: list[str], settings: ConsentSettings
) -> None:
    result = runner.invoke(cli_app, ["vcl", "--settings", reference, *keep])
    assert result.exit_code == 0, result.output
    assert result.stdout == varnish_vcl(settings, tuple(keep[1:]))
    assert result.stderr == ""


def test_cli_reads_the_settings_as_the_middleware_does_without_a_reference() -> None:
    environment = {"CONSENT_SECRET_KEY": SECRET, "CONSENT_CACHE_MODE": "shared"}
    result = runner.invoke(cli_app, ["vcl"], env=environment)
    assert result.exit_code == 0, result.output
    assert result.stdout == varnish_vcl(ConsentSettings(secret_key=SECRET, cache_mode="shared"))


@pytest.mark.parametrize(
    ("arguments", "environment", "message"),
    [
        pytest.param(
            ["--settings", "tests.test_cache_modes"],
            {},
            "--settings 'tests.test_cache_modes': expected module:attribute",
            id="no-attribute",
        ),
        pytest.param(
            ["--settings", "tests.test_cache_modes:NOT_SETTINGS"],
            {},
            "is not ConsentSettings",
            id="not-settings",
        ),
        pytest.param(
            ["--settings", "tests.test_cache_modes:missing"],
            {},
            "has no attribute 'missing'",
            id="missing-attribute",
        ),
        pytest.param(
            ["--settings", "no_such_module_here:SETTINGS"],
            {},
            "No module named 'no_such_module_here'",
            id="missing-module",
        ),
        pytest.param(
            ["--settings", "tests.test_cache_modes:VARY_SETTINGS"],
            {},
            'cache_mode: "vary"',
            id="vary-mode",
        ),
        pytest.param(
            ["--settings", "tests.test_cache_modes:SETTINGS", "--keep", "theme"],
            {},
            "--keep: ['theme'] not declared",
            id="undeclared-keep",
        ),
        pytest.param(
            ["--settings", "tests.test_cache_modes:SETTINGS", "--ignore", "_ga"],
            {},
            "--ignore: ['_ga'] not in necessary_cookies",
            id="ignore-not-necessary",
        ),
        pytest.param(
            [],
            {"CONSENT_CACHE_MODE": "esi"},
            "secret_key",
            id="no-secret-key",
        ),
    ],
)
def test_cli_fails_with_status_2_and_one_line(
    arguments: list[str], environment: dict[str, str], message: str
) -> None:
    result = runner.invoke(cli_app, ["vcl", *arguments], env=environment)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- docs/varnish/consent.vcl --------------------------------------------------------------

REGENERATE = (
    "python -m consent.cli vcl --settings tests.test_cache_modes:example_site_settings "
    "--keep theme --ignore SERVERID > docs/varnish/consent.vcl"
)


def test_docs_vcl_is_what_consent_vcl_prints_for_the_example_site() -> None:
    result = runner.invoke(
        cli_app,
        [
            "vcl",
            "--settings",
            "tests.test_cache_modes:example_site_settings",
            "--keep",
            "theme",
            "--ignore",
            "SERVERID",
        ],
    )
    assert result.exit_code == 0, result.output
    assert DOCS_VCL.is_file(), f"docs/varnish/consent.vcl is missing; run: {REGENERATE}"
    assert DOCS_VCL.read_text() == result.stdout, (
        f"docs/varnish/consent.vcl is stale; from the checkout's root, run: {REGENERATE}"
    )


@pytest.mark.parametrize("mode", ["shared", "vary"])
def test_a_consent_cookie_the_server_cannot_verify_goes_in_shared_mode(mode: CacheMode) -> None:
    """One page for everyone lets the browser read the cookie without its key: a cookie
    signed with a key since removed (or forged) would keep its visitor "decided" there."""
    middleware = site(mode)
    retired = make_settings(secret_key="a-retired-secret-key-0123456789abcdef", cache_mode=mode)
    genuine = [cookie_of(middleware, {"analytics"})]
    unverifiable = [consent_cookie(retired, {"analytics"})]
    expired = [
        value
        for value in header_values(
            call(middleware, http_scope(headers=unverifiable)), b"set-cookie"
        )
        if value.startswith(b"consent=;")
    ]
    assert bool(expired) is (mode == "shared")
    assert not [
        value
        for value in header_values(call(middleware, http_scope(headers=genuine)), b"set-cookie")
        if value.startswith(b"consent=")
    ]


def test_the_vcl_leaves_out_the_cookies_of_services_too() -> None:
    settings = make_settings(
        cache_mode="esi",
        categories=[Category(key="analytics", title="Analytics", services=["hotjar"])],
    )
    vcl = varnish_vcl(settings)
    assert cookie_name_regex("_hjSessionUser_*") in vcl
