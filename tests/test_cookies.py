"""Cookie names as browsers store them and apps read them; classifying, stripping, expiring."""

from __future__ import annotations

import logging
import tracemalloc
from contextlib import suppress
from http.cookies import CookieError, SimpleCookie

import pytest
from django.http.cookie import parse_cookie as django_parse_cookie  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import cookie_parser
from werkzeug.sansio.http import parse_cookie as werkzeug_parse_cookie

from consent import Category
from consent.cookie_headers import (
    CookiePair,
    cookie_value,
    default_path,
    set_cookie_name,
    set_cookie_pair,
    split_cookie_header,
)
from consent.cookies import EXPIRED_PER_RESPONSE, UNDECLARED, CookiePolicy, cookie_domains
from tests.conftest import make_settings
from tests.cookie_jar import CookieJar

CATEGORIES = [
    Category(key="analytics", title="Analytics", cookies=["_ga", "_ga_*", "_pk_id.[0-9]*"]),
    Category(key="marketing", title="Advertising", cookies=["_fbp", "IDE"]),
]
NECESSARY = frozenset({"necessary"})
# What parsers disagree on: separators, white space of every kind, quotes, escapes,
# UTF-8 and latin-1 bytes, control characters.
TRICKY_BYTES = [b"_ga", b"session", b"x", b"=", b";", b" ", b"\t", b"\x0b", b"\xa0", b"\xc2"]
TRICKY_BYTES += [b'"', b"\\", b",", b"$", b"1", b"Path", b"\xe3\x80\x80", b"\x1f", b"\r"]
EXPIRED = b"Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"


def policy(**overrides: object) -> CookiePolicy:
    values: dict[str, object] = {
        "categories": CATEGORIES,
        "necessary_cookies": ["session", "csrf*"],
    }
    values.update(overrides)
    return CookiePolicy(make_settings(**values))


def names_read(header: bytes) -> set[str]:
    """Every non-empty cookie name Starlette, Werkzeug, Django and SimpleCookie read.

    Each reads the header as latin-1 (as ASGI servers pass it) and as UTF-8
    (``werkzeug.http``, Django under WSGI); ``werkzeug.http`` itself refuses
    bytes that are not UTF-8, where its parser reads the replacement characters here.
    """
    names: set[str] = set()
    for text in (header.decode("latin-1"), header.decode("utf-8", "replace")):
        names |= set(cookie_parser(text))
        names |= set(werkzeug_parse_cookie(text))
        names |= set(django_parse_cookie(text))
        simple: SimpleCookie = SimpleCookie()
        with suppress(CookieError):  # SimpleCookie reads nothing from a header it finds illegal
            simple.load(text)
        names |= set(simple)
    return names - {""}


def header_values(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    assert {name for name, _ in headers} <= {b"set-cookie"}
    return [value for _, value in headers]


# Set-Cookie: the name the app will read --------------------------------------------------


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (b"_ga=GA1.1.1; Path=/; Max-Age=100", "_ga"),
        (b"  _ga  =  GA1 ;Path=/", "_ga"),
        (b"\t_fbp=fb.1; Domain=.example.com; Secure; HttpOnly", "_fbp"),
        (b"IDE=abc", "IDE"),
        (b"session=", "session"),
        (b"x=a=b=c", "x"),
        (b"caf\xe9=1", "caf\xe9"),
        # Nameless cookies, read back as the name their value starts with.
        (b"_ga", "_ga"),
        (b"_ga; Path=/; Max-Age=31536000", "_ga"),
        (b"=_ga=GA1.1.123.456", "_ga"),
        (b" = _ga=GA1.1.123.456 ; Path=/", "_ga"),
        (b"=orphan; Path=/", "orphan"),
        (b"==_ga=1", ""),
        (b"_ga;=GA1", "_ga"),
        # Starlette strips more than space and tab from what the browser sends back.
        (b"\xa0_ga=1", "_ga"),
        (b"_ga\x85=1", "_ga"),
    ],
)
def test_set_cookie_name(header: bytes, name: str) -> None:
    assert set_cookie_name(header) == name


@pytest.mark.parametrize(
    "header",
    [
        b"",
        b"=",
        b"  =  ; Path=/",
        b"; _ga=GA1",
        b"_ga\x0b=GA1",
        b"_ga=GA1\x7f",
        b"_ga=1; Path=/\x00",
        b"_ga=1\r\nX-Injected: 1",
        b"=__Secure-x",
        b"__host-x",
        b"=__HOST-x=1; Path=/",
        b"_ga=" + b"1" * 4094,
        b"_ga" + b"1" * 4094,
    ],
)
def test_set_cookie_name_is_none_when_browsers_ignore_the_header(header: bytes) -> None:
    assert set_cookie_name(header) is None
    assert set_cookie_pair(header) is None


