"""What a middleware costs to start, and a language the first time a visitor asks for it.

Run by hand, from the repository root:

    .venv/bin/python bench/startup.py

Builds ``ConsentMiddleware`` with the default settings (every bundled language
available) ``--repeats`` times and prints the fastest start, then the time to
make each language's markup on its first request, and what all of them hold in
memory (``tracemalloc``). The fastest of several runs is the least disturbed by
the rest of the machine.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from starlette.types import Receive, Scope, Send

from consent import ConsentMiddleware, ConsentSettings
from consent.assets import Assets
from consent.banner import BannerMarkup
from consent.category import bundled_locales


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Nothing: only the middleware's own start is measured."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    settings = ConsentSettings(secret_key="bench-" + "k" * 40, log_url=None)
    ConsentMiddleware(app, settings)  # imports and template compilation, once per process
    starts = []
    for _ in range(options.repeats):
        started = time.perf_counter()
        middleware = ConsentMiddleware(app, settings)
        starts.append(time.perf_counter() - started)
    print(f"start of one middleware: {min(starts) * 1000:.1f} ms (fastest of {options.repeats})")

    del middleware
    assets = Assets(settings.path_prefix)
    banner = BannerMarkup(settings, assets.urls, assets.sources["consent.css"])
    languages = sorted(bundled_locales())
    started = time.perf_counter()
    for language in languages:
        banner.localized(language)
    elapsed = time.perf_counter() - started
    print(f"first request of a language: {elapsed / len(languages) * 1000:.2f} ms each")
    fresh = BannerMarkup(settings, assets.urls, assets.sources["consent.css"])
    tracemalloc.start()
    for language in languages:
        fresh.localized(language)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"all {len(languages)} languages held: {held / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
