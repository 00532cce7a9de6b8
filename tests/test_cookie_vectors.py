"""Every public cookie-parsing vector, through a model browser and through the middleware.

The vectors (``../shared/data/cookie-vectors``, beside the repository) are the
IETF http-state parser suite (RFC 6265), web-platform-tests ``cookies/`` and
worked examples of RFC 6265bis. For each vector:

* the model browser (``tests/cookie_jar.py``) is first checked against it:
  the vector's ``Set-Cookie`` strings, applied at its URL, give the expected
  ``Cookie`` header (or ``document.cookie``);
* a. ``set_cookie_name`` gives, for every string, the name the app then reads
  (Starlette's ``cookie_parser`` on what the browser sends back), or None when
  a browser ignores it; and ``set_cookie_pair(...).names`` holds every name
  Werkzeug, Django and SimpleCookie read from it (no setting plays a part:
  once per vector);
* b. through ``ConsentMiddleware`` (``undeclared_cookies`` "block" with the
  names undeclared, and "allow" with every name declared in one category),
  a visitor who refused stores no cookie of the vector, and one who granted
  the category stores what the vector expects;
* c. the vector's cookies already in the browser, a visitor who refuses sends
  them: the app reads none of them, with any of the parsers, and the response
  deletes every one the browser sent.

Where RFC 6265 and RFC 6265bis disagree, the http-state suite expects RFC
6265; those vectors are checked against RFC 6265bis instead (``RFC6265BIS``).
The ``dom`` vectors of web-platform-tests set cookies with ``document.cookie``,
which parses as ``Set-Cookie`` does: the model applies them that way, from the
test page over https (their ``Secure`` cases expect the cookie stored, which a
browser allows only from a secure page); parts a to c send the same strings
as ``Set-Cookie`` headers. No vector is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import pytest
from django.http.cookie import parse_cookie as django_parse_cookie  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.requests import Request, cookie_parser
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from werkzeug.http import parse_cookie as werkzeug_parse_cookie
from werkzeug.sansio.http import parse_cookie as werkzeug_sansio_parse_cookie

from consent import Category, ConsentMiddleware, ConsentSettings
from consent.cookie import Method
from consent.cookie_headers import set_cookie_name, set_cookie_pair
from tests.asgi import call, consent_cookie, headers_of, http_scope
from tests.conftest import IN_CI, make_settings
from tests.cookie_jar import CookieJar, parse_set_cookie

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cookie-vectors"
FILES = {"http_state_parser.json": 222, "wpt_cookies.json": 610, "rfc6265bis.json": 21}

RFC6265BIS: dict[str, tuple[str, str]] = {
    # RFC 6265 §5.2 ignored a pair without "=" or with an empty name; RFC 6265bis §5.6
    # step 3 stores it with an empty name and §5.8.3 sends its bare value.
    "http-state/0004": ("foo", "nameless cookie"),
    "http-state/0021": ("a=b; x; c=d", "nameless cookie"),
    "http-state/0023": ("foo", "nameless cookie; the empty string is ignored"),
    "http-state/0024": ("foo", "nameless cookie; '=' alone is ignored"),
    "http-state/0025": ("foo", "nameless cookie; '; bar' has an empty name and value"),
    "http-state/0026": ("foo", "nameless cookie; the empty string is ignored"),
    "http-state/0027": ("bar", "nameless cookie, replaced by the next nameless one"),
    "http-state/0028": ("foo", "nameless cookie; the empty string is ignored"),
    "http-state/chromium0009": ("BLAHHH", "nameless cookie"),
    "http-state/chromium0010": ('"BLA\\"HHH"', "nameless cookie, quotes kept"),
    "http-state/chromium0012": ("ABC", "empty name"),
    "http-state/mozilla0012": ('test="fubar! = foo; five', "nameless 'five', bad Max-Age"),
    "http-state/mozilla0014": ("six", "nameless cookie"),
    "http-state/mozilla0015": ("seven", "nameless cookie, replaced by the next"),
    "http-state/mozilla0016": ("eight", "nameless cookies, the last one stays"),
    "http-state/mozilla0017": ("eight; test=six", "nameless cookies, the last one stays"),
    "http-state/name0017": ("a=bar", "empty name; the value keeps its '='"),
    "http-state/name0023": ("foo", "nameless cookie; 'bar=baz' is an attribute"),
    "http-state/name0025": ("==a=bar", "empty name; the value keeps its '='"),
    "http-state/name0028": ("a", "empty name"),
    "http-state/name0031": ('"foo', "nameless cookie ending at the first ';'"),
    "http-state/name0032": ('"foo\\"bar', "nameless cookie ending at the first ';'"),
    "http-state/name0033": ("aaa", "nameless cookies, the last one stays"),
    # Disabled upstream, and decided otherwise since. (disabled-chromium0020, 4097 octets
    # without "=", expects nothing stored, as RFC 6265bis does: it is checked as it is.)
    "http-state/disabled-chromium0022": ("", "a NUL: §5.6 step 1 ignores the whole string"),
    "http-state/disabled-chromium0023": ("", "a CR: §5.6 step 1 ignores the whole string"),
    "http-state/disabled-path0029": ("", "§5.1.4 path-match compares the path undecoded"),
    # An LF cannot be inside an HTTP header value: the wpt server writes it raw and the
    # browser reads the header line up to it. As one Set-Cookie value (the string the
    # middleware would see) it is ignored, §5.6 step 1.
    "wpt/cookies/value/value.html#13": ("", "an LF: §5.6 step 1 ignores the whole string"),
}
"""Vectors whose file expects RFC 6265 (or a raw header line), with RFC 6265bis's answer."""