def test_set_cookie_name_takes_the_4096_octets_a_browser_takes() -> None:
    assert set_cookie_name(b"_ga=" + b"1" * 4093) == "_ga"
    assert set_cookie_name(b"=" + b"1" * 4096) == "1" * 4096


def test_set_cookie_pair_is_what_the_browser_sends_back() -> None:
    assert set_cookie_pair(b" _ga = 1 ; Path=/") == CookiePair("_ga", b"_ga=1", False, ("_ga",))
    assert set_cookie_pair(b"=_ga=1; Path=/") == CookiePair("_ga", b"_ga=1", True, ("_ga",))
    assert set_cookie_pair(b"_ga") == CookiePair("_ga", b"_ga", True, ("_ga",))


def test_a_nameless_cookie_is_judged_by_the_name_the_app_reads() -> None:
    cookies = policy()
    for header in (b"_ga", b"=_ga=GA1.1", b" =_ga"):
        pair = set_cookie_pair(header)
        assert pair is not None
        assert not cookies.allows_pair(pair, NECESSARY)
        assert cookies.allows_pair(pair, NECESSARY | {"analytics"})


# Cookie: every name the app's parsers read ------------------------------------------------


def test_split_cookie_header() -> None:
    assert split_cookie_header(b"a=1;  b = 2 ;c=;;novalue; =x=1; =") == [
        CookiePair("a", b"a=1", False, ("a",)),
        CookiePair("b", b"b = 2", False, ("b",)),
        CookiePair("c", b"c=", False, ("c",)),
        CookiePair("novalue", b"novalue", True, ("novalue",)),
        CookiePair("", b"=x=1", True, ("",)),
    ]


@pytest.mark.parametrize(
    ("header", "names"),
    [
        # str.strip() in Starlette and Django; Werkzeug strips only space and tab.
        (b"\x0b_ga=1", ("_ga", "\x0b_ga")),
        (b"\xa0_ga=1", ("_ga", "\xa0_ga", "\ufffd_ga")),
        # A UTF-8 no-break space: only a UTF-8 reading strips it.
        (b"\xc2\xa0_ga=1", ("\xc2\xa0_ga", "_ga", "\xa0_ga")),
        # SimpleCookie splits at white space.
        (b"x=1 _ga=2", ("x", "_ga")),
        (b"x=1\t_ga=2 y", ("x", "_ga")),
        # Werkzeug reads a pair without "=" as a name; Starlette files it under "".
        (b"_ga", ("_ga",)),
        (b"\xa0_ga", ("_ga", "\xa0_ga", "\ufffd_ga")),
    ],
)
def test_names_of_a_pair_cover_every_parser(header: bytes, names: tuple[str, ...]) -> None:
    (pair,) = split_cookie_header(header)
    assert pair.names[0] == pair.name
    assert set(pair.names) == set(names)
    assert names_read(header) <= set(pair.names)


def test_a_pair_is_allowed_only_when_every_name_is() -> None:
    cookies = policy(undeclared_cookies="allow")
    (pair,) = split_cookie_header(b"theme=dark _ga=GA1.1")
    assert pair.name == "theme"
    assert cookies.allows(pair.name, NECESSARY)
    assert not cookies.allows_pair(pair, NECESSARY)
    assert cookies.allows_pair(pair, NECESSARY | {"analytics"})


@pytest.mark.parametrize("mode", ["block", "allow"])
@given(
    header=st.one_of(
        st.binary(max_size=64),
        st.lists(
            st.sampled_from(TRICKY_BYTES),
            max_size=16,
        ).map(b"".join),
    )
)
def test_no_refused_name_reaches_the_app(mode: str, header: bytes) -> None:
    cookies = policy(undeclared_cookies=mode)
    granted = NECESSARY | {"marketing"}
    kept = [p.raw for p in split_cookie_header(header) if cookies.allows_pair(p, granted)]
    for name in names_read(b"; ".join(kept)):
        assert cookies.allows(name, granted), (header, name)


