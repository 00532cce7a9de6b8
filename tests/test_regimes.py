"""The law where the visitor is: regime and region per request, and what each model grants.

The markup of each model (the opt-out notice, no banner) is tested with the banner;
here, what the request path decides from the trusted geo headers.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consent import REGIMES_RECOMMENDED, Category, ConsentMiddleware, get_consent
from consent.log import MemoryConsentLog
from tests.conftest import ANALYTICS, make_settings

CATEGORIES = [
    ANALYTICS,
    Category(key="marketing", title="Ads", cookies=["_fbp"], gpc_opt_out=True),
]
REGIMES: dict[str, Any] = {
    "US-CA": "opt-out",
    "US": "none",
    "FR": "opt-in",
    "EEA": "opt-out",
    "*": "none",
}
PAGE = "<!doctype html><html><head><title>t</title></head><body><p>Hi</p></body></html>"


def state_app() -> Starlette:
    async def state(request: Request) -> Response:
        consent = get_consent(request)
        return JSONResponse(
            {
                "regime": consent.regime,
                "region": consent.region,
                "decided": consent.decided,
                "granted": sorted(consent.granted),
                "cookies": sorted(request.cookies),
            }
        )

    async def page(request: Request) -> Response:
        response = HTMLResponse(PAGE)
        response.set_cookie("_ga", "GA1.2.3")
        response.set_cookie("_fbp", "fb.1")
        return response

    return Starlette(routes=[Route("/state", state), Route("/page", page)])


def client(**settings: Any) -> TestClient:
    values: dict[str, Any] = {
        "categories": CATEGORIES,
        "geo_header": "CF-IPCountry",
        "geo_region_header": "CF-Region-Code",
        "regimes": REGIMES,
        "default_regime": "opt-in",
    }
    values.update(settings)
    return TestClient(ConsentMiddleware(state_app(), make_settings(**values)))


def state_of(test_client: TestClient, **headers: str) -> dict[str, Any]:
    answer: dict[str, Any] = test_client.get("/state", headers=headers).json()
    return answer


@pytest.mark.parametrize(
    ("country", "region", "regime", "where"),
    [
        ("US", "CA", "opt-out", "US-CA"),  # a subdivision, as Cloudflare sends it
        ("US", "US-CA", "opt-out", "US-CA"),  # ... and as ISO 3166-2 writes it
        ("us", "ca", "opt-out", "US-CA"),
        ("US", "TX", "none", "US-TX"),  # the country, for a subdivision not listed
        ("US", "", "none", "US"),
        ("FR", "", "opt-in", "FR"),  # the country before its group
        ("DE", "", "opt-out", "DE"),  # a group (EEA)
        ("NO", "", "opt-out", "NO"),  # EEA, not EU
        ("JP", "", "none", "JP"),  # "*"
        ("XX", "", "opt-in", None),  # unknown: default_regime
        ("T1", "", "opt-in", None),  # Tor
        ("", "", "opt-in", None),
        ("ZZ", "", "opt-in", None),  # not a country
        ("U" * 5000, "", "opt-in", None),
        ("US", "ZZ", "none", "US"),  # a region that does not exist: the country's
    ],
)
def test_each_kind_of_place_resolves_most_specific_first(
    country: str, region: str, regime: str, where: str | None
) -> None:
    headers = {"cf-ipcountry": country}
    if region:
        headers["cf-region-code"] = region
    answer = state_of(client(), **headers)
    assert (answer["regime"], answer["region"]) == (regime, where)


def test_no_header_gives_the_default_regime() -> None:
    assert state_of(client(default_regime="none"))["regime"] == "none"
    assert state_of(client())["regime"] == "opt-in"


def test_a_forged_header_does_nothing_when_geo_header_is_unset() -> None:
    forged = client(geo_header=None, geo_region_header=None)
    answer = state_of(forged, **{"cf-ipcountry": "US", "cf-region-code": "CA"})
    assert (answer["regime"], answer["region"]) == ("opt-in", None)
    assert answer["granted"] == ["necessary"]


def test_before_any_choice_each_model_grants_what_it_must() -> None:
    test_client = client()
    opt_in = state_of(test_client, **{"cf-ipcountry": "FR"})
    opt_out = state_of(test_client, **{"cf-ipcountry": "US", "cf-region-code": "CA"})
    none = state_of(test_client, **{"cf-ipcountry": "JP"})
    assert opt_in["granted"] == ["necessary"]
    assert opt_out["granted"] == ["analytics", "marketing", "necessary"]
    assert none["granted"] == ["analytics", "marketing", "necessary"]
    assert not any(answer["decided"] for answer in (opt_in, opt_out, none))


@pytest.mark.parametrize(("country", "region"), [("US", "CA"), ("JP", "")])
def test_gpc_opts_out_of_its_categories_where_nothing_needs_consent(
    country: str, region: str
) -> None:
    headers = {"cf-ipcountry": country, "cf-region-code": region, "sec-gpc": "1"}
    assert state_of(client(), **headers)["granted"] == ["analytics", "necessary"]


def test_an_explicit_choice_wins_over_the_regime() -> None:
    test_client = client()
    californian = {"cf-ipcountry": "US", "cf-region-code": "CA"}
    decision = test_client.post(
        "/_consent",
        data={"action": "reject_all", "next": "/state"},
        headers={**californian, "origin": "http://testserver"},
        follow_redirects=False,
    )
    assert decision.status_code == 303
    answer = state_of(test_client, **californian)
    assert answer["decided"] is True
    assert answer["granted"] == ["necessary"]
    # The same browser in an opt-in place keeps the same choice.
    assert state_of(test_client, **{"cf-ipcountry": "FR"})["granted"] == ["necessary"]


def test_cookies_follow_the_effective_grants_in_each_model() -> None:
    test_client = client()
    test_client.cookies.set("_ga", "GA1.old")
    test_client.cookies.set("_fbp", "fb.old")
    # Opt-out, no choice: everything passes both ways.
    headers = {"cf-ipcountry": "US", "cf-region-code": "CA", "sec-fetch-dest": "document"}
    page = test_client.get("/page", headers=headers)
    set_names = {c.split("=")[0] for c in page.headers.get_list("set-cookie")}
    assert {"_ga", "_fbp"} <= set_names
    assert state_of(test_client, **headers)["cookies"] == ["_fbp", "_ga"]
    # Opt-out with GPC: advertising is refused: stripped, hidden, expired.
    gpc = {**headers, "sec-gpc": "1"}
    page = test_client.get("/page", headers=gpc)
    fbp = [c for c in page.headers.get_list("set-cookie") if c.startswith("_fbp=")]
    assert fbp
    assert all("Max-Age=0" in c for c in fbp)
    assert state_of(test_client, **gpc)["cookies"] == ["_ga"]
    # Opt-in, no choice: neither.
    page = test_client.get("/page", headers={"cf-ipcountry": "FR"})
    kept = [c for c in page.headers.get_list("set-cookie") if "Max-Age=0" not in c]
    assert kept == []
    assert state_of(test_client, **{"cf-ipcountry": "FR"})["cookies"] == []


def test_consent_mode_defaults_follow_the_regime() -> None:
    test_client = client()
    opt_out = test_client.get("/page", headers={"cf-ipcountry": "US", "cf-region-code": "CA"})
    opt_in = test_client.get("/page", headers={"cf-ipcountry": "FR"})
    granted = "&quot;analytics_storage&quot;:&quot;granted&quot;"
    assert granted in opt_out.text.split("data-consent-mode=")[1].split(">")[0]
    assert granted not in opt_in.text.split("data-consent-mode=")[1].split(">")[0]


def test_pages_name_the_geo_headers_in_vary() -> None:
    vary = client().get("/page", headers={"cf-ipcountry": "FR"}).headers["vary"]
    assert "cf-ipcountry" in vary.lower()
    assert "cf-region-code" in vary.lower()
    plain = client(geo_header=None, geo_region_header=None).get("/page").headers["vary"]
    assert "cf-ipcountry" not in plain.lower()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"regimes": {"Eu": "opt-in"}}, "'Eu'"),
        ({"regimes": {"UK": "opt-in"}}, "'UK'"),
        ({"regimes": {"US-ZZ": "opt-out"}}, "'US-ZZ'"),
        ({"regimes": {"FR": "opt-maybe"}}, "regimes.FR"),
        ({"default_regime": "consent"}, "default_regime"),
        ({"geo_header": "cf ipcountry"}, "geo_header"),
        ({"geo_header": None, "geo_region_header": "cf-region-code"}, "geo_region_header"),
    ],
)
def test_bad_regime_settings_fail_at_start_up_naming_the_key(
    settings: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as error:
        make_settings(**{"geo_header": "cf-ipcountry", **settings})
    assert named in str(error.value)


def test_the_recommended_regimes_are_valid_settings() -> None:
    settings = make_settings(geo_header="cf-ipcountry", regimes=REGIMES_RECOMMENDED)
    assert settings.regimes["US-CA"] == "opt-out"
    assert settings.regimes["EEA"] == "opt-in"


# --- what each model shows, JavaScript off: real forms ------------------------------------

CALIFORNIA = {"cf-ipcountry": "US", "cf-region-code": "CA", "sec-fetch-dest": "document"}


def test_opt_out_first_layer_is_a_notice_with_do_not_sell() -> None:
    page = client().get("/page", headers=CALIFORNIA).text
    notice = page.split("data-consent-notice=")[1].split("</form>")[0]
    assert '"opt-out"' in notice
    assert "Do Not Sell or Share My Personal Information" in notice
    assert 'name="action" value="reject_all" data-consent-action="reject_all"' in notice
    assert 'data-consent-action="preferences">Your Privacy Choices</a>' in notice
    assert 'method="post" action="/_consent"' in notice
    assert "We care about your data" not in page  # not the opt-in banner
    # The control that a decision made with JavaScript shows speaks of the same choices.
    control = page.split("data-consent-settings")[1]
    assert "Your Privacy Choices" in control
    assert "Cookie settings" not in control


def test_do_not_sell_refuses_and_is_remembered() -> None:
    test_client = client()
    answer = test_client.post(
        "/_consent",
        data={"action": "reject_all", "next": "/page", "mechanism": "banner", "locale": "en"},
        headers={**CALIFORNIA, "origin": "http://testserver"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = test_client.get("/page", headers=CALIFORNIA)
    assert "data-consent-notice" not in page.text
    assert "Your Privacy Choices" in page.text
    assert not [c for c in page.headers.get_list("set-cookie") if "Max-Age=0" not in c]


def test_gpc_in_opt_out_shows_no_pop_up_and_says_it_was_honoured() -> None:
    page = client().get("/page", headers={**CALIFORNIA, "sec-gpc": "1"}).text
    assert "data-consent-banner" not in page
    assert "Opt-out request honored" in page
    assert "data-consent-settings hidden" not in page


@pytest.mark.parametrize("gpc", [False, True])
def test_none_shows_no_banner_and_keeps_the_control(gpc: bool) -> None:
    headers = {"cf-ipcountry": "JP", "sec-fetch-dest": "document"}
    if gpc:
        headers["sec-gpc"] = "1"
    page = client().get("/page", headers=headers).text
    assert "data-consent-banner" not in page
    assert "data-consent-settings" in page
    assert "data-consent-settings hidden" not in page
    assert ("Opt-out request honored" in page) is gpc


def test_opt_in_is_unchanged() -> None:
    page = client().get("/page", headers={"cf-ipcountry": "FR", "sec-fetch-dest": "document"})
    assert "We care about your data" in page.text
    assert "data-consent-notice" not in page.text


def test_the_preferences_page_speaks_of_opting_out_where_that_is_the_law() -> None:
    test_client = client()
    opt_out = test_client.get("/_consent/preferences", headers=CALIFORNIA).text
    opt_in = test_client.get("/_consent/preferences", headers={"cf-ipcountry": "FR"}).text
    assert "Optional categories are on unless you switch them off" in opt_out
    assert "Optional categories stay off until you switch them on" in opt_in
    # Undecided Californians see the defaults: every box ticked.
    assert opt_out.count(" checked aria-describedby") == 2
    assert opt_in.count(" checked aria-describedby") == 0


def test_each_decision_is_logged_with_its_regime_and_region() -> None:
    log = MemoryConsentLog()
    settings = make_settings(
        categories=CATEGORIES,
        geo_header="CF-IPCountry",
        geo_region_header="CF-Region-Code",
        regimes=REGIMES,
    )
    test_client = TestClient(ConsentMiddleware(state_app(), settings, log=log))
    for headers in (CALIFORNIA, {"cf-ipcountry": "FR"}, {"cf-ipcountry": "XX"}):
        test_client.post(
            "/_consent",
            data={"action": "reject_all", "next": "/"},
            headers={**headers, "origin": "http://testserver"},
            follow_redirects=False,
        )
    assert [(event.regime, event.region) for event in log.events] == [
        ("opt-out", "US-CA"),
        ("opt-in", "FR"),
        ("opt-in", None),
    ]


def test_a_cached_page_for_everyone_keeps_what_gpc_covers_off() -> None:
    """``cache_mode="shared"``: one opt-out page for every visitor, GPC signal or not."""
    shared = client(cache_mode="shared")
    pages = [
        shared.get("/page", headers={**CALIFORNIA, **extra}).text
        for extra in ({}, {"sec-gpc": "1"})
    ]
    assert pages[0] == pages[1]
    assert 'data-consent-granted="analytics"' in pages[0]
    assert "data-consent-notice" in pages[0]
    # The browser's signal decides what the one page shows: the state script knows the
    # place is opt-out, and the "honored" line waits, hidden, for the stylesheet.
    assert "&quot;optout&quot;:true" in pages[0]
    assert '<p class="consent-settings__gpc" data-consent-gpc hidden>' in pages[0]
    opt_in = shared.get("/page", headers={"cf-ipcountry": "FR"}).text
    assert "&quot;optout&quot;:false" in opt_in
    assert "consent-settings__gpc" not in opt_in
