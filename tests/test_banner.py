"""Banner markup: languages, text overrides, Consent Mode, CSP nonces, asset size."""

from __future__ import annotations

import gzip
import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from consent import Category, ConsentMiddleware
from consent.assets import Assets
from consent.banner import BannerMarkup
from consent.log import MemoryConsentLog
from consent.settings import bundled_locales
from tests.asgi import body_of, call, consent_cookie, http_scope
from tests.conftest import ANALYTICS, make_settings

ROOT = Path(__file__).parent.parent
PAGE = (
    "<!doctype html><html><head><title>t</title></head><body>"
    '<script type="text/plain" data-consent-category="analytics" src="/a.js"></script>'
    '<script type="text/plain" data-consent-category="marketing" src="/ads.js"></script>'
    '<iframe data-consent-category="analytics" data-src="/video" title="v"></iframe>'
    "</body></html>"
)
GOOGLE = [
    ANALYTICS,
    Category(
        key="marketing",
        title="Ads",
        cookies=["_fbp"],
        gpc_opt_out=True,
        google_consent_types=["ad_storage", "ad_user_data", "ad_personalization"],
    ),
]


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def streamed_page(request: Request) -> Response:
    async def chunks() -> Any:
        for index in range(0, len(PAGE), 7):
            yield PAGE[index : index + 7].encode()

    return StreamingResponse(
        chunks(), media_type="text/html", headers={"content-length": str(len(PAGE))}
    )


def client(**overrides: Any) -> TestClient:
    app = Starlette(routes=[Route("/", page), Route("/streamed", streamed_page)])
    app.add_middleware(
        ConsentMiddleware, settings=make_settings(**overrides), log=MemoryConsentLog()
    )
    return TestClient(app, follow_redirects=False)


def banner_of(html: str) -> str:
    found = re.search(r"<div class=\"consent-banner .*?</form>", html, re.S)
    assert found is not None
    return found.group(0)


# --- languages (every bundled locale: tests/test_locales.py) -----------------------------------


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("de-CH, fr;q=0.9", "de"),
        ("xx-YY, fr;q=0.5, de;q=0.4", "fr"),
        ("pt-BR", "pt-BR"),
        ("pt-PT", "pt"),
        ("en;q=0.2, ja;q=0.8", "ja"),
        ("fr;q=0, it", "it"),
        ("*", "en"),
        ("", "en"),
        ("q=;;,,;q=abc", "en"),
    ],
)
def test_language_from_accept_language(header: str, locale: str) -> None:
    markup = BannerMarkup(make_settings(), {"consent.css": "", "consent.js": ""}, "")
    assert markup.for_request(header).locale == locale


def test_forced_locale() -> None:
    html = client(locale="sv").get("/", headers={"accept-language": "de"}).text
    assert 'lang="sv"' in banner_of(html)


def test_text_override_per_locale() -> None:
    html = (
        client(texts={"de": {"banner_title": "Kekse?"}})
        .get("/", headers={"accept-language": "de"})
        .text
    )
    assert "Kekse?" in html
    assert "Alle akzeptieren" in html


def test_unknown_text_key_is_named() -> None:
    with pytest.raises(ValidationError, match=r"texts\.de: unknown text key\(s\) \['title'\]"):
        make_settings(texts={"de": {"title": "x"}})


def test_new_locale_needs_every_text() -> None:
    with pytest.raises(ValidationError, match=r"texts\.lb: 'lb' is not bundled"):
        make_settings(texts={"lb": {"accept_all": "All akzeptéieren"}})
    complete = dict(bundled_locales()["en"]["texts"], accept_all="All akzeptéieren")
    html = client(texts={"lb": complete}).get("/", headers={"accept-language": "lb"}).text
    assert "All akzept&#233;ieren" in html


def test_unavailable_forced_locale_is_named() -> None:
    with pytest.raises(ValidationError, match=r"locale: 'xx' is not one of"):
        make_settings(locale="xx")


def test_operator_category_titles_per_locale() -> None:
    category = Category(key="stats", title="Statistics", titles={"de": "Statistiken"})
    html = client(categories=[category]).get("/", headers={"accept-language": "de"}).text
    assert "Statistiken" in html
    assert "Statistics" in client(categories=[category]).get("/").text