EMPTY_NAME_IN_ALLOW_MODE = [
    "http-state/name0025",
    "wpt/cookies/name/name.html#3",
]
"""Vectors storing a cookie the app reads under the empty name (``===a=bar``, sent as
``==a=bar``). No pattern can declare the empty name, so ``undeclared_cookies="allow"``
lets that cookie through like any undeclared one (block mode blocks it): in allow mode
parts b and c check that only such cookies are stored or seen."""

Mode = Literal["block", "allow"]
MODES: tuple[Mode, ...] = ("block", "allow")
CATEGORY = "tracking"


@dataclass(frozen=True)
class Vector:
    """One vector: strings set by a response to ``set_url``, read back at ``read_url``."""

    id: str
    set_cookie: tuple[bytes, ...]
    set_url: str
    read_url: str
    expected: bytes
    """The ``Cookie`` header (``document.cookie`` where ``script``) the browser then has."""
    script: bool = False
    """Read (and, for a ``dom`` vector, set) through ``document.cookie``."""
    set_by_script: bool = False


def _load() -> list[Vector]:
    if not DATA.is_dir():
        return []
    vectors: list[Vector] = []
    for raw in _vectors("http_state_parser.json"):
        case = raw["id"].split("/", 1)[1]
        set_url = f"http://home.example.org:8888/cookie-parser?{case}"
        read_url = f"http://home.example.org:8888/cookie-parser-result?{case}"
        if raw["location"]:
            read_url = urljoin(set_url, raw["location"])
        expected = raw["expected_cookie_header"] or ""
        vectors.append(_vector(raw, set_url, read_url, expected))
    for raw in _vectors("wpt_cookies.json"):
        if raw["via"] == "dom":
            page = f"https://web-platform.test/{raw['file']}"
            vectors.append(
                _vector(raw, page, page, raw["expected_document_cookie"], set_by_script=True)
            )
            continue
        # cookie-test.js sets the strings from /cookies/resources/cookie.py and reads
        # document.cookie there (default path) or on the test page.
        set_url = "http://web-platform.test/cookies/resources/cookie.py"
        read_url = "http://web-platform.test/cookies/resources/"
        if not raw["default_path"]:
            read_url = f"http://web-platform.test/{raw['file']}"
        vectors.append(_vector(raw, set_url, read_url, raw["expected_document_cookie"]))
    for raw in _vectors("rfc6265bis.json"):
        url = "http://testserver/"
        vectors.append(_vector(raw, url, url, raw["expected_cookie_header"]))
    return vectors


