"""How much CPU other processes take while a measurement runs (``/proc``, Linux)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from contextlib import suppress

BUSY_CORES = 0.1
"""CPU used by other processes during a measurement, in cores, above which it is suspect."""
PAIR_ATTEMPTS = 3
"""How many times a wrk pair (bare, consent) is run when another process disturbs it."""


def _busy_ticks() -> int:
    """Non-idle CPU ticks of the whole machine since boot."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4]  # less idle and iowait


def _process_ticks(pid: int | str, children: bool = False) -> int:
    """CPU ticks of a process (and of its waited-for children)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks


class OtherLoad:
    """Measures the CPU that processes other than the benchmark's use while a block runs.

    On a shared machine another job steals cycles from one stack's runs and not the
    other's; this tells such a measurement apart (``cores`` above ``BUSY_CORES``).
    ``pids`` are the benchmark's other processes (its servers), not counted as others.
    """

    def __init__(self, pids: Sequence[int] = ()) -> None:
        self._pids = list(pids)
        self.cores = float("nan")
        self._start = (0, 0, 0.0)

    def _sample(self) -> tuple[int, int, float]:
        ours = _process_ticks("self", children=True)
        ours += sum(_process_ticks(pid) for pid in self._pids)
        return _busy_ticks(), ours, time.monotonic()

    def __enter__(self) -> OtherLoad:
        with suppress(OSError, ValueError, IndexError):
            self._start = self._sample()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with suppress(OSError, ValueError, IndexError):
            busy, ours, now = self._sample()
            other = (busy - self._start[0]) - (ours - self._start[1])
            ticks_per_second = os.sysconf("SC_CLK_TCK")
            self.cores = max(0.0, other / ticks_per_second / (now - self._start[2]))

    @property
    def busy(self) -> bool:
        """Whether other processes took more than ``BUSY_CORES`` meanwhile."""
        return self.cores > BUSY_CORES
