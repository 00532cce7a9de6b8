"""Every bundled locale: complete texts, its direction, rendered; and the choice among them.

The choice from ``Accept-Language`` is checked twice: by the middleware, and by
the VCL that ``consent vcl`` writes for a page cache in ``cache_mode="shared"``
(in Python here, and in a real Varnish, marked ``varnish``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import ValidationError
from starlette.responses import HTMLResponse

from consent import ConsentMiddleware
from consent.banner import BannerMarkup
from consent.settings import ConsentSettings, bundled_locales
from consent.vcl import varnish_vcl
from tests.asgi import body_of, call, consent_cookie, http_scope
from tests.conftest import make_settings

BUNDLED = [
    "ar", "bg", "ca", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr",
    "ga", "he", "hr", "hu", "is", "it", "ja", "ko", "lt", "lv", "mt", "nb",
    "nl", "pl", "pt", "pt-BR", "ro", "sk", "sl", "sv", "tr", "uk", "zh-Hans", "zh-Hant",
]  # fmt: skip
RIGHT_TO_LEFT = {"ar", "he"}
ENGLISH = bundled_locales()["en"]
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
PAGE = (
    "<!doctype html><html><head><title>Page</title></head>"
    "<body><main><h1>News</h1><p>Text.</p></main></body></html>"
)

# Accept-Language as browsers send it, and the locale a visitor expects from it.
NEGOTIATION = [
    ("zh-CN", "zh-Hans"),
    ("zh-SG", "zh-Hans"),
    ("zh-Hans", "zh-Hans"),
    ("zh-Hans-CN", "zh-Hans"),
    ("zh-Hans-HK", "zh-Hans"),
    ("zh", "zh-Hans"),
    ("zh-TW", "zh-Hant"),
    ("zh-HK", "zh-Hant"),
    ("zh-MO", "zh-Hant"),
    ("zh-Hant", "zh-Hant"),
    ("zh-Hant-TW", "zh-Hant"),
    ("zh-Hant-HK", "zh-Hant"),
    ("pt-BR", "pt-BR"),
    ("pt", "pt"),
    ("pt-PT", "pt"),
    ("pt-AO", "pt"),
    ("no", "nb"),
    ("nb", "nb"),
    ("nn", "nb"),
    ("nb-NO", "nb"),
    ("nn-NO", "nb"),
    ("no-NO", "nb"),
    ("iw", "he"),
    ("iw-IL", "he"),
    ("he-IL", "he"),
    ("ar-EG", "ar"),
    # Case-insensitive.
    ("ZH-tw", "zh-Hant"),
    ("zh-hans", "zh-Hans"),
    ("PT-br", "pt-BR"),
    ("IW", "he"),
    ("NN-no", "nb"),
    # The first language the visitor names that the site has.
    ("zh-TW, en;q=0.9", "zh-Hant"),
    ("en-GB, zh-TW", "en"),
    ("xx-YY, iw, de", "he"),
    ("fr-CA, zh-CN", "fr"),
]
# q-values choose, then the order: the middleware reads them (the VCL takes the first).
WEIGHTED = [
    ("en;q=0.5, zh-TW;q=0.8", "zh-Hant"),
    ("zh-TW;q=0, pt-BR", "pt-BR"),
    ("zh-Hans;q=0.1, zh-Hant;q=0.2", "zh-Hant"),
    ("xx, nn;q=0.1, ja;q=0.05", "nb"),
]


# --- the files ------------------------------------------------------------------------------


def test_the_bundled_locales_are_the_36() -> None:
    assert sorted(bundled_locales()) == sorted(BUNDLED)


def test_the_readme_names_every_locale() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    languages = readme.split("\n## Languages\n", 1)[1].split("\n## ", 1)[0]
    listed = languages.strip().split("\n\n")[0]
    assert set(re.findall(r"`([a-z]{2}(?:-[A-Za-z]+)?)`", listed)) == set(bundled_locales())


@pytest.mark.parametrize("locale", BUNDLED)
def test_locale_has_every_text_of_english_and_no_other(locale: str) -> None:
    data = bundled_locales()[locale]
    assert data.keys() == ENGLISH.keys()
    assert data["texts"].keys() == ENGLISH["texts"].keys()
    assert data["categories"].keys() == ENGLISH["categories"].keys()
    for key, category in data["categories"].items():
        assert category.keys() == ENGLISH["categories"][key].keys(), key


@pytest.mark.parametrize("locale", BUNDLED)
def test_locale_texts_are_filled_in(locale: str) -> None:
    data = bundled_locales()[locale]
    values = [*data["texts"].values()]
    values += [text for category in data["categories"].values() for text in category.values()]
    for value in values:
        assert isinstance(value, str)
        assert value.strip() == value != "", repr(value)


@pytest.mark.parametrize("locale", BUNDLED)
def test_locale_keeps_the_placeholders_of_english(locale: str) -> None:
    texts = bundled_locales()[locale]["texts"]
    for key, english in ENGLISH["texts"].items():
        assert sorted(PLACEHOLDER.findall(texts[key])) == sorted(PLACEHOLDER.findall(english)), key


@pytest.mark.parametrize("locale", BUNDLED)
def test_locale_names_itself_its_language_and_its_direction(locale: str) -> None:
    data = bundled_locales()[locale]
    assert data["locale"] == locale
    assert isinstance(data["language_name"], str)
    assert data["language_name"].strip()
    assert data["dir"] == ("rtl" if locale in RIGHT_TO_LEFT else "ltr")


# --- rendered -------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Element:
    tag: str
    attributes: dict[str, str | None]
    text: list[str] = field(default_factory=list)

    @property
    def words(self) -> str:
        return " ".join("".join(self.text).split())


class Document(HTMLParser):
    """A page's elements; an end tag that closes no open element, or one never closed, fails."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()
        assert self._open == [], f"never closed: {[e.tag for e in self._open]}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self._open, f"</{tag}> closes nothing"
        assert self._open[-1].tag == tag, f"</{tag}> closes <{self._open[-1].tag}>"
        self._open.pop()

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text.append(data)

    def one(self, tag: str, **attributes: str | None) -> Element:
        """The one ``tag`` with these attributes (``data_consent_root=None``: present, empty)."""
        wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attributes.items()}
        found = [
            element
            for element in self.elements
            if element.tag == tag
            and all(element.attributes.get(name, 0) == value for name, value in wanted.items())
        ]
        assert len(found) == 1, (tag, attributes, len(found))
        return found[0]