@given(st.binary(max_size=256), st.text(max_size=64))
def test_any_bytes_are_read_without_error(header: bytes, path: str) -> None:
    cookies = policy()
    pairs = split_cookie_header(header)
    pair = set_cookie_pair(header)
    name = set_cookie_name(header)
    assert (pair.name if pair else None) == name
    if name is not None:
        cookies.learn_scope(name, header, path)
    expired: list[CookiePair | str] = [*pairs, name or ""]
    for value in header_values(cookies.expiry_headers(expired, "example.com", path)):
        assert set_cookie_name(value) is not None


# Classifying ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("consent", "necessary"),
        ("session", "necessary"),
        ("csrftoken", "necessary"),
        ("_ga", "analytics"),
        ("_ga_ABC123", "analytics"),
        ("_pk_id.1", "analytics"),
        ("_pk_id.x", UNDECLARED),
        ("_fbp", "marketing"),
        ("ide", UNDECLARED),
        ("tracker", UNDECLARED),
        ("", UNDECLARED),
    ],
)
def test_classify(name: str, key: str) -> None:
    assert policy().classify(name) == key


@pytest.mark.parametrize(
    ("name", "granted", "allowed"),
    [
        ("session", frozenset({"necessary"}), True),
        ("_ga", frozenset({"necessary"}), False),
        ("_ga", frozenset({"necessary", "analytics"}), True),
        ("_fbp", frozenset({"necessary", "analytics"}), False),
        ("tracker", frozenset({"necessary", "analytics", "marketing"}), False),
    ],
)
def test_allows(name: str, granted: frozenset[str], allowed: bool) -> None:
    assert policy().allows(name, granted) is allowed


def test_undeclared_allowed_when_configured() -> None:
    assert policy(undeclared_cookies="allow").allows("tracker", frozenset({"necessary"}))


def test_undeclared_name_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    cookies = policy()
    with caplog.at_level(logging.WARNING, logger="consent"):
        for _ in range(3):
            cookies.allows("tracker", frozenset({"necessary"}))
        cookies.allows("other", frozenset({"necessary"}))
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "undeclared cookie 'tracker' blocked: declare it in a category or in necessary_cookies",
        "undeclared cookie 'other' blocked: declare it in a category or in necessary_cookies",
    ]


def test_classify_cache_is_bounded_in_bytes() -> None:
    cookies = policy()
    cookies.classify("warm-up")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # The largest names the cache keeps (256 UTF-8 bytes, 4 bytes a character),
        # more of them than it keeps, and longer names that it never keeps.
        for index in range(6000):
            assert cookies.classify("\U0001f36a" * 63 + f"{index:04}") == UNDECLARED
        for index in range(2000):
            assert cookies.classify(f"{index:>4096}") == UNDECLARED
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # About 1.5 MB (CookiePolicy's docstring), and some slack for the allocator.
    assert kept < 1_600_000
    assert cookies.classify("_ga_XYZ") == "analytics"


def test_long_names_are_classified_but_not_kept() -> None:
    cookies = policy()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index in range(200):
            assert cookies.classify(f"_ga_{index:>8192}") == "analytics"
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 64 * 1024


def test_undeclared_names_in_the_log_are_cut(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="consent"):
        policy().allows("x" * 5000, NECESSARY)
    (record,) = caplog.records
    assert len(record.getMessage()) < 400


# The consent cookie's value ---------------------------------------------------------------


def test_cookie_value_takes_the_first_and_unquotes() -> None:
    assert cookie_value(b'x=1; consent="abc"; consent=def', "consent") == "abc"
    assert cookie_value(b"xconsent=1", "consent") is None


# Where cookies live, and deleting them ----------------------------------------------------


@pytest.mark.parametrize(
    ("host", "configured", "domains"),
    [
        ("www.example.com", None, [None, "www.example.com", "example.com"]),
        ("news.example.co.uk:8443", None, [None, "news.example.co.uk", "example.co.uk", "co.uk"]),
        ("example.com", ".example.com", [None, "example.com"]),
        ("localhost:8000", None, [None]),
        ("127.0.0.1:8000", None, [None]),
        ("[::1]:8000", None, [None]),
        ("", None, [None]),
        ("bad_host!.com", None, [None]),
        (
            "a.b.c.d.e.f.g.example.com",
            None,
            [None, "e.f.g.example.com", "f.g.example.com", "g.example.com", "example.com"],
        ),
    ],
)
def test_cookie_domains(host: str, configured: str | None, domains: list[str | None]) -> None:
    assert cookie_domains(host, configured) == domains


@pytest.mark.parametrize(
    ("request_path", "path"),
    [
        ("/news/2024/article", "/news/2024"),
        ("/news/2024/", "/news/2024"),
        ("/news", "/"),
        ("/", "/"),
        ("", "/"),
        ("news/article", "/"),
    ],
)
def test_default_path(request_path: str, path: str) -> None:
    assert default_path(request_path) == path


