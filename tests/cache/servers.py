"""A real Varnish on loopback in front of a real uvicorn origin, for the tests and the bench.

Varnish comes from the Debian ``varnish`` package; it runs with the VCL the
project ships (``docs/varnish/site.vcl``, its backend pointed at the origin)
and what ``consent vcl`` makes for the origin's settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from consent.settings import CacheMode, ConsentSettings
from consent.vcl import varnish_vcl
from tests.log.postgres import free_port
from tests.processes import wait_until_answers

ROOT = Path(__file__).resolve().parents[2]
SITE_VCL = ROOT / "docs" / "varnish" / "site.vcl"
VARNISHD = shutil.which("varnishd") or "/usr/sbin/varnishd"

VARY_VCL = """\
# cache_mode "vary": every page is looked up, and stored per Cookie (Vary: Cookie).
sub consent_recv {
    if (req.method == "GET" || req.method == "HEAD") {
        return (hash);
    }
}
sub consent_backend_response {
}
"""
"""What a site gets from Varnish in ``"vary"`` mode at best: no cookie kept out of the
look-up, each visitor's page stored for their ``Cookie`` header."""


def wait_for(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    wait_until_answers(process, url, what)


class Origin:
    """A uvicorn process serving ``tests.cache.serve`` (KIND in cache_mode MODE)."""

    def __init__(self, kind: str, mode: CacheMode, log_url: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_URL": log_url or ""}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.cache.serve", kind, mode, "127.0.0.1", str(self.port)],
            cwd=ROOT,
            env=environment,
        )
        wait_for(self.url + "/", self.process, f"the {kind} origin")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Varnish:
    """varnishd in the foreground on a free loopback port, in its own work directory."""

    def __init__(self, workdir: Path, backend_port: int, consent_vcl: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        (workdir / "consent.vcl").write_text(consent_vcl)
        site = SITE_VCL.read_text()
        marker = '.port = "8000";'
        assert marker in site, "docs/varnish/site.vcl names its backend's port"
        (workdir / "site.vcl").write_text(site.replace(marker, f'.port = "{backend_port}";'))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            VARNISHD,
            "-F",
            "-n",
            str(workdir / "state"),
            "-a",
            f"127.0.0.1:{self.port}",
            "-f",
            str(workdir / "site.vcl"),
            "-p",
            f"vcl_path={workdir}",
            "-s",
            "malloc,256m",
        ]
        if os.geteuid() == 0:
            # As root, varnishd would drop to its own users, who cannot read a test's files.
            command += ["-j", "none"]
        # In a session of its own: stop() ends the manager and its cache child together.
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        wait_for(self.url + "/_consent/static/none", self.process, "varnishd")

    def stats(self) -> dict[str, int]:
        """Varnish's counters (``MAIN.cache_hit``, ``MAIN.cache_miss``...)."""
        output = subprocess.run(
            ["varnishstat", "-n", str(self.workdir / "state"), "-1", "-j"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        counters = json.loads(output)
        counters = counters.get("counters", counters)
        return {
            name: int(value["value"])
            for name, value in counters.items()
            if isinstance(value, dict) and "value" in value
        }

    def ban_all(self) -> None:
        """Empty the cache, so that a test starts from misses."""
        subprocess.run(
            ["varnishadm", "-n", str(self.workdir / "state"), "ban", "req.url", "~", "."],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        """Stop the manager, then anything of its group still running (the cache child)."""
        group = self.process.pid
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def consent_vcl(
    settings: ConsentSettings, keep: tuple[str, ...] = (), ignore: tuple[str, ...] = ()
) -> str:
    """What ``consent vcl`` prints for ``settings`` (the "vary" stand-in for that mode)."""
    return VARY_VCL if settings.cache_mode == "vary" else varnish_vcl(settings, keep, ignore)


SITE_KEEP = ("theme",)
"""The article site reads its reading-mode cookie to make the page."""
SITE_IGNORE = ("SERVERID",)
"""The article site's load-balancer cookie changes no page."""
