"""``--profile``: where ConsentMiddleware spends its time, per case (cProfile)."""

from __future__ import annotations

import cProfile
import inspect
import pstats
import re
from collections.abc import Sequence
from pathlib import Path

import consent
from bench.apps import consent_app
from bench.overhead.cases import case_template, decided_cookie_header
from tests.asgi import CountingSink, serve

WARMUP = 500


async def profile_part(cases: Sequence[tuple[str, str]], requests: int) -> None:
    """cProfile of the consent stack per case, limited to consent's own functions."""
    cookie = await decided_cookie_header()
    # Only the measured package's functions: Starlette's cost is the same with and
    # without it. Found from public names, so that any checkout profiles alike.
    package = re.escape(str(Path(consent.__file__).parent))
    entry = Path(inspect.getsourcefile(consent.ConsentMiddleware) or "middleware.py").name
    for endpoint, visitor in cases:
        template = case_template(endpoint, visitor, cookie)
        for _ in range(WARMUP):
            await serve(consent_app, template, CountingSink())
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            await serve(consent_app, template, CountingSink())
        profiler.disable()
        print(f"### consent, {endpoint}, {visitor}: {requests} requests")
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(package, 15)
        stats.print_callees(rf"{package}[/\\]{re.escape(entry)}:\d+\(__call__\)")