def test_decision_logs_the_language_and_notice_it_was_shown_in() -> None:
    log = MemoryConsentLog()
    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(ConsentMiddleware, settings=make_settings(), log=log)
    test_client = TestClient(app, follow_redirects=False)
    test_client.post("/_consent", data={"action": "reject_all", "locale": "fr"})
    test_client.post("/_consent", data={"action": "reject_all"}, headers={"accept-language": "ja"})
    assert [event.locale for event in log.events] == ["fr", "ja"]
    assert log.events[0].notice_hash != log.events[1].notice_hash
    assert log.notices[log.events[0].notice_hash]["texts"]["accept_all"] == "Tout accepter"


def test_gpc_notice_is_localised() -> None:
    html = client().get("/", headers={"accept-language": "de", "sec-gpc": "1"}).text
    assert "data-consent-gpc" in html
    assert "Opt-out-Anfrage" in html


# --- gated tags, made live on the server for granted categories --------------------------------


def decided(granted: set[str], path: str = "/", **overrides: Any) -> Any:
    settings = make_settings(**overrides)
    app = Starlette(routes=[Route("/", page), Route("/streamed", streamed_page)])
    app.add_middleware(ConsentMiddleware, settings=settings)
    cookie = consent_cookie(settings, granted)[1].decode()
    return TestClient(app).get(path, headers={"cookie": cookie})


def test_granted_scripts_run_from_the_first_byte() -> None:
    response = decided({"analytics"})
    assert '<script  data-consent-category="analytics" src="/a.js">' in response.text
    assert '<script type="text/plain" data-consent-category="marketing"' in response.text
    assert 'data-src="/video" src="/video"' in response.text
    assert int(response.headers["content-length"]) == len(response.content)


def test_nothing_is_made_live_for_an_undecided_visitor() -> None:
    html = client().get("/").text
    assert html.count('type="text/plain"') == 2
    assert ' src="/video"' not in html


def test_streamed_page_with_live_tags_is_sent_without_a_length() -> None:
    response = decided({"analytics"}, "/streamed")
    assert "content-length" not in response.headers
    assert '<script  data-consent-category="analytics" src="/a.js">' in response.text


def test_streamed_page_without_live_tags_keeps_an_exact_length() -> None:
    response = decided(set(), "/streamed")
    assert int(response.headers["content-length"]) == len(response.content)


# --- Google Consent Mode ---------------------------------------------------------------------


def consent_mode_state(html: str) -> dict[str, Any]:
    found = re.search(
        r'<head><script src="/_consent/static/consent-mode\.[0-9a-f]{12}\.js" '
        r'data-consent-mode="([^"]*)"></script><title>',
        html,
    )
    assert found is not None, "Consent Mode must be the first tag in <head>"
    import html as html_module

    state: dict[str, Any] = json.loads(html_module.unescape(found.group(1)))
    return state


def test_consent_mode_defaults_everything_to_denied_first() -> None:
    state = consent_mode_state(client(categories=GOOGLE).get("/").text)
    assert state == {
        "default": {
            "ad_storage": "denied",
            "ad_user_data": "denied",
            "ad_personalization": "denied",
            "analytics_storage": "denied",
            "functionality_storage": "denied",
            "personalization_storage": "denied",
            "security_storage": "granted",
            "wait_for_update": 500,
        },
        "update": None,
    }


def test_consent_mode_update_on_every_page_of_a_decided_visitor() -> None:
    state = consent_mode_state(decided({"analytics"}, categories=GOOGLE).text)
    assert state["update"] == {
        "ad_storage": "denied",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
        "analytics_storage": "granted",
        "functionality_storage": "denied",
        "personalization_storage": "denied",
    }


def test_no_consent_mode_without_google_types() -> None:
    assert "consent-mode" not in client().get("/").text


def test_consent_mode_script_is_served() -> None:
    test_client = client(categories=GOOGLE)
    url = re.search(
        r'src="(/_consent/static/consent-mode\.[0-9a-f]{12}\.js)"', test_client.get("/").text
    )
    assert url is not None
    script = test_client.get(url.group(1))
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert 'gtag("consent", "default"' in script.text


# --- CSP nonce ----------------------------------------------------------------------------------


def test_injected_tags_carry_the_apps_nonce() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["csp_nonce"] = 'abc123"'
        await HTMLResponse(PAGE)(scope, receive, send)

    settings = make_settings(categories=GOOGLE)
    html = body_of(call(ConsentMiddleware(app, settings), http_scope())).decode()
    assert html.count('nonce="abc123&quot;"') == 3  # Consent Mode, stylesheet, consent.js
    assert 'nonce=""' not in html
    # With a nonce, Consent Mode's script and the banner's stylesheet are inline.
    assert re.search(r'<head><script nonce="abc123&quot;" data-consent-mode="[^"]*">', html)
    assert "consent-mode." not in html
    assert '<style nonce="abc123&quot;">:root {' in html
    assert 'rel="stylesheet"' not in html