def _vectors(file: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((DATA / file).read_text("utf-8"))["vectors"]
    return vectors


def _vector(
    raw: dict[str, Any], set_url: str, read_url: str, expected: str, *, set_by_script: bool = False
) -> Vector:
    expected = RFC6265BIS.get(raw["id"], (expected, ""))[0]
    return Vector(
        id=raw["id"],
        set_cookie=tuple(string.encode("utf-8") for string in raw["set_cookie"]),
        set_url=set_url,
        read_url=read_url,
        expected=expected.encode("utf-8"),
        script=raw["id"].startswith("wpt/"),
        set_by_script=set_by_script,
    )


VECTORS = _load()
BY_ID = {vector.id: vector for vector in VECTORS}


def vector_params() -> list[Any]:
    return [pytest.param(vector, id=vector.id) for vector in VECTORS]


def mode_params() -> list[Any]:
    return [
        pytest.param(vector, mode, id=f"{vector.id}-{mode}") for vector in VECTORS for mode in MODES
    ]


# The data, and the model browser ------------------------------------------------------


def test_vector_data_is_present() -> None:
    if not DATA.is_dir():
        message = f"cookie vectors not found at {DATA} (the shared data beside the repository)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    counts = {file: len(_vectors(file)) for file in FILES}
    assert counts == FILES
    assert len(BY_ID) == sum(FILES.values())


def test_rfc6265bis_answers_are_for_vectors_that_expect_otherwise() -> None:
    if not DATA.is_dir():
        pytest.skip(f"cookie vectors not found at {DATA}")
    expected_in_files = {
        raw["id"]: raw.get("expected_cookie_header") or raw.get("expected_document_cookie") or ""
        for file in FILES
        for raw in _vectors(file)
    }
    for vector_id, (answer, _) in RFC6265BIS.items():
        assert expected_in_files[vector_id] != answer, vector_id


@pytest.mark.parametrize("vector", vector_params())
def test_model_browser_gives_the_expected_cookies(vector: Vector) -> None:
    jar = CookieJar()
    for string in vector.set_cookie:
        jar.set_cookie(string, vector.set_url, http=not vector.set_by_script)
    assert jar.cookie_header(vector.read_url, http=not vector.script) == vector.expected


# a. Names ------------------------------------------------------------------------------


def name_starlette_reads(pair: bytes) -> str:
    """The name Starlette files one cookie under; for one without ``=``, its bare value.

    Starlette files a pair without ``=`` under ``""``: the cookie is the one its value
    names (Werkzeug reads that as the name, and so do scripts).
    """
    text = pair.decode("latin-1")  # as an ASGI server hands headers to the app
    read = cookie_parser(text)
    assert len(read) == 1, read
    key = next(iter(read))
    return key if "=" in text else text.strip()


def names_read(header: bytes) -> set[str]:
    """Every cookie name the common server parsers read from a ``Cookie`` header."""
    latin = header.decode("latin-1")
    names = set(cookie_parser(latin))
    names |= set(werkzeug_sansio_parse_cookie(latin))
    names |= set(werkzeug_parse_cookie(latin))  # werkzeug.http decodes UTF-8 first
    names |= set(django_parse_cookie(latin))  # Django's ASGI handler: latin-1
    names |= set(django_parse_cookie(header.decode("utf-8", "replace")))  # under WSGI
    simple: SimpleCookie = SimpleCookie()
    with suppress(CookieError):  # SimpleCookie reads nothing from a header it finds illegal
        simple.load(latin)
    names |= set(simple)
    return names


@pytest.mark.parametrize("vector", vector_params())
def test_set_cookie_name_is_the_name_the_app_reads(vector: Vector) -> None:
    for string in vector.set_cookie:
        parsed = parse_set_cookie(string)
        if parsed is None:
            assert set_cookie_name(string) is None, string
            assert set_cookie_pair(string) is None, string
            continue
        # What the browser sends back for this cookie alone.
        stored = CookieJar()
        url = f"https://{urlsplit(vector.set_url).hostname}/"
        cookie = stored.set_cookie(string.split(b";")[0], url)
        assert cookie is not None, string
        header = stored.cookie_header(url)
        pair = set_cookie_pair(string)
        assert pair is not None, string
        assert set_cookie_name(string) == pair.name == name_starlette_reads(header), string
        assert pair.raw == header
        assert names_read(header) - {""} <= set(pair.names), string


# b. and c. Through the middleware -------------------------------------------------------


def every_name_but(kept: str) -> tuple[str, ...]:
    """Glob patterns matching every non-empty cookie name except ``kept``.

    ``*`` would match the consent cookie too, which settings refuse.
    """
    patterns = []
    for index in range(len(kept)):
        patterns.append(f"{kept[:index]}[!{kept[index]}]*")
        if index:
            patterns.append(kept[:index])
    patterns.append(f"{kept}?*")
    return tuple(patterns)


def settings_for(mode: Mode) -> ConsentSettings:
    """``block``: no name declared. ``allow``: every name but the consent cookie's declared
    in one category."""
    cookies = every_name_but("consent") if mode == "allow" else ()
    category = Category(key=CATEGORY, title="Tracking", cookies=cookies)
    return make_settings(categories=[category], undeclared_cookies=mode, locale="en")


class VectorSite:
    """A Starlette app sending raw ``Set-Cookie`` headers (``set_cookies``), behind the
    middleware."""

    def __init__(self, mode: Mode) -> None:
        self.settings = settings_for(mode)
        self.set_cookies: Sequence[bytes] = ()
        self.received: list[tuple[dict[str, str], str]] = []

        async def page(request: Request) -> Response:
            self.received.append((dict(request.cookies), request.headers.get("cookie", "")))
            response = PlainTextResponse("ok")
            response.raw_headers += [(b"set-cookie", value) for value in self.set_cookies]
            return response

        app = Starlette(routes=[Route("/{path:path}", page)])
        self.middleware = ConsentMiddleware(app, settings=self.settings)

    def visitor(self, choice: str) -> bytes:
        """The consent cookie pair of a visitor (``undecided``: none)."""
        if choice == "undecided":
            return b""
        methods: dict[str, tuple[Method, set[str]]] = {
            "reject_all": ("r", set()),
            "granted": ("a", {CATEGORY}),
        }
        method, granted = methods[choice]
        return consent_cookie(self.settings, granted, method)[1]

    def get(self, url: str, cookies: bytes) -> list[bytes]:
        """Request ``url`` with this ``Cookie`` header; the response's ``Set-Cookie`` values."""
        parts = urlsplit(url)
        headers = [(b"cookie", cookies)] if cookies else []
        scope = http_scope(
            parts.path or "/",
            headers=headers,
            query=parts.query.encode("latin-1"),
            scheme=parts.scheme,
        )
        scope["headers"] = [(b"host", parts.netloc.encode("latin-1")), *headers]
        messages = call(self.middleware, scope)
        assert messages[0]["status"] == 200
        return [value for name, value in headers_of(messages) if name.lower() == b"set-cookie"]


_SHARED_SITES: dict[Mode, VectorSite] = {}


def site_for(vector: Vector, mode: Mode, *, fresh: bool = False) -> VectorSite:
    """A site sending ``vector``'s strings.

    Building a middleware costs tens of milliseconds, so the tests whose outcome
    cannot depend on what it learnt from earlier responses (where the app sets
    its cookies) share one per mode; ``fresh`` builds a new one.
    """
    site = None if fresh else _SHARED_SITES.get(mode)
    if site is None:
        site = VectorSite(mode)
        if not fresh:
            _SHARED_SITES[mode] = site
    site.set_cookies = vector.set_cookie
    return site


def join(*pairs: bytes) -> bytes:
    return b"; ".join(pair for pair in pairs if pair)


def apply(jar: CookieJar, url: str, set_cookies: Sequence[bytes]) -> None:
    for value in set_cookies:
        jar.set_cookie(value, url)


def read_under_empty_name(jar: CookieJar) -> list[bytes]:
    """The cookies of ``jar`` the app reads under the empty name."""
    return [c.pair() for c in jar.cookies if name_starlette_reads(c.pair()) == ""]


def test_empty_name_vectors_are_the_listed_ones() -> None:
    if not DATA.is_dir():
        pytest.skip(f"cookie vectors not found at {DATA}")
    found = []
    for vector in VECTORS:
        jar = CookieJar()
        apply(jar, vector.set_url, vector.set_cookie)
        if read_under_empty_name(jar):
            found.append(vector.id)
    assert found == EMPTY_NAME_IN_ALLOW_MODE


@pytest.mark.parametrize(("vector", "mode"), mode_params())
def test_refused_cookies_are_never_stored(vector: Vector, mode: Mode) -> None:
    site = site_for(vector, mode)
    for choice in ("undecided", "reject_all"):
        jar = CookieJar()
        apply(jar, vector.set_url, site.get(vector.set_url, site.visitor(choice)))
        stored = [c.pair() for c in jar.cookies]
        if mode == "allow":
            assert stored == read_under_empty_name(jar), choice
        else:
            assert stored == [], choice


@pytest.mark.parametrize("vector", vector_params())
def test_granted_cookies_are_stored_as_the_vector_expects(vector: Vector) -> None:
    site = site_for(vector, "allow")
    jar = CookieJar()
    apply(jar, vector.set_url, site.get(vector.set_url, site.visitor("granted")))
    assert jar.cookie_header(vector.read_url, http=not vector.script) == vector.expected


@pytest.mark.parametrize(("vector", "mode"), mode_params())
def test_refused_cookies_are_hidden_and_deleted(vector: Vector, mode: Mode) -> None:
    browser = CookieJar()
    apply(browser, vector.set_url, vector.set_cookie)
    # Where the deletions go depends on what the middleware saw the app set: a new
    # one, unless the browser has nothing of the vector to send here.
    site = site_for(vector, mode, fresh=bool(browser.cookie_header(vector.read_url)))
    # The cookies were set while the visitor consented (in block mode, before the
    # middleware stood in the way); the middleware saw the app set them.
    learnt = site.get(vector.set_url, site.visitor("granted" if mode == "allow" else "undecided"))
    jar = CookieJar()
    apply(jar, vector.set_url, learnt if mode == "allow" else vector.set_cookie)
    # Then the visitor refuses, and the app sets nothing more.
    site.set_cookies = ()
    sent = jar.cookie_header(vector.read_url)
    requests_before = len(site.received)
    deletions = site.get(vector.read_url, join(site.visitor("reject_all"), sent))
    assert len(site.received) == requests_before + 1
    cookies, header = site.received[-1]
    seen = set(cookies) | names_read(header.encode("latin-1"))
    allowed = {"consent", ""} if mode == "allow" else {"consent"}
    assert seen <= allowed, sent
    apply(jar, vector.read_url, deletions)
    left = jar.cookie_header(vector.read_url)
    if mode == "allow":
        assert left == join(*read_under_empty_name(jar)), sent
    else:
        assert left == b"", sent
