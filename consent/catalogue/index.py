"""The catalogue in memory: its entries, the look-ups on cookie names, and its services."""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..category import NECESSARY
from ..service import Service
from .prefixes import longest_prefix_regex

PACKAGE_CATEGORY = {
    "Analytics": "analytics",
    "Marketing": "marketing",
    "Functional": "preferences",
    "Personalization": "preferences",
    "Necessary": NECESSARY,
    "Security": NECESSARY,
}
"""The package's category for each of the Open Cookie Database's categories."""

_STRICTER_FIRST = ("marketing", "analytics", "preferences", NECESSARY)
"""When a service's cookies are split evenly, the category that asks the visitor first wins."""


@dataclass(frozen=True, slots=True)
class CookieInfo:
    """One entry of the catalogue: a cookie name (or prefix) of a platform, and what it is for."""

    name: str
    """The cookie's name, or ``prefix*`` for every name that starts with the prefix."""
    service: str
    """Key of the catalogue's service it belongs to (``consent.catalogue.service(key)``)."""
    platform: str
    """The platform that sets it, as the database names it ("Google Analytics")."""
    category: str
    """The package's category: ``analytics``, ``marketing``, ``preferences`` or ``necessary``."""
    source_category: str
    """The database's category: Analytics, Marketing, Functional, Personalization,
    Necessary or Security."""
    description: str
    """What the cookie is for, in English, as the database says it."""
    retention: str
    """How long it lasts ("2 years", "Session"), or ``""`` when the database does not say."""
    domain: str
    """The domain it is set on, in lower case (several joined by " or "), or ``""`` when the
    database names none."""
    third_party: bool
    """Whether the database marks it as a third party's cookie."""
    provider: str
    """Who controls the data it holds ("Google")."""


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """What the data file says of a service itself; its cookies come from the entries."""

    name: str
    provider: str
    privacy_policy_url: str
    hosts: tuple[str, ...]


class UnknownServiceError(KeyError):
    """A service key the catalogue does not have; the message names the closest keys."""

    def __str__(self) -> str:
        return str(self.args[0])


