"""Servers the tests start as processes of their own: wait until one answers."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from typing import Any


def wait_until_answers(
    process: subprocess.Popen[Any], url: str, what: str, seconds: float = 30
) -> None:
    """Return once ``url`` answers (any status); kill the process and fail if it exits
    or ``seconds`` pass first (a bound on a hung start, not a speed requirement)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10):
                return
        except urllib.error.HTTPError:
            return  # an answer, whatever its status
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.communicate()[0] if process.stdout is not None else ""
                raise RuntimeError(f"{what} did not start: {output or ''}") from None
            time.sleep(0.1)
