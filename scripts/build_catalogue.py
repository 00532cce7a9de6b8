"""Build the bundled cookie catalogue (``consent/catalogue/data/``) from the Open Cookie Database.

Run it from anywhere when the database's CSV changes:

    .venv/bin/python scripts/build_catalogue.py [--source PATH]

``PATH`` is the database's ``open-cookie-database.csv`` (by default
``../shared/data/open-cookie-database/open-cookie-database.csv`` from the
repository root), with its ``LICENSE`` and ``SOURCE.md`` beside it. The CSV
stays the source: this script writes ``cookies.json``, ``LICENSE`` and
``NOTICE`` into ``consent/catalogue/data/``, byte for byte the same for the
same input, and ``tests/test_catalogue.py`` checks that the committed files are
what it writes. What it does to the data:

- every field is trimmed and its runs of white space made one space;
- a name that ends in ``*`` is a prefix, as if its Wildcard match were 1
  (``SSPR_*``);
- a row whose name is not a cookie name (RFC 6265 token characters, and no
  other ``*``, which a pattern cannot name exactly) or that has no platform is
  left out, and said so on stderr;
- retention periods are spelled alike: ``Session`` for every way of saying it,
  ``1 year`` / ``13 months`` for every case and abbreviation of a count and a
  unit, ``""`` for Unknown;
- the ``(3rd party)`` markers of the Domain column become a ``third_party``
  flag; the hosts of a service are its domains that are host names, in lower
  case, without a leading dot;
- each platform gets a service key: its name in lower case, with every run of
  other characters than ``a-z0-9`` made one ``-``, cut to 48 characters, and
  ``p-`` in front when it starts with a digit (``1rx.io`` is ``p-1rx-io``).
  Platforms whose names give one key (``HubSpot`` and ``Hubspot``) are one
  service, named as most of its rows spell it;
- a service's provider and privacy policy are the data controller and the
  http(s) privacy portal most of its rows give (the first of the most common).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consent.catalogue.index import COLUMNS, PACKAGE_CATEGORY  # noqa: E402
from consent.names import COOKIE_NAME  # noqa: E402

DEFAULT_SOURCE = (
    ROOT.parent / "shared" / "data" / "open-cookie-database" / "open-cookie-database.csv"
)
OUTPUT = ROOT / "consent" / "catalogue" / "data"

SERVICE_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")
"""What ``consent.Service`` accepts as a key."""
_HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
)
"""A host name with at least one dot and a top-level label that starts with a letter."""
_THIRD_PARTY = re.compile(r"\(\s*3rd\s+party\s*\)", re.IGNORECASE)
_SESSION = frozenset(
    {"session", "sessions", "seesion", "session cookie", "end of session (browser)"}
)
_UNKNOWN = frozenset({"unknown", "undefined"})
_UNITS = {
    "sec": "second", "secs": "second", "second": "second", "seconds": "second",
    "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute",
    "hour": "hour", "hours": "hour", "day": "day", "days": "day",
    "week": "week", "weeks": "week", "month": "month", "months": "month",
    "year": "year", "years": "year",
}  # fmt: skip
_COUNT_AND_UNIT = re.compile(r"^(\d+) ?([a-z]+)$")


@dataclass(frozen=True)
class Row:
    """One cookie of the database, cleaned."""

    name: str
    wildcard: bool
    platform: str
    source_category: str
    description: str
    retention: str
    domain: str
    third_party: bool
    provider: str
    portal: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    """A row of the database left out, and why."""

    row_id: str
    name: str
    reason: str


@dataclass
class Build:
    """What one run makes: the files of ``consent/catalogue/data/``, and what it left out."""

    files: dict[str, bytes]
    rows_read: int
    skipped: list[Skipped] = field(default_factory=list)
    starred: list[str] = field(default_factory=list)
    """Names written with a final ``*`` and read as prefixes."""
    merged: dict[str, list[str]] = field(default_factory=dict)
    """Service keys made from two or more spellings of a platform, with the spellings."""


def clean_text(text: str) -> str:
    """Trimmed, with every run of white space one space."""
    return " ".join(text.split())


def clean_retention(text: str) -> str:
    """A retention period spelled as the rest of the catalogue spells it."""
    text = clean_text(text)
    lowered = text.lower()
    if lowered in _SESSION:
        return "Session"
    if lowered in _UNKNOWN:
        return ""
    count_and_unit = _COUNT_AND_UNIT.match(lowered)
    if count_and_unit and count_and_unit[2] in _UNITS:
        count, unit = int(count_and_unit[1]), _UNITS[count_and_unit[2]]
        return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
    return text


def clean_domain(text: str) -> tuple[str, bool, tuple[str, ...]]:
    """The Domain column as ``(domains, third_party, hosts)``.

    ``"google-analytics.com (3rd party) or "`` gives ``("google-analytics.com",
    True, ("google-analytics.com",))``: the domains it names, joined by " or ",
    whether any is marked as a third party's, and those that are host names.
    """
    third_party = bool(_THIRD_PARTY.search(text))
    parts = [clean_text(_THIRD_PARTY.sub("", part)) for part in re.split(r"\s+or\s+", f" {text} ")]
    domains = [part.lower() for part in parts if part]
    hosts = tuple(
        dict.fromkeys(host for host in (d.lstrip(".") for d in domains) if _HOST.match(host))
    )
    return " or ".join(domains), third_party, hosts


def clean_portal(text: str) -> str:
    """The privacy portal when it is an http(s) URL, else ``""``."""
    text = text.strip()
    return text if re.match(r"^https?://[^\s/]+\S*$", text) else ""


def service_key(platform: str) -> str:
    """The service key of a platform's name: ``"Google Analytics"`` is ``"google-analytics"``."""
    ascii_name = unicodedata.normalize("NFKD", platform).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if key[:1].isdigit():
        key = "p-" + key
    key = key[:48].rstrip("-")
    if not SERVICE_KEY.match(key):
        raise ValueError(f"platform {platform!r} gives {key!r}, which is not a service key")
    return key