def test_expiry_headers_cover_host_and_parent_domains() -> None:
    headers = policy().expiry_headers(["_ga"], "www.example.com")
    assert header_values(headers) == [
        b"_ga=; " + EXPIRED + b"; Path=/",
        b"_ga=; " + EXPIRED + b"; Path=/; Domain=example.com",
        b"_ga=; " + EXPIRED + b"; Path=/; Domain=www.example.com",
    ]


def test_expiry_uses_the_path_and_domain_the_app_set() -> None:
    cookies = policy()
    cookies.learn_scope("_ga", b"_ga=1; Path=/news; Domain=.Example.com; Secure")
    values = header_values(cookies.expiry_headers(["_ga"], "localhost"))
    assert b"_ga=; " + EXPIRED + b"; Path=/news; Domain=example.com" in values
    assert b"_ga=; " + EXPIRED + b"; Path=/" in values


@pytest.mark.parametrize(
    ("set_cookie", "path"),
    [
        (b"_ga=1", "/news/2024"),
        (b"_ga=1; Path=news", "/news/2024"),
        (b"_ga=1; Path=", "/news/2024"),
        (b"_ga=1; Path=/shop; Path=", "/news/2024"),
        (b"_ga=1; Path=; Path=/shop", "/shop"),
        (b"_ga=1; path = /shop ", "/shop"),
    ],
)
def test_learnt_path_defaults_to_the_request_directory(set_cookie: bytes, path: str) -> None:
    cookies = policy()
    cookies.learn_scope("_ga", set_cookie, request_path="/news/2024/article")
    assert header_values(cookies.expiry_headers(["_ga"], "localhost")) == [
        b"_ga=; " + EXPIRED + b"; Path=/",
        b"_ga=; " + EXPIRED + b"; Path=" + path.encode(),
    ]


def test_expiry_covers_the_default_path_of_the_request() -> None:
    values = header_values(policy().expiry_headers(["_ga"], "localhost", "/news/2024/article"))
    assert values == [
        b"_ga=; " + EXPIRED + b"; Path=/",
        b"_ga=; " + EXPIRED + b"; Path=/news/2024",
    ]


def test_a_cookie_set_without_path_on_an_article_is_deleted_from_it() -> None:
    jar = CookieJar()
    page = "https://www.example.com/news/2024/article"
    jar.set_cookie(b"_ga=GA1.1", page)
    jar.set_cookie(b"_ga=GA1.2; Domain=example.com", page)
    pairs = split_cookie_header(jar.cookie_header(page))
    assert len(pairs) == 2
    for _, value in policy().expiry_headers(pairs, "www.example.com", "/news/2024/article"):
        jar.set_cookie(value, page)
    assert jar.cookies == []


def test_learnt_scopes_are_bounded() -> None:
    cookies = policy()
    for index in range(50):
        cookies.learn_scope("_ga", f"_ga=1; Path=/p{index}".encode())
    assert len(cookies.expiry_headers(["_ga"], "localhost")) == 1 + 8


def test_scopes_a_browser_would_not_use_are_not_learnt() -> None:
    cookies = policy()
    cookies.learn_scope("_ga", b"_ga=1; Path=/a\x00b")
    cookies.learn_scope("_ga", b"_ga=1; Path=/" + b"a" * 300)
    cookies.learn_scope("_ga", b"_ga=1; Domain=bad_domain!")
    cookies.learn_scope("_ga", b"_ga=1; Domain=" + b"a." * 200 + b"com")
    assert header_values(cookies.expiry_headers(["_ga"], "localhost")) == [
        b"_ga=; " + EXPIRED + b"; Path=/"
    ]


def test_a_nameless_cookie_is_deleted_with_a_value() -> None:
    (pair,) = split_cookie_header(b"_ga")
    assert header_values(policy().expiry_headers([pair], "localhost")) == [
        b"=_ga; " + EXPIRED + b"; Path=/"
    ]


