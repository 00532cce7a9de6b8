"""The bundled cookie catalogue: what common platforms' cookies are, from the Open Cookie Database.

``classify("_hjSessionUser_123")`` tells what a cookie is (Hotjar's, a
preference cookie, kept 365 days); ``service("hotjar")`` is a ready ``Service``
for ``Category(services=[...])``, which accepts the key itself; ``category_of``
suggests the category a service belongs in. The data (2,252 cookies of 342
platforms) is ``data/cookies.json``, made by ``scripts/build_catalogue.py``
from the database's CSV, whose licence (Apache-2.0) and source are kept beside
it in ``data/LICENSE`` and ``data/NOTICE``.

Nothing is read when the package is imported: the first call loads the data
(tens of milliseconds) and keeps it for the life of the process. Two threads
making the first call at once may both load it; either result is the same.

How a name is looked up. Exact names are one dictionary. For the 261 prefixes
(``_ga_*``), checking each in turn costs up to 261 ``startswith`` calls
(~40 µs for a name no prefix starts). ``bench/catalogue.py`` weighed five ways
not to, and this module compiles the prefixes into one regular expression
shaped as a trie (``prefixes.longest_prefix_regex``), whose match is the
longest prefix. It is the only one that is fast on every kind of name: 0.5 to
1 µs on hits, near misses and misses alike, on the benchmark's machine. A
binary search over the sorted prefixes is as fast on hits but 5 to 15 times
slower on misses (it backs off one shared prefix at a time). A dictionary
look-up per prefix length pays a slice and a hash per length; in buckets by
the first two characters it is faster on a plain miss (an empty bucket), no
faster on hits, and 2 to 4 times slower on near misses, where a bucket holds
many lengths (``_s``, ``__``). StringZilla has no search for many
patterns at once, and its ``startswith`` on names this short is no faster than
``str``'s, so it cannot avoid the loop either. A look-up makes one dictionary
probe and at most one match, and the match walks no further than the longest
prefix: a 10,000-character name costs what a short one does. The numbers are
in docs/benchmarks.md, "The cookie catalogue".
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..service import Service
from .index import Catalogue, CookieInfo, UnknownServiceError, load_catalogue

__all__ = [
    "DATA_FILE",
    "Catalogue",
    "CookieInfo",
    "UnknownServiceError",
    "catalogue",
    "category_of",
    "classify",
    "classify_all",
    "cookie",
    "service",
    "services",
]

DATA_FILE = Path(__file__).parent / "data" / "cookies.json"
"""The catalogue's data, written by ``scripts/build_catalogue.py`` from the database's CSV."""


@functools.cache
def catalogue() -> Catalogue:
    """The whole catalogue (``.entries`` in the database's order), loaded on first use."""
    return load_catalogue(DATA_FILE.read_text(encoding="utf-8"))


def classify(name: str) -> CookieInfo | None:
    """What a cookie name is, or ``None`` when the catalogue does not know it.

    An exact name comes first, then the longest prefix the name starts with:
    ``classify("_hjSessionUser_123")`` is Hotjar's ``_hjSessionUser_*``. A name
    that several platforms use gets the entry of the platform with the most
    entries in the database (the first listed on a tie); ``classify_all`` gives
    every one.
    """
    return catalogue().classify(name)


def classify_all(name: str) -> tuple[CookieInfo, ...]:
    """Every entry that matches a cookie name, the one ``classify`` returns first."""
    return catalogue().classify_all(name)


def cookie(pattern: str, service: str | None = None) -> CookieInfo | None:
    """The entry declared as exactly ``pattern``: a cookie name, or ``prefix*``.

    With ``service``, only that service's entry: ``cookie("token", service="xandr")``.
    ``None`` when there is none; a name that only a prefix matches is not
    declared (``classify`` finds those).
    """
    return catalogue().cookie(pattern, service)


def service(key: str) -> Service:
    """The catalogue's ``Service`` for a key (``"hotjar"``, ``"google-analytics"``).

    Built from every entry of the platform: its cookies (``prefix*`` for a
    prefix), the hosts they are set on, the data controller as provider, its
    privacy portal, and a retention when all its cookies share one. Its
    description is left empty: the database describes cookies, not services,
    and an English sentence made up here would show untranslated in every
    language (``cookie(pattern, service=key)`` gives each cookie's purpose).
    Raises ``UnknownServiceError`` (a ``KeyError``) naming the closest keys.
    """
    return catalogue().service(key)


def services() -> tuple[str, ...]:
    """Every service key of the catalogue, sorted."""
    return catalogue().services()


def category_of(key: str) -> str:
    """The package category most of a service's cookies have: a suggestion for its category.

    On a tie, the category that asks the visitor first: marketing, analytics,
    preferences, then necessary.
    """
    return catalogue().category_of(key)
