"""Varnish in front of the article site, in each cache_mode, started once per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from consent.settings import CacheMode
from tests.cache.serve import site_settings, strict_settings
from tests.cache.servers import (
    SITE_IGNORE,
    SITE_KEEP,
    VARNISHD,
    Origin,
    Varnish,
    consent_vcl,
)


@dataclass(frozen=True)
class Stack:
    """An origin and the Varnish in front of it."""

    origin: Origin
    varnish: Varnish
    mode: CacheMode
    log_url: str | None

    @property
    def url(self) -> str:
        return self.varnish.url


StackFactory = Callable[[str, CacheMode], Stack]


@pytest.fixture(scope="session")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackFactory]:
    """``stacks(kind, mode)``: the ``site`` or ``strict`` origin behind Varnish, made once."""
    if not Path(VARNISHD).is_file():
        pytest.skip("Varnish is not installed (Debian package varnish; scripts/test adds it)")
    made: dict[tuple[str, CacheMode], Stack] = {}

    def stack(kind: str, mode: CacheMode) -> Stack:
        if (kind, mode) not in made:
            root: Path = tmp_path_factory.mktemp(f"varnish-{kind}-{mode}")
            log_url = f"sqlite:///{root / 'consent-log.db'}" if kind == "site" else None
            origin = Origin(kind, mode, log_url)
            settings = site_settings(mode) if kind == "site" else strict_settings(mode)
            site = kind == "site" and mode != "vary"
            vcl = consent_vcl(settings, SITE_KEEP if site else (), SITE_IGNORE if site else ())
            varnish = Varnish(root / "varnish", origin.port, vcl)
            made[kind, mode] = Stack(origin, varnish, mode, log_url)
        return made[kind, mode]

    yield stack
    for running in made.values():
        running.varnish.stop()
        running.origin.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cache/" in str(item.path):
            item.add_marker(pytest.mark.varnish)
