"""Real servers on loopback and real headless Chromium, for the browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.chromium import chromium
from tests.processes import wait_until_answers

ROOT = Path(__file__).parent.parent.parent
TRACKER_HOST = "127.0.0.2"


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start(
    kind: str, host: str, environment: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port(host)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.browser.serve", kind, host, str(port)],
        cwd=ROOT,
        env={**os.environ, **(environment or {})},
    )
    origin = f"http://{host}:{port}"
    wait_until_answers(process, origin + "/", f"the {kind} server", seconds=20)
    return process, origin


def served(kind: str) -> Iterator[str]:
    """A fixture's body: the ``tests.browser.serve`` app of that kind, its origin, then stop."""
    process, origin = start(kind, "127.0.0.1")
    yield origin
    process.terminate()
    process.wait(timeout=10)


@dataclass(frozen=True)
class Servers:
    site: str
    tracker: str
    strict: str
    pages: str


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    tracker_process, tracker = start("tracker", TRACKER_HOST)
    site_process, site = start("site", "127.0.0.1", {"TRACKER_ORIGIN": tracker})
    strict_process, strict = start("strict", "127.0.0.1")
    pages_process, pages = start("pages", "127.0.0.1")
    yield Servers(site=site, tracker=tracker, strict=strict, pages=pages)
    for process in (tracker_process, site_process, strict_process, pages_process):
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    fresh = browser.new_context()
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)
