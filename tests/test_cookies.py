"""Classifying, stripping and expiring the site's own cookies."""

from __future__ import annotations

import logging

import pytest

from consent import Category
from consent.cookies import (
    UNDECLARED,
    CookiePolicy,
    cookie_domains,
    cookie_value,
    set_cookie_name,
    split_cookie_header,
)
from tests.conftest import make_settings

CATEGORIES = [
    Category(key="analytics", title="Analytics", cookies=["_ga", "_ga_*", "_pk_id.[0-9]*"]),
    Category(key="marketing", title="Advertising", cookies=["_fbp", "IDE"]),
]


def policy(**overrides: object) -> CookiePolicy:
    values: dict[str, object] = {
        "categories": CATEGORIES,
        "necessary_cookies": ["session", "csrf*"],
    }
    values.update(overrides)
    return CookiePolicy(make_settings(**values))


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (b"_ga=GA1.1.1; Path=/; Max-Age=100", "_ga"),
        (b"  _ga  =  GA1 ;Path=/", "_ga"),
        (b"\t_fbp=fb.1; Domain=.example.com; Secure; HttpOnly", "_fbp"),
        (b"IDE=abc", "IDE"),
        (b"session=", "session"),
        (b"novalue", ""),
        (b"=orphan; Path=/", ""),
        (b"x=a=b=c", "x"),
        (b"caf\xe9=1", "caf\xe9"),
    ],
)
def test_set_cookie_name(header: bytes, name: str) -> None:
    assert set_cookie_name(header) == name


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


def test_split_cookie_header() -> None:
    assert split_cookie_header(b"a=1;  b = 2 ;c=;;novalue") == [
        ("a", b"a=1"),
        ("b", b"b = 2"),
        ("c", b"c="),
        ("", b"novalue"),
    ]


def test_cookie_value_takes_the_first_and_unquotes() -> None:
    assert cookie_value(b'x=1; consent="abc"; consent=def', "consent") == "abc"
    assert cookie_value(b"xconsent=1", "consent") is None


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


def test_expiry_headers_cover_host_and_parent_domains() -> None:
    headers = policy().expiry_headers(["_ga"], "www.example.com")
    assert [value for _, value in headers] == [
        b"_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
        b"_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=example.com",
        b"_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=www.example.com",
    ]
    assert {name for name, _ in headers} == {b"set-cookie"}


def test_expiry_uses_the_path_and_domain_the_app_set() -> None:
    cookies = policy()
    cookies.learn_scope("_ga", b"_ga=1; Path=/news; Domain=.Example.com; Secure")
    values = [value for _, value in cookies.expiry_headers(["_ga"], "localhost")]
    assert (
        b"_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/news; Domain=example.com"
        in values
    )
    assert b"_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/" in values


def test_learnt_scopes_are_bounded() -> None:
    cookies = policy()
    for index in range(50):
        cookies.learn_scope("_ga", f"_ga=1; Path=/p{index}".encode())
    assert len(cookies.expiry_headers(["_ga"], "localhost")) == 1 + 8
