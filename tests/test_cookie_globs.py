"""Cookie globs in the page: JavaScript reads each one exactly as the server's fnmatch does."""

from __future__ import annotations

import fnmatch
import html
import json
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consent import Category, ConsentMiddleware
from consent.globs import js_regex_source
from tests.chromium import chromium
from tests.conftest import make_settings

# Every character a glob treats specially, characters a regular expression
# treats specially, letters, and characters outside ASCII (one outside the BMP).
GLOB_ALPHABET = "*?[]!-^\\/.$(){}|+abz_é😀"
NAME_ALPHABET = GLOB_ALPHABET + "\n"

# consent.js compiles each source this way, once, when it starts.
MATCH_IN_JAVASCRIPT = "(cases) => cases.map(([source, name]) => new RegExp(source, 'u').test(name))"


@pytest.mark.parametrize(
    ("glob", "source"),
    [
        ("_ga", "^_ga$"),
        ("_ga_*", "^_ga_[^]*$"),
        ("_hjSession?_*", "^_hjSession[^]_[^]*$"),
        ("**x", "^[^]*x$"),
        ("*a*b", r"^(?=([^]*?a))\1[^]*b$"),
        ("[!a]x", "^[^a]x$"),
        ("[a-c-]", r"^[a-c\-]$"),
        ("[]]", r"^[\]]$"),
        ("[!]]", r"^[^\]]$"),
        ("[z-a]", "^[]$"),
        ("[!z-a]", "^[^]$"),
        ("[z-a!-c]", r"^[^\-c]$"),
        ("a[", r"^a\[$"),
        ("a[!]", r"^a\[!\]$"),
        ("a/b", r"^a\/b$"),
        ("a\\b", r"^a\\b$"),
        ("$.{|}()+^", r"^\$\.\{\|\}\(\)\+\^$"),
        ("é😀", r"^\u{e9}\u{1f600}$"),
    ],
)
def test_glob_as_a_javascript_source(glob: str, source: str) -> None:
    assert js_regex_source(glob) == source


def test_the_page_gets_each_categorys_globs_as_sources() -> None:
    async def page(request: Request) -> Response:
        return HTMLResponse("<html><body></body></html>")

    category = Category(key="analytics", title="Analytics", cookies=["_ga", "_ga_*", "_gat[!_]"])
    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(ConsentMiddleware, settings=make_settings(categories=[category]))
    found = re.search(r'data-consent-config="([^"]*)"', TestClient(app).get("/").text)
    assert found is not None
    config = json.loads(html.unescape(found.group(1)))
    assert config["cookies"] == {"analytics": ["^_ga$", "^_ga_[^]*$", "^_gat[^_]$"]}


# --- in a real JavaScript engine -------------------------------------------------------------


@pytest.fixture(scope="module")
def javascript() -> Iterator[Page]:
    """A blank page in real Chromium, to run JavaScript in."""
    with chromium() as browser:
        page = browser.new_page()
        yield page
        page.close()


@pytest.mark.browser
@pytest.mark.parametrize(
    ("glob", "name", "matches"),
    [
        ("_ga_*", "_ga_ABC123", True),
        ("_ga_*", "_ga", False),
        ("_hjSession?_*", "_hjSession_123", False),
        ("_hjSessionUser_*", "_hjSessionUser_123", True),
        ("[!a]x", "bx", True),
        ("[!a]x", "ax", False),
        ("a[", "a[", True),
        ("a/b", "a/b", True),
        ("a.b", "aXb", False),
        ("*", "line\nbreak", True),
        ("?", "😀", True),
        ("[z-a!-c]", "b", True),
        ("[z-a!-c]", "-", False),
    ],
)
def test_javascript_matches_as_fnmatch_on_examples(
    javascript: Page, glob: str, name: str, matches: bool
) -> None:
    assert fnmatch.fnmatchcase(name, glob) is matches
    assert javascript.evaluate(MATCH_IN_JAVASCRIPT, [[js_regex_source(glob), name]]) == [matches]


# Globs made of characters and of bracket expressions, which are what ranges,
# negation and their odd cases are made of.
globs = st.lists(
    st.one_of(
        st.sampled_from(GLOB_ALPHABET),
        st.builds("[{}{}]".format, st.sampled_from(["", "!"]), st.text(GLOB_ALPHABET, max_size=6)),
    ),
    max_size=6,
).map("".join)


@st.composite
def glob_and_name(draw: st.DrawFn) -> tuple[str, str]:
    """A glob, and a name that is random, short, the glob itself, or one fnmatch would match."""
    glob = draw(globs)
    names = [
        st.text(NAME_ALPHABET, max_size=12),
        st.text(NAME_ALPHABET, max_size=2),
        st.just(glob),
    ]
    regex = fnmatch.translate(glob)
    if "(?!)" not in regex:  # fnmatch's spelling of a set that matches nothing
        names.append(st.from_regex(regex, fullmatch=True))
    return glob, draw(st.one_of(names))


@pytest.mark.browser
# Each example is a batch of cases, for one call into the browser: slow to draw by design.
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(glob_and_name(), min_size=50, max_size=50))
def test_javascript_matches_exactly_when_fnmatch_does(
    javascript: Page, cases: list[tuple[str, str]]
) -> None:
    sources = [[js_regex_source(glob), name] for glob, name in cases]
    matched = javascript.evaluate(MATCH_IN_JAVASCRIPT, sources)
    expected = [fnmatch.fnmatchcase(name, glob) for glob, name in cases]
    wrong = [
        (glob, name, source[0], found)
        for (glob, name), source, found, right in zip(
            cases, sources, matched, expected, strict=True
        )
        if found != right
    ]
    assert wrong == []