def test_only_a_deletion_with_a_value_deletes_a_nameless_cookie() -> None:
    jar = CookieJar()
    jar.set_cookie(b"_ga", "http://localhost/")
    jar.set_cookie(b"=; Max-Age=0", "http://localhost/")
    jar.set_cookie(b"_ga=; Max-Age=0", "http://localhost/")
    assert jar.cookie_header("http://localhost/") == b"_ga"
    for _, value in policy().expiry_headers(split_cookie_header(b"_ga"), "localhost"):
        jar.set_cookie(value, "http://localhost/")
    assert jar.cookies == []


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (b"_ga", b"=_ga"),  # the name the app reads from it
        (b"==_ga=1", b"=expired"),  # read under the empty name: any value does
        (b"__Secure-x", b"=expired"),  # a browser never holds it, nor takes this value
    ],
)
def test_nameless_deletion_value(header: bytes, value: bytes) -> None:
    (pair,) = split_cookie_header(header)
    assert pair.nameless
    (deletion,) = header_values(policy().expiry_headers([pair], "localhost"))
    assert deletion == value + b"; " + EXPIRED + b"; Path=/"


def test_a_name_the_app_set_nameless_is_deleted_both_ways() -> None:
    cookies = policy()
    cookies.learn_scope("_ga", b"=_ga=GA1.1; Path=/")
    (pair,) = split_cookie_header(b"_ga=GA1.1")
    assert not pair.nameless
    assert header_values(cookies.expiry_headers([pair], "localhost")) == [
        b"_ga=; " + EXPIRED + b"; Path=/",
        b"=_ga; " + EXPIRED + b"; Path=/",
    ]
    jar = CookieJar()
    jar.set_cookie(b"=_ga=GA1.1", "http://localhost/")
    jar.set_cookie(b"_ga=GA1.2; Path=/", "http://localhost/")
    assert jar.cookie_header("http://localhost/") == b"_ga=GA1.1; _ga=GA1.2"
    pairs = split_cookie_header(jar.cookie_header("http://localhost/"))
    for _, value in cookies.expiry_headers(pairs, "localhost"):
        jar.set_cookie(value, "http://localhost/")
    assert jar.cookies == []


def test_a_name_never_set_nameless_is_deleted_by_name_only() -> None:
    (pair,) = split_cookie_header(b"_ga=GA1.1")
    assert header_values(policy().expiry_headers([pair], "localhost")) == [
        b"_ga=; " + EXPIRED + b"; Path=/"
    ]


def test_the_name_a_browser_holds_is_the_one_deleted() -> None:
    # Starlette reads "_ga", but the browser holds the cookie as "\xa0_ga".
    (pair,) = split_cookie_header(b"\xa0_ga=1")
    assert header_values(policy().expiry_headers([pair], "localhost")) == [
        b"\xa0_ga=; " + EXPIRED + b"; Path=/"
    ]


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("__Secure-id", [b"__Secure-id=; " + EXPIRED + b"; Path=/; Secure"]),
        ("__Host-id", [b"__Host-id=; " + EXPIRED + b"; Path=/; Secure"]),
    ],
)
def test_prefixed_cookies_are_deleted_as_browsers_require(name: str, headers: list[bytes]) -> None:
    assert header_values(policy().expiry_headers([name], "localhost")) == headers
    jar = CookieJar()
    url = "https://www.example.com/news/article"
    assert jar.set_cookie(f"{name}=1; Path=/; Secure".encode(), url) is not None
    for _, value in policy().expiry_headers([name], "www.example.com", "/news/article"):
        jar.set_cookie(value, url)
    assert jar.cookies == []


@pytest.mark.parametrize(
    "header",
    [b"a\x00b=1", b"a\x7f", b"=", b"\x01", b"x=\x0b"],
)
def test_no_deletion_for_cookies_a_browser_cannot_hold(header: bytes) -> None:
    cookies = policy()
    pairs = [CookiePair(header.decode("latin-1"), header, True, ("",))]
    assert cookies.expiry_headers(pairs, "localhost") == []


def test_no_deletion_for_names_a_header_cannot_carry() -> None:
    assert policy().expiry_headers(["a;b", "a\r\nb", "", "a=b"], "localhost") == []


def test_no_default_path_that_a_header_cannot_carry() -> None:
    for request_path in ("/a;b/c", "/a\x00b/c", "/€/x", "/" + "a" * 2000 + "/x"):
        assert header_values(policy().expiry_headers(["_ga"], "localhost", request_path)) == [
            b"_ga=; " + EXPIRED + b"; Path=/"
        ], request_path


def test_one_response_deletes_a_bounded_number_of_cookies() -> None:
    policy = CookiePolicy(make_settings())
    names = [f"tracker{i}" for i in range(1000)]
    headers = policy.expiry_headers(names, "example.com")
    deleted = {value.split(b"=", 1)[0] for _, value in headers}
    assert deleted == {name.encode() for name in names[:EXPIRED_PER_RESPONSE]}
