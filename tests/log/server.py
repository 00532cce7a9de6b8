"""Run ``tests.log.http_app`` under a real uvicorn process, and send it decisions."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx2

from tests.log.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]


class Uvicorn:
    """A uvicorn subprocess serving the test app on a free loopback port."""

    def __init__(self, log_url: str, spool: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TEST_LOG_URL": log_url,
            "TEST_SPOOL": str(spool),
            **env,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.log.http_app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=environment,
            cwd=spool.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).read()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"uvicorn did not start: {self.stderr()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): the lifespan closes the log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stderr(self) -> str:
        """What the server wrote to stderr (once it has exited)."""
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")


async def send_decisions(base_url: str, count: int, concurrency: int = 32) -> list[int]:
    """``count`` decisions from as many new visitors, ``concurrency`` at a time; their statuses."""
    limit = asyncio.Semaphore(concurrency)
    actions = ("accept_all", "reject_all", "save")

    async def decide(client: httpx2.AsyncClient, number: int) -> int:
        async with limit:
            response = await client.post(
                base_url + "/_consent",
                data={"action": actions[number % 3], "categories": ["analytics"], "next": "/"},
            )
            return response.status_code

    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits, timeout=30, follow_redirects=False) as client:
        return list(await asyncio.gather(*(decide(client, n) for n in range(count))))