async def page(scope: Any, receive: Any, send: Any) -> None:
    await HTMLResponse(PAGE)(scope, receive, send)


def fetch(settings: ConsentSettings, path: str, *headers: tuple[bytes, bytes]) -> Document:
    messages = call(ConsentMiddleware(page, settings), http_scope(path, headers=[*headers]))
    assert messages[0]["status"] == 200
    return Document(body_of(messages).decode())


def language(locale: str) -> tuple[bytes, bytes]:
    return (b"accept-language", locale.encode())


@pytest.mark.parametrize("locale", BUNDLED)
def test_banner_in_every_locale(locale: str) -> None:
    texts = bundled_locales()[locale]["texts"]
    direction = "rtl" if locale in RIGHT_TO_LEFT else "ltr"
    document = fetch(make_settings(), "/", language(locale))
    root = document.one("div", data_consent_root=None)
    banner = document.one("div", data_consent_banner=None)
    for element in (root, banner):
        assert (element.attributes["lang"], element.attributes["dir"]) == (locale, direction)
    assert banner.attributes["aria-label"] == texts["banner_label"]
    reject = document.one("button", data_consent_action="reject_all")
    accept = document.one("button", data_consent_action="accept_all")
    assert (reject.words, accept.words) == (texts["reject_all"], texts["accept_all"])
    assert document.one("h2").words == texts["banner_title"]
    config = json.loads(root.attributes["data-consent-config"] or "")
    assert (config["locale"], config["dir"]) == (locale, direction)


@pytest.mark.parametrize("locale", BUNDLED)
def test_settings_control_in_every_locale(locale: str) -> None:
    texts = bundled_locales()[locale]["texts"]
    settings = make_settings()
    document = fetch(settings, "/", language(locale), consent_cookie(settings, {"analytics"}))
    control = document.one("div", data_consent_settings=None)
    assert control.attributes["dir"] == ("rtl" if locale in RIGHT_TO_LEFT else "ltr")
    assert document.one("div", data_consent_root=None).attributes["lang"] == locale
    link = document.one("a", class_="consent-settings__link")
    assert link.words == texts["cookie_settings"]
    assert document.one("button", data_consent_action="withdraw").words == texts["withdraw"]
    assert not any("data-consent-banner" in e.attributes for e in document.elements)


