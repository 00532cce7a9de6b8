"""The ``consent`` command."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_demo_serves_the_article_site_and_logs_decisions(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "demo.db"
    command = [
        sys.executable,
        "-m",
        "consent.cli",
        "demo",
        "--port",
        str(port),
        "--db",
        f"sqlite:///{database}",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first_line
        deadline = time.monotonic() + 20
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert b"data-consent-banner" in page
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/_consent",
            data=b"action=reject_all&next=/",
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "accept": "application/json",
            },
        )
        assert urllib.request.urlopen(request, timeout=5).status == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT action FROM consent_events").fetchall() == [
            ("reject_all",)
        ]


def test_help_lists_the_demo() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "consent.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in result.stdout