def clean_rows(rows: Iterable[Mapping[str, str]]) -> tuple[list[Row], list[Skipped], list[str]]:
    """The rows cleaned, the rows left out, and the names that a final ``*`` made prefixes."""
    kept: list[Row] = []
    skipped: list[Skipped] = []
    starred: list[str] = []
    for raw in rows:
        name = raw["Cookie / Data Key name"].strip()
        wildcard = _wildcard(raw)
        if name.endswith("*") and COOKIE_NAME.match(name):
            starred.append(name)
            name, wildcard = name[:-1], True
        platform = clean_text(raw["Platform"])
        source_category = clean_text(raw["Category"])
        if not COOKIE_NAME.match(name) or "*" in name:
            skipped.append(Skipped(raw["ID"], name, "not a cookie name"))
            continue
        if not platform:
            skipped.append(Skipped(raw["ID"], name, "no platform"))
            continue
        if source_category not in PACKAGE_CATEGORY:
            raise ValueError(
                f"row {raw['ID']} has the category {source_category!r}, which "
                "consent.catalogue.index.PACKAGE_CATEGORY does not map"
            )
        domain, third_party, hosts = clean_domain(raw["Domain"])
        kept.append(
            Row(
                name=name,
                wildcard=wildcard,
                platform=platform,
                source_category=source_category,
                description=clean_text(raw["Description"]),
                retention=clean_retention(raw["Retention period"]),
                domain=domain,
                third_party=third_party,
                provider=clean_text(raw["Data Controller"]),
                portal=clean_portal(raw["User Privacy & GDPR Rights Portals"]),
                hosts=hosts,
            )
        )
    return kept, skipped, starred


def _wildcard(raw: Mapping[str, str]) -> bool:
    flag = raw["Wildcard match"].strip()
    if flag not in ("0", "1"):
        raise ValueError(f"row {raw['ID']} has Wildcard match {flag!r}, not 0 or 1")
    return flag == "1"


def catalogue_json(
    rows: Sequence[Row], source: Mapping[str, str]
) -> tuple[str, dict[str, list[str]]]:
    """The text of ``cookies.json``, and the keys made from more than one spelling.

    One object: ``source`` (where the data comes from), then ``services`` and
    ``cookies``, each ``{"columns": [...], "rows": [[...], ...]}`` with one row
    per line, so that a new version of the database reads as a short diff.
    Services are sorted by key, cookies keep the database's order.
    """
    by_key: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_key[service_key(row.platform)].append(row)
    services = []
    merged = {}
    for key in sorted(by_key):
        group = by_key[key]
        spellings = Counter(row.platform for row in group)
        if len(spellings) > 1:
            merged[key] = list(spellings)
        hosts = dict.fromkeys(host for row in group for host in row.hosts)
        services.append(
            [key, _most_common(spellings), _most_common(Counter(r.provider for r in group)),
             _most_common(Counter(r.portal for r in group)), list(hosts)]
        )  # fmt: skip
    cookies = [
        [row.name, int(row.wildcard), service_key(row.platform), row.source_category,
         row.retention, row.domain, int(row.third_party), row.description]
        for row in rows
    ]  # fmt: skip
    text = (
        "{\n"
        f'"source":{_json(source)},\n'
        f'"services":{_table(COLUMNS["services"], services)},\n'
        f'"cookies":{_table(COLUMNS["cookies"], cookies)}\n'
        "}\n"
    )
    return text, merged


