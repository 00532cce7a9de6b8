"""Running wrk against one server and reading what it measured."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass


@dataclass
class WrkRun:
    """What one wrk run measured, and the CPU that other processes used meanwhile."""

    requests_per_second: float
    latency_p50_ms: float
    latency_p90_ms: float
    errors: int
    other_cores: float = float("nan")


def parse_duration_ms(text: str) -> float:
    """A wrk duration (``812.00us``, ``1.20ms``, ``2.01s``) in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise RuntimeError(f"cannot read the wrk duration {text!r}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[found.group(2)]
    return float(found.group(1)) * scale


def run_wrk(
    wrk: str, url: str, cookie: str | None, threads: int, connections: int, duration: int
) -> WrkRun:
    """One wrk run against ``url``, as the visitor of ``cookie`` (None: undecided)."""
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "--latency",
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    out = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p90 = re.search(r"^\s+90%\s+(\S+)", out, re.MULTILINE)
    if not (rate and p50 and p90):
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return WrkRun(
        requests_per_second=float(rate.group(1)),
        latency_p50_ms=parse_duration_ms(p50.group(1)),
        latency_p90_ms=parse_duration_ms(p90.group(1)),
        errors=errors,
    )
