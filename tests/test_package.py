"""The package works installed from a built wheel in a fresh virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

SMOKE = r"""
import asyncio, pathlib, re, sys
import consent
from consent import ConsentMiddleware, ConsentSettings
from consent.cli import load_demo_site

here = pathlib.Path(consent.__file__).parent
assert "site-packages" in str(here), here
assert (here / "py.typed").is_file()
assert (here / "static" / "consent.css").is_file()
# The cookie catalogue's data, with the licence and notice of its source.
for name in ("cookies.json", "LICENSE", "NOTICE"):
    assert (here / "catalogue" / "data" / name).is_file(), name
from consent import catalogue
assert catalogue.classify("_ga").service == "google-analytics"
assert (here / "templates" / "policy.html").is_file()

async def page(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/html"), (b"set-cookie", b"_ga=1")]})
    await send({"type": "http.response.body", "body": b"<html><body>hi</body></html>"})

async def run(app, path, method="GET", body=b""):
    sent = []
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}
    async def send(message):
        sent.append(message)
    headers = [(b"host", b"example.org")]
    if body:
        headers.append((b"content-type", b"application/x-www-form-urlencoded"))
    await app({"type": "http", "method": method, "path": path, "query_string": b"",
               "headers": headers, "scheme": "http"}, receive, send)
    return sent

settings = ConsentSettings(secret_key="k" * 40, log_url=None)
app = ConsentMiddleware(page, settings)
start, body = asyncio.run(run(app, "/"))
assert (b"set-cookie", b"_ga=1") not in start["headers"]
assert b"data-consent-banner" in body["body"]
css = re.search(rb'href="([^"]+[.]css)"', body["body"]).group(1).decode()
assert asyncio.run(run(app, css))[0]["status"] == 200
decision = asyncio.run(run(app, "/_consent", "POST", b"action=accept_all"))
assert decision[0]["status"] == 303
assert asyncio.run(run(app, "/_consent/preferences"))[0]["status"] == 200

site = load_demo_site().create_app(log_url=None)
start, *rest = asyncio.run(run(site, "/"))
assert start["status"] == 200
assert b"data-consent-banner" in b"".join(m.get("body", b"") for m in rest)
print("wheel ok")
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("consent-*.whl"))


@pytest.mark.slow
def test_wheel_contains_static_templates_example_and_marker(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in [
        "consent/py.typed",
        "consent/static/consent.css",
        "consent/templates/banner.html",
        "consent/templates/preferences.html",
        "consent/examples/article_site/app.py",
        "consent/examples/article_site/templates/article.html",
    ]:
        assert expected in names, expected
    assert not any(name.startswith(("tests/", "bench/")) for name in names)


@pytest.mark.slow
def test_wheel_works_in_a_fresh_virtual_environment(wheel: Path, tmp_path: Path) -> None:
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
    )
    # Nothing of the checkout may leak in: the wheel alone must work.
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    result = subprocess.run(
        [str(python), "-c", SMOKE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wheel ok"
    help_text = subprocess.run(
        [str(environment / "bin" / "consent"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "demo" in help_text