@pytest.mark.parametrize("locale", BUNDLED)
def test_preferences_page_in_every_locale(locale: str) -> None:
    data = bundled_locales()[locale]
    document = fetch(make_settings(), "/_consent/preferences", language(locale))
    html = document.one("html")
    direction = "rtl" if locale in RIGHT_TO_LEFT else "ltr"
    assert (html.attributes["lang"], html.attributes["dir"]) == (locale, direction)
    assert document.one("title").words == data["texts"]["preferences_title"]
    assert document.one("legend").words == data["texts"]["categories_legend"]
    for key, category in data["categories"].items():
        assert document.one("label", for_=f"consent-category-{key}").words == category["title"]


@pytest.mark.parametrize(
    ("locale", "direction"),
    [
        ("fa", "rtl"),
        ("ur-PK", "rtl"),
        ("ku-Arab", "rtl"),
        ("pa-Arab-PK", "rtl"),
        ("yi", "rtl"),
        ("az-Latn", "ltr"),
        ("sr-Cyrl-RS", "ltr"),
        ("lb", "ltr"),
    ],
)
def test_a_sites_own_locale_takes_the_direction_of_its_language(
    locale: str, direction: str
) -> None:
    settings = make_settings(texts={locale: dict(ENGLISH["texts"])})
    document = fetch(settings, "/", language(locale))
    banner = document.one("div", data_consent_banner=None)
    assert (banner.attributes["lang"], banner.attributes["dir"]) == (locale, direction)


# --- negotiation ----------------------------------------------------------------------------


def markup(**overrides: Any) -> BannerMarkup:
    return BannerMarkup(make_settings(**overrides), {"consent.css": "", "consent.js": ""}, "")


@pytest.mark.parametrize(("header", "locale"), NEGOTIATION + WEIGHTED)
def test_accept_language_chooses_the_locale_a_visitor_expects(header: str, locale: str) -> None:
    assert markup().for_request(header).locale == locale


def test_a_sites_own_locale_wins_over_the_alias_of_its_name() -> None:
    own = markup(texts={"zh-TW": dict(bundled_locales()["zh-Hant"]["texts"])})
    assert own.for_request("zh-TW").locale == "zh-TW"
    assert own.for_request("zh-HK").locale == "zh-Hant"


def test_a_long_tag_is_looked_up_by_its_prefixes() -> None:
    assert markup().for_request("zh-" + "x-" * 5000 + "TW").locale == "zh-Hans"
    assert markup().for_request("de" + "x" * 10000 + ", pt-BR").locale == "pt-BR"


@pytest.mark.parametrize("field_name", ["locale", "default_locale"])
@pytest.mark.parametrize("code", ["zh-Hans", "zh-Hant", "pt-BR", "nb", "he"])
def test_settings_take_the_canonical_codes(field_name: str, code: str) -> None:
    assert markup(**{field_name: code}).for_request("").locale == code


def test_texts_take_the_canonical_codes() -> None:
    settings = make_settings(texts={"zh-Hant": {"banner_title": "Cookie 與您"}})
    document = fetch(settings, "/", language("zh-TW"))
    assert document.one("h2").words == "Cookie 與您"


def test_an_alias_is_not_a_locale_of_the_settings() -> None:
    with pytest.raises(ValidationError, match=r"locale: 'zh-TW' is not one of"):
        make_settings(locale="zh-TW")


# --- the same choice in Varnish (cache_mode "shared") -----------------------------------------


def accept_language_rules(vcl: str) -> tuple[str, list[tuple[str, str]], str]:
    """The test, the substitutions (pattern, replacement) and the default of ``consent.vcl``."""
    block = re.search(
        r'    if \(req\.http\.Accept-Language ~\n\s+\{"(.*?)"\}\) \{\n(.*?)'
        r'    \} else \{\n\s+set req\.http\.Accept-Language = "([^"]*)";\n',
        vcl,
        re.S,
    )
    assert block is not None, vcl
    substitutions = re.findall(
        r"set req\.http\.Accept-Language = regsub\(req\.http\.Accept-Language,\n"
        r'\s+\{"(.*?)"\}, "(.*?)"\);',
        block.group(2),
    )
    return block.group(1), substitutions, block.group(3)


