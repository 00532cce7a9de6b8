"""The suite's own rule: in CI, a skipped test fails the run."""

from __future__ import annotations

import pytest

SKIPPING_TEST = """
import pytest

def test_needs_something():
    pytest.skip("no browser here")
"""


def _conftest_source() -> str:
    from pathlib import Path

    return (Path(__file__).parent / "conftest.py").read_text()


@pytest.mark.parametrize(("ci", "failed", "skipped"), [("true", 1, 0), ("", 0, 1)])
def test_skip_fails_only_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, failed: int, skipped: int
) -> None:
    monkeypatch.setenv("CI", ci)
    pytester.makeconftest(_conftest_source().replace('pytest_plugins = ["pytester"]', ""))
    pytester.makepyfile(SKIPPING_TEST)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=failed, skipped=skipped)
