"""``docs/frameworks.md``: every sample runs as written, against its framework, in process.

Each framework's section gives its files as labelled blocks (a line such as
`` `app.py`: `` and then the block). The tests write them into an empty folder,
load the application from there as a server would, and ask it what a browser
asks: the page (with the banner), the state, a decision, then both again.

Django's settings are made once per process, and the example tests configure
them for the newsroom example, so the Django sample runs in a child process that
does the same visit (this module, run as ``python -m tests.test_frameworks_doc``).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent.log import count_events

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "frameworks.md"
SECRET = "test-secret-key-that-is-long-enough-0123456789"

EXAMPLE_OF = {
    "Starlette": "article_site",
    "FastAPI": "fastapi_blog",
    "Litestar": "litestar_news",
    "Quart": "quart_magazine",
    "Django": "django_newsroom",
    "Flask": "flask_journal",
}
"""Each framework's section, and the example site it links to."""

IN_PROCESS = ("Starlette", "FastAPI", "Litestar", "Quart", "Flask")

LABELLED_BLOCK = re.compile(
    r"^`(?P<path>[^`\n]+)`:\n\n```(?P<language>[\w+-]+)\n(?P<text>.*?)^```$", re.M | re.S
)

AS_A_VISITOR_SEES_IT = {
    "page": 200,
    "banner": True,
    "note": "off",
    "state": {"decided": False, "analytics": False},
    "decision": 303,
    "page after": 200,
    "banner after": False,
    "settings control after": True,
    "note after": "on",
    "state after": {"decided": True, "analytics": True},
}
"""What every sample answers: the banner and "off" before a decision, then "on"."""


def sections() -> dict[str, str]:
    """The text of each ``## `` section of the page, by heading."""
    parts = re.split(r"^## (.+)$", DOC.read_text(encoding="utf-8"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def sample_files(framework: str) -> dict[str, str]:
    """The files of a framework's sample: path to text, as the page shows them."""
    return {
        match["path"]: match["text"] for match in LABELLED_BLOCK.finditer(sections()[framework])
    }


def write_sample(framework: str, folder: Path) -> None:
    for name, text in sample_files(framework).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def note(html: str) -> str:
    """What the page's template said about analytics: ``on``, ``off``, or what went wrong."""
    found = {"on": "You allowed analytics." in html, "off": "Analytics is off." in html}
    said = [word for word, present in found.items() if present]
    return said[0] if len(said) == 1 else f"said {said}"


def visit(client: TestClient, *, collect: bool = False) -> dict[str, Any]:
    """What a browser without JavaScript meets: page and state, Accept all, page and state.

    With ``collect``, also the answers of ``POST /collect`` before and after.
    """
    seen: dict[str, Any] = {}
    page = client.get("/")
    seen |= {"page": page.status_code, "banner": "data-consent-banner" in page.text}
    seen |= {"note": note(page.text), "state": client.get("/consent.json").json()}
    if collect:
        seen["collect"] = client.post("/collect").status_code
    seen["decision"] = client.post("/_consent", data={"action": "accept_all"}).status_code
    page = client.get("/")
    seen |= {"page after": page.status_code, "banner after": "data-consent-banner" in page.text}
    seen["settings control after"] = "data-consent-settings" in page.text
    seen |= {"note after": note(page.text), "state after": client.get("/consent.json").json()}
    if collect:
        seen["collect after"] = client.post("/collect").status_code
    return seen


def logged_decisions(folder: Path) -> int:
    return asyncio.run(count_events(f"sqlite:///{folder / 'consent-log.db'}"))


def test_every_python_block_is_a_file_of_a_framework_sample() -> None:
    page = DOC.read_text(encoding="utf-8")
    samples = [sample_files(framework) for framework in EXAMPLE_OF]
    python_files = [name for files in samples for name in files if name.endswith(".py")]
    assert page.count("```python\n") == len(python_files)
    for framework, files in zip(EXAMPLE_OF, samples, strict=True):
        assert any(name.endswith(".py") for name in files), f"{framework} has no sample"


@pytest.mark.parametrize(("framework", "example"), EXAMPLE_OF.items())
def test_each_framework_links_its_example(framework: str, example: str) -> None:
    assert f"](../examples/{example}/)" in sections()[framework]
    assert (ROOT / "examples" / example).is_dir()


@pytest.mark.parametrize("framework", IN_PROCESS)
def test_sample_runs_as_written(
    framework: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_sample(framework, tmp_path)
    monkeypatch.chdir(tmp_path)  # templates and the consent log are found from here
    monkeypatch.setenv("CONSENT_SECRET_KEY", SECRET)
    name = f"frameworks_doc_{framework.lower()}"
    spec = importlib.util.spec_from_file_location(name, tmp_path / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # Flask and Quart find their folder there
    spec.loader.exec_module(module)

    collect = framework == "FastAPI"
    with TestClient(module.app, base_url="http://localhost", follow_redirects=False) as client:
        seen = visit(client, collect=collect)

    expected = dict(AS_A_VISITOR_SEES_IT)
    if collect:  # require_consent("analytics"): refused, then allowed
        expected |= {"collect": 403, "collect after": 204}
    assert seen == expected
    assert logged_decisions(tmp_path) == 1


def test_django_sample_runs_as_written(tmp_path: Path) -> None:
    write_sample("Django", tmp_path)
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CONSENT_") and name != "DJANGO_SETTINGS_MODULE"
    }
    environment |= {
        "CONSENT_SECRET_KEY": SECRET,
        "DJANGO_SECRET_KEY": "django-" + SECRET,
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.run(
        [sys.executable, "-m", "tests.test_frameworks_doc", "mysite.asgi:application"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.splitlines()[-1]) == AS_A_VISITOR_SEES_IT
    assert logged_decisions(tmp_path) == 1


def visit_in_this_process(target: str) -> dict[str, Any]:
    """The visit to ``module:attribute``, imported from the current directory.

    No lifespan: Django's ASGI handler refuses it, as the page says, and the
    middleware then opens its consent log when it first writes to it.
    """
    module, _, attribute = target.partition(":")
    sys.path.insert(0, os.getcwd())
    application = getattr(importlib.import_module(module), attribute)
    client = TestClient(application, base_url="http://localhost", follow_redirects=False)
    return visit(client)


if __name__ == "__main__":
    print(json.dumps(visit_in_this_process(sys.argv[1])))
