"""Every framework example (each ``examples/*/example.toml``), through the real middleware.

Each site is driven in-process over HTTP as a browser with JavaScript off drives
it: plain requests, plain form posts, cookies in a jar. The README tests then run
each example's documented start command as a real server.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent import ConsentSettings
from tests.conftest import IN_CI
from tests.examples.example_sites import (
    BUILT_HERE,
    EVERY_EXAMPLE,
    EXAMPLES,
    README_COMMAND,
    ROOT,
    Example,
    analytics_script,
    each_example,
    read_page,
    running,
)

CONSENT_COOKIE = ConsentSettings.model_fields["cookie_name"].default
OPTIONAL = {"preferences", "analytics", "marketing"}
"""The flagship's categories, which every example declares (some add more)."""


def set_cookie_headers(response: Any, name: str) -> list[str]:
    headers: list[str] = response.headers.get_list("set-cookie")
    return [header for header in headers if header.startswith(f"{name}=")]


def state(client: TestClient, example: Example, **headers: str) -> dict[str, Any]:
    """The example's state JSON, as its view reads the state."""
    response = client.get(example.state, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    found: dict[str, Any] = response.json()
    assert found.keys() >= {"decided", "granted", "analytics"}
    assert found["granted"] == sorted(found["granted"])
    return found


def optional_granted(found: dict[str, Any]) -> set[str]:
    return set(found["granted"]) - {"necessary"}


def decide(
    client: TestClient, example: Example, action: str, *categories: str, **headers: str
) -> Any:
    data = {"action": action, "categories": list(categories), "next": example.article}
    return client.post("/_consent", data=data, headers=headers)


def test_examples_are_discovered() -> None:
    names = {example.name for example in EXAMPLES}
    assert names >= BUILT_HERE
    if IN_CI:
        assert names >= EVERY_EXAMPLE


@each_example
def test_new_visitor_gets_the_banner_and_an_inert_gated_script(example: Example) -> None:
    response = example.client().get(example.article)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "data-consent-banner" in response.text
    script = analytics_script(response.text)
    assert script["type"] == "text/plain"
    assert script["src"]


@each_example
def test_analytics_cookie_is_stripped_before_consent(example: Example) -> None:
    response = example.client().get(example.article)

    assert response.status_code == 200
    assert set_cookie_headers(response, example.analytics_cookie) == []


@each_example
def test_session_cookie_is_kept_before_consent(example: Example) -> None:
    response = example.client().get(example.session_path)

    assert response.status_code == 200
    [header] = set_cookie_headers(response, example.session_cookie)
    assert "max-age=0" not in header.lower()


@each_example
def test_undecided_state_is_read_the_frameworks_way(example: Example) -> None:
    found = state(example.client(), example)

    assert found["decided"] is False
    assert optional_granted(found) == set()
    assert found["analytics"] is False


@each_example
@pytest.mark.parametrize(
    ("action", "categories", "expected"),
    [
        ("accept_all", (), OPTIONAL),
        ("reject_all", (), set()),
        ("save", ("analytics",), {"analytics"}),
        ("save", ("preferences",), {"preferences"}),
    ],
)
def test_decision_sets_the_signed_cookie_and_the_state(
    example: Example, action: str, categories: tuple[str, ...], expected: set[str]
) -> None:
    client = example.client()

    response = decide(client, example, action, *categories)

    assert response.status_code == 303
    assert response.headers["location"].endswith(example.article)
    [cookie] = set_cookie_headers(response, CONSENT_COOKIE)
    assert re.match(rf"{CONSENT_COOKIE}=[\w.~-]+\.[\w-]+;", cookie)  # payload.signature
    found = state(client, example)
    assert found["decided"] is True
    granted = optional_granted(found)
    assert granted >= expected if action == "accept_all" else granted == expected
    assert found["analytics"] is ("analytics" in expected)
    passed = set_cookie_headers(client.get(example.article), example.analytics_cookie)
    assert len(passed) == ("analytics" in expected)


@each_example
def test_a_tampered_consent_cookie_counts_as_undecided(example: Example) -> None:
    client = example.client()
    decide(client, example, "accept_all")
    signed = client.cookies[CONSENT_COOKIE]
    # A character inside the signature (the last one also holds unused padding bits).
    forged = signed[:-3] + ("B" if signed[-3] == "A" else "A") + signed[-2:]
    client.cookies.set(CONSENT_COOKIE, forged)

    assert state(client, example)["decided"] is False
    assert "data-consent-banner" in client.get(example.article).text


@each_example
@pytest.mark.parametrize(("action", "visible"), [("reject_all", False), ("accept_all", True)])
def test_a_refused_cookie_is_hidden_from_the_app_and_expired(
    example: Example, action: str, visible: bool
) -> None:
    client = example.client()
    decide(client, example, action)
    client.cookies.set(example.analytics_cookie, "left-over-visitor-id-1234")

    response = client.get(example.state)

    received = response.json().get("cookies")
    assert isinstance(received, list), (
        f"{example.state} must also answer 'cookies': the names of the cookies its view received"
    )
    assert (example.analytics_cookie in received) is visible
    expiring = [
        header
        for header in set_cookie_headers(response, example.analytics_cookie)
        if "max-age=0" in header.lower()
    ]
    assert bool(expiring) is not visible


@each_example
def test_gpc_keeps_marketing_off_for_an_undecided_visitor(example: Example) -> None:
    client = example.client()
    gpc = {"sec-gpc": "1"}

    page = client.get(example.article, headers=gpc)
    undecided = state(client, example, **gpc)
    decide(client, example, "accept_all", **gpc)
    accepted = optional_granted(state(client, example, **gpc))

    assert "Opt-out request honored" in page.text
    assert "marketing" not in optional_granted(undecided)
    assert "analytics" in accepted
    assert "marketing" not in accepted


@each_example
@pytest.mark.parametrize("action", ["accept_all", "reject_all"])
def test_banner_forms_work_without_javascript(example: Example, action: str) -> None:
    client = example.client()
    forms = read_page(client.get(example.article).text).forms
    [banner] = [form for form in forms if action in form.buttons]

    response = client.post(banner.action, data=banner.fields(action))

    assert banner.method == "post"
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "data-consent-banner" not in page.text
    assert "data-consent-settings" in page.text
    assert (analytics_script(page.text).get("type") == "text/plain") is (action == "reject_all")


@each_example
def test_preferences_page_saves_a_choice_without_javascript(example: Example) -> None:
    client = example.client()
    page = client.get(f"/_consent/preferences?next={example.article}")
    [form] = [form for form in read_page(page.text).forms if "save" in form.buttons]

    response = client.post(form.action, data=form.fields("save", ["analytics"]))

    assert response.status_code == 303
    assert response.headers["location"].endswith(example.article)
    found = state(client, example)
    assert optional_granted(found) == {"analytics"}
    assert found["analytics"] is True


@each_example
def test_the_template_chooses_its_note_by_the_state(example: Example) -> None:
    # Every example marks the note its template chooses.
    client = example.client()
    before = client.get(example.article).text
    decide(client, example, "save", "analytics")

    assert 'data-analytics-note="off"' in before
    assert 'data-analytics-note="on"' in client.get(example.article).text


def test_every_examples_framework_is_in_the_examples_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["examples"]
    distributions = {re.split(r"[<>=!~\[ ;]", requirement)[0].lower() for requirement in extra}

    assert {example.framework.lower() for example in EXAMPLES} <= distributions


@each_example
def test_readme_starts_with_a_description_and_the_one_command(example: Example) -> None:
    readme = (example.directory / "README.md").read_text()
    first_line, _, rest = readme.partition("\n")
    blocks = re.findall(r"^```sh\n(.*?)^```", readme, flags=re.MULTILINE | re.DOTALL)

    assert first_line.strip()
    assert not first_line.startswith(("#", "`"))
    assert rest.lstrip().startswith("```sh\n")
    assert blocks[0] == README_COMMAND.format(name=example.name) + "\n"


@pytest.mark.slow
@each_example
@pytest.mark.parametrize("own_log", [False, True], ids=["log-url", "default-log"])
def test_readme_command_serves_the_site_and_stops_cleanly(
    example: Example, tmp_path: Path, own_log: bool
) -> None:
    """As started by the README's command: with ``CONSENT_LOG_URL``, and without it (the
    example's own SQLite log in the temporary directory)."""
    database = tmp_path / "consent-log.db"
    log_url: str | None = f"sqlite:///{database}"
    if own_log:
        database = tmp_path / f"consent-{example.name.replace('_', '-')}.db"
        log_url = None

    with running(example, log_url, temporary=tmp_path) as (process, origin):
        with urllib.request.urlopen(origin + example.article, timeout=10) as answer:
            page = answer.read().decode()
        decision = f"action=accept_all&next={example.article}".encode()
        with urllib.request.urlopen(origin + "/_consent", data=decision, timeout=10) as answer:
            assert answer.url.endswith(example.article)  # the 303, followed
        process.terminate()
        output, _ = process.communicate(timeout=20)

    assert "data-consent-banner" in page
    # uvicorn shuts down, then ends by the signal it was sent, as a server should.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output
    assert f"{origin}/" in output
    # The log was closed at shut-down: SQLite removes its write-ahead log then.
    assert not database.with_name(database.name + "-wal").exists()
    with sqlite3.connect(database) as log:
        [(events,)] = log.execute("SELECT count(*) FROM consent_events").fetchall()
    assert events == 1
