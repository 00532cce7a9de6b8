"""What a run prints and keeps: targets, Markdown tables, the machine and the checkout."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import consent


@dataclass
class Target:
    """One limit the middleware must keep, and what was measured against it."""

    name: str
    measured: str
    limit: str
    passed: bool

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A Markdown table, columns aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print()


def measured_checkout() -> str:
    """Which ``consent`` this run measures: its folder, commit and a hash of its sources.

    The folder is the imported package's, which ``PYTHONPATH`` may point at an
    earlier checkout; the commit and the uncommitted changes are that checkout's.
    """
    package = Path(consent.__file__).resolve().parent
    sources = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            name = path.relative_to(package.parent).as_posix().encode()
            sources.update(name + b"\0" + path.read_bytes())
    commit = "none"
    with suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=package.parent,
        )
        commit = head.stdout.strip() if head.returncode == 0 else "none (not in git)"
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", package.name],
            capture_output=True,
            text=True,
            cwd=package.parent,
        )
        if head.returncode == 0 and status.stdout.strip():
            changed = len(status.stdout.strip().splitlines())
            commit += f" + uncommitted changes to {changed} file(s) in {package.name}/"
    return f"{package}, commit {commit}, sources sha256 {sources.hexdigest()[:12]}"


def machine_description() -> dict[str, str]:
    """The checkout measured, the machine, and the versions of what runs the requests."""
    cpu = "unknown"
    with suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with suppress(OSError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    wrk = shutil.which("wrk")
    wrk_version = "not installed"
    if wrk:
        with suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=5)
            wrk_version = (out.stdout or out.stderr).split("Copyright")[0].strip()
    return {
        "consent": measured_checkout(),
        "CPU": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "RAM": memory,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "starlette": version("starlette"),
        "uvicorn": (
            f"{version('uvicorn')} (uvloop {version('uvloop')}, httptools {version('httptools')})"
        ),
        "itsdangerous": version("itsdangerous"),
        "wrk": wrk_version,
        "load average at start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


def command_line(arguments: Sequence[str]) -> str:
    """The command that started this run, ``PYTHONPATH`` included when set."""
    pythonpath = os.environ.get("PYTHONPATH")
    prefix = [f"PYTHONPATH={pythonpath}"] if pythonpath else []
    python = Path(sys.executable).name
    return " ".join([*prefix, python, "-m", "bench.overhead", *arguments])
