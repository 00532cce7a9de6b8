"""``consent cookies``: the cookie inventory, each undeclared name matched in the catalogue.

For every name the middleware saw and no category declares, the bundled
catalogue (the Open Cookie Database) says which platform sets it and what for.
The names it knows become settings to paste: each platform as a catalogue
service in the category the catalogue suggests, in TOML and in Python. The
names it does not know are listed for the operator to place by hand.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from . import catalogue
from .category import NECESSARY, bundled_locales
from .cli_output import OutputFormat, console, errors, table_of
from .cookies import UNDECLARED
from .log.kinds import iso_utc
from .log.read import CookieRow

COLUMNS: Final = (
    "name",
    "category",
    "seen",
    "blocked",
    "first_seen",
    "last_seen",
    "platform",
    "service",
    "suggested_category",
)
"""The fields of ``consent cookies --format csv`` and ``json``, in this order."""


@dataclass(frozen=True, slots=True)
class Match:
    """What the catalogue says of one undeclared name."""

    platform: str
    service: str
    category: str
    """The package category its entry suggests (``analytics``, ``marketing``...)."""
    description: str


def match(row: CookieRow) -> Match | None:
    """The catalogue's entry for an undeclared name; None for a declared or unknown one."""
    if row.category != UNDECLARED:
        return None
    found = catalogue.classify(row.name)
    if found is None:
        return None
    return Match(found.platform, found.service, found.category, found.description)


def suggested_services(matches: Sequence[tuple[CookieRow, Match]]) -> dict[str, list[str]]:
    """Category → the catalogue services to add to it, each once, in order of first sight.

    A service goes where most of its cookies' entries put it (``catalogue.category_of``),
    so that its seen names never pull it into two categories.
    """
    by_category: dict[str, list[str]] = {}
    for _, found in matches:
        category = catalogue.category_of(found.service)
        services = by_category.setdefault(category, [])
        if found.service not in services:
            services.append(found.service)
    return by_category


def paste_toml(by_category: dict[str, list[str]]) -> str:
    """The services as ``CONSENT_CONFIG`` TOML: a table per category to merge into yours."""
    lines = ["# Add these services to your categories (consent.toml):"]
    for category, services in by_category.items():
        if category == NECESSARY:
            continue
        names = ", ".join(json.dumps(s) for s in services)
        title = json.dumps(_title(category), ensure_ascii=False)
        lines += [
            "[[categories]]",
            f'key = "{category}"',
            f"title = {title}",
            f"services = [{names}]",
            "",
        ]
    necessary = _necessary_names(by_category)
    if necessary:
        lines.append(f"necessary_cookies = [{', '.join(json.dumps(n) for n in necessary)}]")
    return "\n".join(lines).rstrip() + "\n"


def paste_python(by_category: dict[str, list[str]]) -> str:
    """The same, as ``Category(...)`` arguments."""
    lines = ["# Add these services to your categories:"]
    for category, services in by_category.items():
        if category == NECESSARY:
            continue
        title = json.dumps(_title(category), ensure_ascii=False)
        lines.append(f'Category(key="{category}", title={title}, services={services!r}),')
    necessary = _necessary_names(by_category)
    if necessary:
        lines.append(f"necessary_cookies=[..., {', '.join(repr(n) for n in necessary)}],")
    return "\n".join(lines).replace("'", '"') + "\n"


def _title(category: str) -> str:
    """The bundled English title of one of the usual categories."""
    return str(bundled_locales()["en"]["categories"][category]["title"])


def _necessary_names(by_category: dict[str, list[str]]) -> list[str]:
    """Strictly necessary platforms' cookies go to ``necessary_cookies``, not a category."""
    return [
        pattern
        for service in by_category.get(NECESSARY, [])
        for pattern in catalogue.service(service).cookies
    ]


def print_inventory(rows: Sequence[CookieRow], output: OutputFormat) -> None:
    """The inventory as a table (undeclared names in red) with settings to paste, CSV or JSON."""
    matched = [(row, match(row)) for row in rows]
    records = [
        (
            row.name,
            row.category,
            row.seen,
            row.blocked,
            iso_utc(row.first_seen),
            iso_utc(row.last_seen),
            found.platform if found else "",
            found.service if found else "",
            found.category if found else "",
        )
        for row, found in matched
    ]
    if output is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(records)
        return
    if output is OutputFormat.json:
        for record in records:
            sys.stdout.write(json.dumps(dict(zip(COLUMNS, record, strict=True))) + "\n")
        return
    table = table_of(
        "name", "category", "seen", "blocked", "first seen (UTC)", "last seen (UTC)", "catalogue"
    )
    for name, category, seen, blocked, first, last, platform, _, suggested in records:
        style = "bold red" if category == UNDECLARED else None
        # A space between date and time, where a narrow terminal can wrap the cell.
        first, last = (moment[:19].replace("T", " ") for moment in (first, last))
        known = f"{platform} ({suggested})" if platform else ""
        table.add_row(name, category, str(seen), str(blocked), first, last, known, style=style)
    console.print(table)
    if not records:
        errors.print("no cookie seen yet")
        return
    found_pairs = [(row, found) for row, found in matched if found is not None]
    if found_pairs:
        by_category = suggested_services(found_pairs)
        sys.stdout.write("\n" + paste_toml(by_category) + "\n" + paste_python(by_category))
    unknown = [row.name for row, found in matched if row.category == UNDECLARED and not found]
    if unknown:
        errors.print(
            "not in the catalogue, to declare by hand (a category's cookies, or "
            f"necessary_cookies): {', '.join(unknown)}"
        )