def _most_common(counts: Counter[str]) -> str:
    """The value most rows give, leaving out empty ones; the first of them on a tie."""
    del counts[""]
    return counts.most_common(1)[0][0] if counts else ""


def _table(columns: list[str], rows: Sequence[Sequence[object]]) -> str:
    body = ",\n".join(_json(row) for row in rows)
    return f'{{"columns":{_json(columns)},"rows":[\n{body}\n]}}'


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def source_facts(source_md: str) -> dict[str, str]:
    """Where the data comes from, as the database's ``SOURCE.md`` gives it."""
    repository = re.search(r"repository\s+`([\w.-]+/[\w.-]+)`", source_md)
    commit = re.search(r"commit\s+`([0-9a-f]{40})`", source_md)
    date = re.search(r"`[0-9a-f]{40}`\s*\((\d{4}-\d{2}-\d{2})\)", source_md)
    if not (repository and commit and date):
        raise ValueError("SOURCE.md does not name the repository, the commit and its date")
    return {
        "name": "Open Cookie Database",
        "url": f"https://github.com/{repository[1]}",
        "file": "open-cookie-database.csv",
        "commit": commit[1],
        "date": date[1],
        "license": "Apache-2.0",
    }


def notice(source: Mapping[str, str]) -> str:
    """The text of ``NOTICE``: where the data comes from, and what was changed in it."""
    return f"""\
consent: the bundled cookie catalogue

cookies.json is derived from the {source["name"]}
({source["url"]}),
file {source["file"]} at commit {source["commit"]}
({source["date"]}), licensed under the Apache License, Version 2.0: see LICENSE
in this folder.

scripts/build_catalogue.py made cookies.json from that file and changed it: it
trimmed every field, read a name ending in "*" as a prefix, left out the rows
whose name is not a cookie name or that name no platform, spelled retention
periods alike, turned the "(3rd party)" markers of the Domain column into a
flag, gave each platform a service key (merging platforms spelled two ways),
and left out the ID column.
"""


def build(source: Path) -> Build:
    """The files of ``consent/catalogue/data/`` made from the CSV at ``source``."""
    with source.open(encoding="utf-8", newline="") as file:
        raw_rows = list(csv.DictReader(file))
    facts = source_facts((source.parent / "SOURCE.md").read_text(encoding="utf-8"))
    rows, skipped, starred = clean_rows(raw_rows)
    text, merged = catalogue_json(rows, facts)
    files = {
        "cookies.json": text.encode(),
        "LICENSE": (source.parent / "LICENSE").read_bytes(),
        "NOTICE": notice(facts).encode(),
    }
    return Build(
        files=files, rows_read=len(raw_rows), skipped=skipped, starred=starred, merged=merged
    )


def report(result: Build) -> str:
    """What a run kept, left out and merged, for stderr."""
    kept = result.rows_read - len(result.skipped)
    lines = [f"{result.rows_read:,} rows read, {kept:,} kept, {len(result.skipped)} left out"]
    reasons: dict[str, list[str]] = defaultdict(list)
    for skipped in result.skipped:
        reasons[skipped.reason].append(skipped.name)
    for reason, names in reasons.items():
        lines.append(f"  {len(names)} {reason}: {', '.join(map(repr, names))}")
    if result.starred:
        listed = ", ".join(map(repr, result.starred))
        lines.append(f"  {len(result.starred)} names ending in '*' read as prefixes: {listed}")
    for key, spellings in result.merged.items():
        lines.append(
            f"  one service {key!r} for the platforms {' and '.join(map(repr, spellings))}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="open-cookie-database.csv"
    )
    args = parser.parse_args(argv)
    result = build(args.source)
    print(report(result), file=sys.stderr)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for name, content in result.files.items():
        (OUTPUT / name).write_bytes(content)
        print(f"  wrote {OUTPUT / name} ({len(content):,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