class Catalogue:
    """Every entry of the data file, indexed for look-ups by cookie name and by service.

    Names can repeat: the same exact name in two platforms, or one name both
    exact and as a prefix. Where one entry must be chosen, the entry of the
    platform with the most entries in the database wins (the more widely
    deployed platform, as far as the database can tell), and between platforms
    with as many entries, the one listed first in the database.
    """

    def __init__(self, services: dict[str, ServiceRecord], entries: Iterable[CookieInfo]) -> None:
        self.entries = tuple(entries)
        """Every entry, in the database's order."""
        self._services = services
        self._service_entries: dict[str, list[CookieInfo]] = {key: [] for key in services}
        for entry in self.entries:
            self._service_entries[entry.service].append(entry)
        first_wins = sorted(
            range(len(self.entries)),
            key=lambda index: (-len(self._service_entries[self.entries[index].service]), index),
        )
        self._by_pattern: dict[str, list[CookieInfo]] = {}
        for index in first_wins:
            entry = self.entries[index]
            self._by_pattern.setdefault(entry.name, []).append(entry)
        self._exact = {
            name: found[0] for name, found in self._by_pattern.items() if not name.endswith("*")
        }
        self._by_prefix = {
            name[:-1]: found[0] for name, found in self._by_pattern.items() if name.endswith("*")
        }
        self._longest_prefix = longest_prefix_regex(self._by_prefix).match
        self._prefix_lengths = sorted({len(prefix) for prefix in self._by_prefix}, reverse=True)
        self._built: dict[str, Service] = {}

    def classify(self, name: str) -> CookieInfo | None:
        """The entry for a cookie name: its exact name first, then its longest prefix."""
        exact = self._exact.get(name)
        if exact is not None:
            return exact
        prefix = self._longest_prefix(name)
        return None if prefix is None else self._by_prefix[prefix.group()]

    def classify_all(self, name: str) -> tuple[CookieInfo, ...]:
        """Every entry that matches a cookie name, in the order ``classify`` prefers them."""
        found = [entry for entry in self._by_pattern.get(name, ()) if not entry.name.endswith("*")]
        for length in self._prefix_lengths:
            if length <= len(name):
                found.extend(self._by_pattern.get(name[:length] + "*", ()))
        return tuple(found)

    def cookie(self, pattern: str, service: str | None = None) -> CookieInfo | None:
        """The entry declared as exactly ``pattern`` (a name, or ``prefix*``), or ``None``."""
        for entry in self._by_pattern.get(pattern, ()):
            if service is None or entry.service == service:
                return entry
        return None

    def services(self) -> tuple[str, ...]:
        """Every service key, sorted."""
        return tuple(sorted(self._services))

    def service(self, key: str) -> Service:
        """The ``Service`` of a key, built from all the entries of its platform."""
        built = self._built.get(key)
        if built is None:
            record = self._services.get(key)
            if record is None:
                raise UnknownServiceError(self._unknown_message(key))
            entries = self._service_entries[key]
            retentions = {entry.retention for entry in entries}
            built = Service(
                key=key,
                name=record.name,
                provider=record.provider,
                cookies=tuple(dict.fromkeys(entry.name for entry in entries)),
                hosts=record.hosts,
                retention=retentions.pop() if len(retentions) == 1 else "",
                privacy_policy_url=record.privacy_policy_url,
            )
            self._built[key] = built
        return built

    def category_of(self, key: str) -> str:
        """The package category most of a service's cookies have (the stricter one on a tie)."""
        if key not in self._services:
            raise UnknownServiceError(self._unknown_message(key))
        counts = Counter(entry.category for entry in self._service_entries[key])
        return max(_STRICTER_FIRST, key=lambda category: (counts[category], -_rank(category)))

    def _unknown_message(self, key: str) -> str:
        wanted = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")
        containing = [known for known in self.services() if wanted and wanted in known]
        close = difflib.get_close_matches(wanted, self.services(), n=5, cutoff=0.6)
        matches = list(dict.fromkeys([*close, *containing]))[:8]
        unknown = f"no service {key!r} in the cookie catalogue"
        if not matches:
            return f"{unknown}; consent.catalogue.services() lists every key"
        return f"{unknown}; did you mean {', '.join(map(repr, matches))}?"


def _rank(category: str) -> int:
    return _STRICTER_FIRST.index(category)


def load_catalogue(text: str) -> Catalogue:
    """The catalogue held in the text of a data file that ``scripts/build_catalogue.py`` wrote."""
    data: dict[str, Any] = json.loads(text)
    services = {
        key: ServiceRecord(name, provider, privacy_policy_url, tuple(hosts))
        for key, name, provider, privacy_policy_url, hosts in _rows(data, "services")
    }
    shared: dict[str, str] = {}  # one string object per repeated value
    entries = []
    for name, wildcard, key, source_category, retention, domain, third_party, description in _rows(
        data, "cookies"
    ):
        record = services[key]
        entries.append(
            CookieInfo(
                name=name + "*" if wildcard else name,
                service=shared.setdefault(key, key),
                platform=record.name,
                category=PACKAGE_CATEGORY[source_category],
                source_category=shared.setdefault(source_category, source_category),
                description=description,
                retention=shared.setdefault(retention, retention),
                domain=shared.setdefault(domain, domain),
                third_party=bool(third_party),
                provider=record.provider,
            )
        )
    return Catalogue(services, entries)


COLUMNS = {
    "services": ["key", "name", "provider", "privacy_policy_url", "hosts"],
    "cookies": [
        "name", "wildcard", "service", "source_category", "retention", "domain", "third_party",
        "description",
    ],
}  # fmt: skip
"""The columns of the data file's tables, in the order ``scripts/build_catalogue.py`` writes."""


def _rows(data: dict[str, Any], table: str) -> list[list[Any]]:
    if data[table]["columns"] != COLUMNS[table]:
        raise ValueError(f"the catalogue's {table} have the columns {data[table]['columns']}")
    rows: list[list[Any]] = data[table]["rows"]
    return rows