def test_the_banner_comes_first_in_the_body_hidden_until_its_stylesheet() -> None:
    html = client().get("/").text
    body = html.index("<body>") + len("<body>")
    assert html.startswith('<div class="consent-root"', body)
    assert 'data-consent-banner hidden role="region"' in html
    # Without a nonce the stylesheet is preloaded (nothing blocks the first paint),
    # applied by consent.js, and linked for JavaScript off: all after the banner.
    css = r"/_consent/static/consent\.[0-9a-f]{12}\.css"
    found = re.search(
        rf'</div>\n<script type="module" [^>]*></script>'
        rf'<link rel="preload" as="style" href="{css}" fetchpriority="low">'
        rf'<noscript><link rel="stylesheet" href="{css}"></noscript><script type="text/plain"',
        html,
    )
    assert found is not None
    attribute = re.search(r'data-consent-config="([^"]*)"', html)
    assert attribute is not None
    config = json.loads(unescape(attribute.group(1)))
    assert re.fullmatch(css, config["stylesheet"])


def test_a_decided_visitors_settings_control_goes_before_body_end() -> None:
    browser = client()
    browser.post("/_consent", data={"action": "accept_all", "next": "/"})
    html = browser.get("/").text
    assert html.index('<link rel="stylesheet"') > html.index("<iframe")
    assert html.index("data-consent-settings") < html.index("</body>")
    assert "data-consent-banner" not in html


def test_one_middleware_gives_each_request_its_own_snippets() -> None:
    """Snippets are reused between requests: never across languages, pages, nonces or choices."""
    nonces = iter(["", "n-1", "n-2", "", "", ""])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonce = next(nonces)
        if nonce:
            scope.setdefault("state", {})["csp_nonce"] = nonce
        await HTMLResponse(PAGE)(scope, receive, send)

    settings = make_settings(categories=GOOGLE)
    middleware = ConsentMiddleware(app, settings)

    def page_for(path: str, language: bytes, *extra: tuple[bytes, bytes]) -> str:
        scope = http_scope(path, headers=[(b"accept-language", language), *extra])
        return body_of(call(middleware, scope)).decode()

    first = page_for("/news/a", b"de")
    assert 'lang="de"' in first
    assert 'name="next" value="/news/a"' in first
    with_nonce = page_for("/news/a", b"de")
    assert with_nonce.count('nonce="n-1"') == 3
    other_nonce = page_for("/news/a", b"de")
    assert other_nonce.count('nonce="n-2"') == 3
    assert "n-1" not in other_nonce
    assert page_for("/news/a", b"de") == first
    french = page_for("/news/b", b"fr")
    assert 'lang="fr"' in french
    assert 'name="next" value="/news/b"' in french
    assert "/news/a" not in french
    decided = page_for("/news/a", b"de", consent_cookie(settings, {"analytics"}))
    assert "data-consent-banner" not in decided
    assert "data-consent-banner" in first


# --- assets -------------------------------------------------------------------------------------


def test_script_and_styles_fit_in_5_kb_gzipped() -> None:
    files = Assets("/_consent").sources
    total = sum(
        len(gzip.compress(files[name].encode(), 9))
        for name in ("consent.js", "consent.css", "consent-mode.js")
    )
    assert total <= 5 * 1024, total


def test_served_files_leave_out_comments_only() -> None:
    served = Assets("/_consent").sources
    for name, text in served.items():
        source = (ROOT / "static" / name).read_text()
        assert "/*" not in text, name
        assert len(text) < len(source), name
        # What is left is the source, in order, less its comments.
        words = re.sub(r"/\*.*?\*/", "", source, flags=re.S).split()
        assert text.split() == words, name


def test_script_is_a_module_with_no_empty_nonce() -> None:
    html = client().get("/").text
    [tag] = re.findall(r"<script[^>]*/consent\.[0-9a-f]{12}\.js[^>]*>", html)
    assert re.fullmatch(
        r'<script type="module" src="/_consent/static/consent\.[0-9a-f]{12}\.js"'
        r' fetchpriority="low">',
        tag,
    )


def test_script_has_no_eval_and_no_inline_handlers() -> None:
    script = (ROOT / "static" / "consent.js").read_text()
    assert "eval(" not in script
    assert "new Function" not in script
    assert "innerHTML" not in script
    templates = "".join(p.read_text() for p in (ROOT / "consent" / "templates").glob("*.html"))
    assert not re.search(r"\son[a-z]+=", templates)
    assert "style=" not in templates
