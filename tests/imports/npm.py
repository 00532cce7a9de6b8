"""Pinned JavaScript consent managers from the npm registry, fetched once into a cache.

The tests that run the real libraries in Chromium get them from here. Each package is
fetched with ``npm pack`` (npm checks the registry's integrity hash) and unpacked into
``~/.cache/consent-tests/npm/<package>@<version>/`` (``$XDG_CACHE_HOME`` is honoured),
where later runs find it. Only the package itself is unpacked: both ship a bundled
``dist/``, and Klaro's ``package.json`` lists its build tools (Sass, a webpack helper,
an ESLint parser) as dependencies, which ``npm install`` would fetch, about 150
packages, for nothing the browser loads. No install script runs.

Without ``npm`` the test is skipped outside CI, and fails in CI (``tests/conftest.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

COOKIECONSENT = ("vanilla-cookieconsent", "3.1.0")
KLARO = ("klaro", "0.7.22")


def cache_root() -> Path:
    """Where fetched packages are kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "consent-tests" / "npm"


def package_dir(name: str, version: str) -> Path:
    """The unpacked package (``package.json``, ``dist/`` ...), fetched first when missing."""
    target = cache_root() / f"{name}@{version}"
    if not (target / "package.json").is_file():
        _fetch(name, version, target)
    return target


def _fetch(name: str, version: str, target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(
            f"npm is needed to fetch {name}@{version} from the npm registry "
            "(apt-get install nodejs npm)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # Unpack beside the target and rename: a run that stops half-way, or another test
    # process fetching the same package, never leaves a partial package behind.
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        result = subprocess.run(
            [npm, "pack", f"{name}@{version}", "--loglevel=error", "--pack-destination", scratch],
            capture_output=True,
            text=True,
            cwd=scratch,
            timeout=300,
        )
        tarballs = list(Path(scratch).glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            pytest.fail(
                f"npm could not fetch {name}@{version} from the registry "
                f"(exit {result.returncode}):\n{result.stderr.strip()}"
            )
        unpacked = Path(scratch) / "unpacked"
        with tarfile.open(tarballs[0]) as tarball:
            tarball.extractall(unpacked, filter="data")
        manifest = unpacked / "package" / "package.json"
        if not manifest.is_file():
            pytest.fail(f"{tarballs[0].name} has no package/package.json")
        try:
            (unpacked / "package").rename(target)
        except OSError:
            if not (target / "package.json").is_file():
                raise
