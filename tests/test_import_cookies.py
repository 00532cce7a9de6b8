"""``import_cookies``: a visitor's choice made with vanilla-cookieconsent or Klaro is kept.

The cookie values are the ones the real libraries wrote in Chromium
(``tests/imports/data``, made by ``tests/browser/test_real_managers.py``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx2
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consent import Category, ConsentMiddleware, ConsentSettings, get_consent
from consent.log import MemoryConsentLog
from consent.service import Service
from tests.conftest import make_settings

DATA = Path(__file__).parent / "imports" / "data"
CATEGORIES = [
    Category(key="analytics", title="Analytics", cookies=["_ga"], services=["hotjar"]),
    Category(
        key="media",
        title="Videos",
        services=[Service(key="youtube", name="YouTube", cookies=["YSC"])],
    ),
    Category(key="marketing", title="Ads", cookies=["_fbp"], gpc_opt_out=True),
]
IMPORTS = {
    "cc_cookie": {"analytics": "analytics", "ads": "marketing", "hotjar": "hotjar"},
    "klaro": {"google-analytics": "analytics", "youtube": "youtube"},
}


def real(manager: str, case: str) -> str:
    """The cookie value the real library wrote for one case."""
    cases = json.loads((DATA / f"{manager}.json").read_text())
    value: str = next(c["value"] for c in cases if c["case"] == case)
    return value


def state_app() -> Starlette:
    async def state(request: Request) -> Response:
        consent = get_consent(request)
        return JSONResponse(
            {
                "decided": consent.decided,
                "granted": sorted(consent.granted),
                "services": sorted(consent.services),
                "consent_id": consent.consent_id,
            }
        )

    return Starlette(routes=[Route("/", state)])


def visit(manager: str, value: str, **headers: str) -> tuple[httpx2.Response, MemoryConsentLog]:
    log = MemoryConsentLog()
    settings = make_settings(categories=CATEGORIES, import_cookies=IMPORTS)
    client = TestClient(ConsentMiddleware(state_app(), settings, log=log))
    response = client.get("/", headers={"cookie": f"{manager}={value}", **headers})
    assert response.status_code == 200
    return response, log


def set_cookies(response: httpx2.Response) -> dict[str, str]:
    return {value.split("=", 1)[0]: value for value in response.headers.get_list("set-cookie")}


@pytest.mark.parametrize(
    ("manager", "case", "granted", "services", "action"),
    [
        ("cc_cookie", "accept_all", ["analytics", "marketing", "necessary"], ["hotjar"], "custom"),
        ("cc_cookie", "reject_all", ["necessary"], [], "reject_all"),
        ("klaro", "accept_all", ["analytics", "necessary"], ["hotjar", "youtube"], "custom"),
        ("klaro", "reject_all", ["necessary"], [], "reject_all"),
    ],
)
def test_an_earlier_choice_becomes_ours_logged_once_with_the_old_cookie_expired(
    manager: str, case: str, granted: list[str], services: list[str], action: str
) -> None:
    value = real(manager, case)
    response, log = visit(manager, value)
    state: dict[str, Any] = response.json()
    # In force on this very request...
    assert state["decided"] is True
    assert state["granted"] == granted
    assert state["services"] == services
    cookies = set_cookies(response)
    # ...and ours from now on; the old cookie goes.
    assert "consent" in cookies
    assert "Max-Age=0" in cookies[manager] or "expires=Thu, 01 Jan 1970" in cookies[manager]
    assert [(e.action, e.mechanism) for e in log.events] == [(action, "import")]
    assert log.events[0].consent_id == state["consent_id"]
    if manager == "cc_cookie":
        # The old manager's id, so that its records and ours meet.
        assert state["consent_id"] == json.loads(unquote(value))["consentId"]


def test_custom_choices_keep_what_was_chosen() -> None:
    cc_state = visit("cc_cookie", real("cc_cookie", "custom"))[0].json()
    klaro_state = visit("klaro", real("klaro", "custom"))[0].json()
    cc_cases = json.loads((DATA / "cc_cookie.json").read_text())
    expected = next(c for c in cc_cases if c["case"] == "custom")["expected"]
    assert ("analytics" in cc_state["granted"]) == ("analytics" in expected["accepted"])
    assert "marketing" not in cc_state["granted"]
    klaro_cases = json.loads((DATA / "klaro.json").read_text())
    chosen = next(c for c in klaro_cases if c["case"] == "custom")["expected"]["accepted"]
    assert ("youtube" in klaro_state["services"]) == ("youtube" in chosen)
    assert ("analytics" in klaro_state["granted"]) == ("google-analytics" in chosen)


def test_the_signed_cookie_holds_the_imported_choice() -> None:
    log = MemoryConsentLog()
    settings = make_settings(categories=CATEGORIES, import_cookies=IMPORTS)
    client = TestClient(ConsentMiddleware(state_app(), settings, log=log))
    client.cookies.set("klaro", real("klaro", "accept_all"))
    first = client.get("/").json()
    client.cookies.delete("klaro")
    again = client.get("/").json()
    assert again == first
    assert len(log.events) == 1


def test_each_request_before_the_new_cookie_gets_it_and_the_log_one_event() -> None:
    log = MemoryConsentLog()
    settings = make_settings(categories=CATEGORIES, import_cookies=IMPORTS)
    client = TestClient(ConsentMiddleware(state_app(), settings, log=log))
    header = {"cookie": f"klaro={real('klaro', 'accept_all')}"}
    for _ in range(3):
        assert "consent" in set_cookies(client.get("/", headers=header))
    assert len(log.events) == 1


def test_our_own_cookie_wins_over_an_old_one() -> None:
    log = MemoryConsentLog()
    settings = make_settings(categories=CATEGORIES, import_cookies=IMPORTS)
    client = TestClient(ConsentMiddleware(state_app(), settings, log=log), follow_redirects=False)
    client.post("/_consent", data={"action": "reject_all"}, headers={"origin": "http://testserver"})
    client.cookies.set("cc_cookie", real("cc_cookie", "accept_all"))
    assert client.get("/").json()["granted"] == ["necessary"]
    assert [e.mechanism for e in log.events] == ["banner"]


def test_gpc_still_refuses_what_it_covers_after_an_import() -> None:
    response, _ = visit("cc_cookie", real("cc_cookie", "accept_all"), **{"sec-gpc": "1"})
    assert "marketing" not in response.json()["granted"]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "%7B",
        "%FF%FE",
        "{}",
        "[]",
        "null",
        '"' + "x" * 5000 + '"',
        "%7B%22categories%22%3A%22analytics%22%7D",
        "[" * 3000,
    ],
)
@pytest.mark.parametrize("manager", ["cc_cookie", "klaro"])
def test_a_cookie_that_cannot_be_read_is_ignored(manager: str, value: str) -> None:
    response, log = visit(manager, value)
    state = response.json()
    assert state["decided"] is False
    assert "consent" not in set_cookies(response)
    assert log.events == []


def test_without_import_cookies_the_old_cookies_mean_nothing() -> None:
    client = TestClient(ConsentMiddleware(state_app(), make_settings(categories=CATEGORIES)))
    client.cookies.set("cc_cookie", real("cc_cookie", "accept_all"))
    assert client.get("/").json()["decided"] is False


@pytest.mark.parametrize(
    ("imports", "message"),
    [
        ({"didomi": {"a": "analytics"}}, "'didomi' is not a cookie this package reads"),
        ({"klaro": {"matomo": "stats"}}, "import_cookies.klaro: 'matomo' maps to 'stats'"),
    ],
)
def test_bad_import_settings_fail_at_start_up(imports: object, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        make_settings(categories=CATEGORIES, import_cookies=imports)
    assert message in str(error.value)


def test_the_readme_example_builds_its_settings() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Moving from another consent manager", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None
    namespace: dict[str, object] = {"ConsentSettings": ConsentSettings}
    exec(block.group(1), namespace)  # noqa: S102 - the README's own example
    settings = namespace["settings"]
    assert isinstance(settings, ConsentSettings)
    assert settings.import_cookies["klaro"]["facebook-pixel"] == "marketing"


def aged(days: int) -> str:
    """The real accept-all ``cc_cookie``, as if the visitor had chosen ``days`` ago."""
    content = json.loads(unquote(real("cc_cookie", "accept_all")))
    when = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")
    content["consentTimestamp"] = content["lastConsentTimestamp"] = when.replace("+00:00", "Z")
    return quote(json.dumps(content, separators=(",", ":")), safe="")


def test_an_imported_choice_keeps_its_age() -> None:
    response, _ = visit("cc_cookie", aged(300))
    max_age = int(set_cookies(response)["consent"].split("Max-Age=")[1].split(";")[0])
    assert 64 * 86400 <= max_age <= 65 * 86400  # 365 days from the choice, not from today


def test_a_choice_older_than_the_site_keeps_one_is_not_imported() -> None:
    response, log = visit("cc_cookie", aged(400))
    assert response.json()["decided"] is False
    assert log.events == []