def normalised_as_in_vcl(vcl: str, header: str) -> str:
    """What ``consent_recv`` leaves in ``Accept-Language``, read with Python's ``re``.

    Fair for what it writes: ``(?i)``, ``\\s``, ``.*?``, alternatives of escaped
    literals, anchors; PCRE2 reads them alike (``test_vcl_chooses_in_varnish``).
    """
    test, substitutions, default = accept_language_rules(vcl)
    if not re.search(test, header):
        return default
    for pattern, replacement in substitutions:
        header = re.sub(pattern, replacement.replace("\\1", r"\1"), header, count=1)
    return header


def shared_vcl(**overrides: Any) -> str:
    return varnish_vcl(make_settings(cache_mode="shared", **overrides))


@pytest.mark.parametrize(("header", "locale"), NEGOTIATION)
def test_vcl_leaves_the_locale_a_visitor_expects(header: str, locale: str) -> None:
    normalised = normalised_as_in_vcl(shared_vcl(), header)
    assert normalised.lower() == locale.lower()
    # One stored variant per language: an alias becomes the site's code for it.
    if locale in {"zh-Hans", "zh-Hant", "nb", "he"}:
        assert normalised == locale
    assert markup().for_request(normalised).locale == locale


def test_vcl_leaves_the_default_for_a_language_the_site_lacks() -> None:
    assert normalised_as_in_vcl(shared_vcl(default_locale="de"), "xx-YY, yy") == "de"


def test_vcl_keeps_a_sites_own_locale_named_like_an_alias() -> None:
    vcl = shared_vcl(texts={"zh-TW": dict(bundled_locales()["zh-Hant"]["texts"])})
    assert normalised_as_in_vcl(vcl, "zh-TW") == "zh-TW"
    assert normalised_as_in_vcl(vcl, "zh-HK") == "zh-Hant"


VARNISHD = shutil.which("varnishd") or "/usr/sbin/varnishd"
ECHO_VCL = """\
vcl 4.1;
backend default none;
include "consent.vcl";
sub vcl_recv { call consent_recv; return (synth(200)); }
sub vcl_miss { return (synth(200)); }
sub vcl_pass { return (synth(200)); }
sub vcl_synth {
    set resp.http.X-Accept-Language = req.http.Accept-Language;
    return (deliver);
}
sub vcl_backend_response { call consent_backend_response; }
"""
"""Answers every request itself, with the ``Accept-Language`` that ``consent_recv`` left."""


@pytest.fixture(scope="module")
def varnish(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(VARNISHD).is_file():
        pytest.skip("Varnish is not installed (Debian package varnish; scripts/test adds it)")
    from tests.cache.servers import wait_for
    from tests.log.postgres import free_port

    workdir = tmp_path_factory.mktemp("varnish-languages")
    (workdir / "consent.vcl").write_text(shared_vcl())
    (workdir / "echo.vcl").write_text(ECHO_VCL)
    port = free_port()
    command = [VARNISHD, "-F", "-n", str(workdir / "state"), "-a", f"127.0.0.1:{port}"]
    command += ["-f", str(workdir / "echo.vcl"), "-p", f"vcl_path={workdir}", "-s", "malloc,16m"]
    if os.geteuid() == 0:
        # As root, varnishd would drop to its own users, who cannot read a test's files.
        command += ["-j", "none"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/", process, "varnishd")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.varnish
@pytest.mark.parametrize(("header", "locale"), NEGOTIATION)
def test_vcl_chooses_in_varnish(varnish: str, header: str, locale: str) -> None:
    response = httpx2.get(varnish + "/page", headers={"accept-language": header}, timeout=10)
    assert response.status_code == 200
    assert response.headers["x-accept-language"] == normalised_as_in_vcl(shared_vcl(), header)
    assert markup().for_request(response.headers["x-accept-language"]).locale == locale
