"""Shared helpers, and the CI rule: a skipped test is a failed test in CI."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from consent import Category, ConsentSettings

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SECRET = "test-secret-key-that-is-long-enough-0123456789"

ANALYTICS = Category(
    key="analytics", title="Analytics", cookies=["_ga"], google_consent_types=["analytics_storage"]
)
"""The analytics category most tests declare: ``_ga``, with its Consent Mode type."""

pytest_plugins = ["pytester"]

# Property tests check what happens, never how fast: speed is measured by the benchmarks
# (bench/), on a quiet machine, and a loaded one must not fail a test.
hypothesis_settings.register_profile("consent", deadline=None)
hypothesis_settings.load_profile("consent")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In CI every test must run: a skip becomes a failure that says why."""
    report = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {report.longrepr}"
    return report


def make_settings(**overrides: Any) -> ConsentSettings:
    """Settings for a test: a valid key, no log, the default categories."""
    values: dict[str, Any] = {"secret_key": SECRET, "log_url": None}
    values.update(overrides)
    return ConsentSettings(**values)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No test reads the developer's CONSENT_* variables or .env file."""
    for name in list(os.environ):
        if name.startswith("CONSENT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's synchronous API keeps an event loop running."""
    items.sort(key=lambda item: "tests/browser/" in str(item.path))
