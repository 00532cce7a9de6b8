"""The framework examples as the tests see them: each ``examples/*/example.toml``, its
pages read as a browser without JavaScript reads them, and its README's start command
run as a real server.
"""

from __future__ import annotations

import importlib
import os
import re
import socket
import subprocess
import sys
import tomllib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from tests.processes import wait_until_answers

ROOT = Path(__file__).resolve().parents[2]
BUILT_HERE = {"fastapi_blog", "litestar_news", "quart_magazine"}
EVERY_EXAMPLE = BUILT_HERE | {"django_newsroom", "flask_journal"}
README_COMMAND = (
    'python3 -m venv .venv && .venv/bin/pip install -e ".[examples]" '
    "&& .venv/bin/python -m examples.{name}"
)


@dataclass(frozen=True)
class Example:
    """One example site, as its ``example.toml`` describes it."""

    name: str
    framework: str
    app: str
    article: str
    state: str
    session_path: str
    session_cookie: str
    analytics_cookie: str
    gated_script_global: str

    @classmethod
    def load(cls, path: Path) -> Example:
        values: dict[str, Any] = {"name": path.parent.name, **tomllib.loads(path.read_text())}
        missing = {item.name for item in fields(cls)} - values.keys()
        assert not missing, f"{path} lacks {sorted(missing)}"
        return cls(**{item.name: values[item.name] for item in fields(cls)})

    @property
    def directory(self) -> Path:
        return ROOT / "examples" / self.name

    def asgi_app(self) -> ASGIApp:
        module, _, attribute = self.app.partition(":")
        application: ASGIApp = getattr(importlib.import_module(module), attribute)
        return application

    def client(self) -> TestClient:
        return TestClient(self.asgi_app(), follow_redirects=False)


def discover_examples() -> list[Example]:
    """Every example that ships an ``example.toml``, by folder name."""
    return [Example.load(path) for path in sorted(ROOT.glob("examples/*/example.toml"))]


EXAMPLES = discover_examples()
each_example = pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)


@dataclass
class Form:
    """A form of the page: where it posts, and what a browser without JavaScript sends."""

    action: str
    method: str
    hidden: dict[str, str] = field(default_factory=dict)
    checkboxes: dict[str, str] = field(default_factory=dict)  # value -> field name
    buttons: dict[str, tuple[str, str]] = field(default_factory=dict)  # data-consent-action

    def fields(self, action: str, ticked: Collection[str] = ()) -> dict[str, str | list[str]]:
        """The fields sent when the button ``action`` is clicked with ``ticked`` boxes on."""
        sent: dict[str, str | list[str]] = dict(self.hidden)
        for value in ticked:
            name = self.checkboxes[value]
            sent[name] = [*sent.get(name, []), value]
        name, value = self.buttons[action]
        sent[name] = value
        return sent


class PageReader(HTMLParser):
    """The forms of a page and the attributes of its gated scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.gated_scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and "data-consent-category" in found:
            self.gated_scripts.append(found)
        elif tag == "form":
            method = (found.get("method") or "get").lower()
            self.forms.append(Form(action=found.get("action") or "", method=method))
        elif self.forms and tag in ("input", "button") and found.get("name"):
            form, name, value = self.forms[-1], found["name"] or "", found.get("value") or ""
            if tag == "button":
                form.buttons[found.get("data-consent-action") or value] = (name, value)
            elif found.get("type") == "hidden":
                form.hidden[name] = value
            elif found.get("type") == "checkbox":
                form.checkboxes[value] = name


def read_page(html: str) -> PageReader:
    reader = PageReader()
    reader.feed(html)
    return reader


def analytics_script(html: str) -> dict[str, str | None]:
    [script] = [
        attrs
        for attrs in read_page(html).gated_scripts
        if attrs["data-consent-category"] == "analytics"
    ]
    return script


def start_command(example: Example) -> list[str]:
    """The README command's last step, run with this interpreter: the one it installs."""
    readme = (example.directory / "README.md").read_text()
    [command] = re.findall(r"^```sh\n(.*?)\n^```", readme, flags=re.MULTILINE | re.DOTALL)[:1]
    program, *arguments = command.split(" && ")[-1].split()
    assert program == ".venv/bin/python"
    return [sys.executable, *arguments]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    example: Example, log_url: str | None, temporary: Path | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The example started as its README says, with its article served; killed on leaving
    if still running. Yields the process (output in ``stdout``) and the site's origin.

    ``log_url`` None leaves the example its own default log, in ``temporary`` (``TMPDIR``).
    """
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    environment.update(PORT=str(port))
    if log_url is not None:
        environment.update(CONSENT_LOG_URL=log_url)
    if temporary is not None:
        environment.update(TMPDIR=str(temporary))
    process = subprocess.Popen(
        start_command(example),
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        wait_until_served(process, origin + example.article)
        yield process, origin
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_until_served(process: subprocess.Popen[str], url: str) -> None:
    wait_until_answers(process, url, "the site", seconds=60)
