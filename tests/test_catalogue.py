"""The bundled cookie catalogue: its build from the Open Cookie Database, look-ups, services."""

from __future__ import annotations

import csv
import fnmatch
import importlib.util
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from consent import catalogue
from consent.catalogue.index import Catalogue, CookieInfo, load_catalogue
from consent.service import Service

ROOT = Path(__file__).parent.parent
DATA = ROOT / "consent" / "catalogue" / "data"


def _load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_catalogue", ROOT / "scripts" / "build_catalogue.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build_script = _load_build_script()


# The build


def test_committed_data_is_what_the_build_makes_from_the_csv() -> None:
    source = build_script.DEFAULT_SOURCE
    assert source.is_file(), f"the Open Cookie Database's CSV is missing at {source}"
    built: dict[str, bytes] = build_script.build(source).files
    committed = {path.name: path.read_bytes() for path in DATA.iterdir() if path.is_file()}
    assert sorted(committed) == sorted(built) == ["LICENSE", "NOTICE", "cookies.json"]
    for name, content in built.items():
        assert committed[name] == content, (
            f"consent/catalogue/data/{name} is stale: run scripts/build_catalogue.py"
        )


def test_the_build_gives_the_same_bytes_twice() -> None:
    first = build_script.build(build_script.DEFAULT_SOURCE).files
    second = build_script.build(build_script.DEFAULT_SOURCE).files
    assert first == second


def test_notice_names_the_database_its_commit_and_its_license() -> None:
    notice = (DATA / "NOTICE").read_text(encoding="utf-8")
    assert "Open Cookie Database" in notice
    assert "https://github.com/jkwakman/Open-Cookie-Database" in notice
    assert "0ee5a17fe1cb002943f89370d24fc26a4226061c" in notice
    assert "Apache License, Version 2.0" in (DATA / "LICENSE").read_text(encoding="utf-8")


COLUMNS = [
    "ID", "Platform", "Category", "Cookie / Data Key name", "Domain", "Description",
    "Retention period", "Data Controller", "User Privacy & GDPR Rights Portals", "Wildcard match",
]  # fmt: skip


def _row(name: str, platform: str = "Hotjar", **fields: str) -> dict[str, str]:
    row = {
        "ID": f"id-{name}-{platform}",
        "Platform": platform,
        "Category": "Analytics",
        "Cookie / Data Key name": name,
        "Domain": "",
        "Description": "A cookie.",
        "Retention period": "1 year",
        "Data Controller": "Hotjar Ltd.",
        "User Privacy & GDPR Rights Portals": "https://www.hotjar.com/privacy/",
        "Wildcard match": "0",
    }
    row.update(fields)
    return row


SYNTHETIC = [
    _row("ce_need_secure_cookie\t", Description="  Two\n spaces.  "),
    _row("crisp-client/"),
    _row("barometric[cuid]"),
    _row("Site History"),
    _row("XSRF-TOKEN", platform=""),
    _row("a_session", **{"Retention period": "session"}),
    _row("b_session", **{"Retention period": "Session"}),
    _row("c_session", **{"Retention period": "End of session (browser)"}),
    _row("one_year", **{"Retention period": "1 Year"}),
    _row("half_hour", **{"Retention period": "30 mins"}),
    _row("unknown_retention", **{"Retention period": "Unknown"}),
    _row("free_text", **{"Retention period": "13 months by default,  modifiable"}),
    _row(
        "tracked", platform="Hubspot", Domain=".bing.com (3rd party) or .microsoft.com (3rd party)"
    ),
    _row("first_party", platform="HubSpot", Domain="hubspot.com"),
    _row("hs_two", platform="HubSpot", Domain="ads-[account].adhese.com or id5-sync"),
    _row("rx", platform="1rx.io", Category="Marketing"),
    _row("personal", platform="Über Platform", Category="Personalization"),
    _row("functional", platform="Über Platform", Category="Functional"),
    _row("secure", platform="Über Platform", Category="Security"),
    _row("needed", platform="Über Platform", Category="Necessary"),
    _row("ad", platform="Über Platform", Category="Marketing"),
    _row("SSPR_*", platform="Adkernel"),
    _row("_hjSession_", **{"Wildcard match": "1"}),
    _row("no_portal", platform="Portal-less", **{"User Privacy & GDPR Rights Portals": "n/a"}),
]


def _write_database(folder: Path, rows: list[dict[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "open-cookie-database.csv"
    with source.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (folder / "LICENSE").write_text("Apache License\nVersion 2.0, January 2004\n")
    (folder / "SOURCE.md").write_text(
        "- Source: GitHub repository `jkwakman/Open-Cookie-Database`, file\n"
        f"  `open-cookie-database.csv` at commit `{'a' * 40}`\n  (2026-01-21).\n"
    )
    return source


@dataclass
class Synthetic:
    build: Any
    catalogue: Catalogue

    def entry(self, pattern: str) -> CookieInfo:
        found = self.catalogue.cookie(pattern)
        assert found is not None, pattern
        return found


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Synthetic:
    source = _write_database(tmp_path_factory.mktemp("ocd"), SYNTHETIC)
    built = build_script.build(source)
    return Synthetic(built, load_catalogue(built.files["cookies.json"].decode()))


def test_build_leaves_out_names_that_are_not_cookie_names_and_rows_without_platform(
    synthetic: Synthetic,
) -> None:
    left_out = [(skipped.name, skipped.reason) for skipped in synthetic.build.skipped]
    assert left_out == [
        ("crisp-client/", "not a cookie name"),
        ("barometric[cuid]", "not a cookie name"),
        ("Site History", "not a cookie name"),
        ("XSRF-TOKEN", "no platform"),
    ]
    report = build_script.report(synthetic.build)
    assert f"{len(SYNTHETIC)} rows read, {len(SYNTHETIC) - 4} kept, 4 left out" in report
    assert "3 not a cookie name: 'crisp-client/', 'barometric[cuid]', 'Site History'" in report


def test_build_trims_names_and_collapses_white_space(synthetic: Synthetic) -> None:
    entry = synthetic.entry("ce_need_secure_cookie")
    assert entry.description == "Two spaces."
    assert synthetic.catalogue.cookie("ce_need_secure_cookie\t") is None


@pytest.mark.parametrize(
    ("name", "retention"),
    [
        ("a_session", "Session"),
        ("b_session", "Session"),
        ("c_session", "Session"),
        ("one_year", "1 year"),
        ("half_hour", "30 minutes"),
        ("unknown_retention", ""),
        ("free_text", "13 months by default, modifiable"),
    ],
)
def test_build_spells_retention_periods_alike(
    synthetic: Synthetic, name: str, retention: str
) -> None:
    assert synthetic.entry(name).retention == retention


def test_build_turns_third_party_markers_into_a_flag(synthetic: Synthetic) -> None:
    tracked = synthetic.entry("tracked")
    assert (tracked.domain, tracked.third_party) == (".bing.com or .microsoft.com", True)
    first_party = synthetic.entry("first_party")
    assert (first_party.domain, first_party.third_party) == ("hubspot.com", False)


def test_build_keeps_only_host_names_as_hosts(synthetic: Synthetic) -> None:
    assert synthetic.catalogue.service("hubspot").hosts == (
        "bing.com",
        "microsoft.com",
        "hubspot.com",
    )
    assert synthetic.entry("hs_two").domain == "ads-[account].adhese.com or id5-sync"


@pytest.mark.parametrize(
    ("platform", "key"),
    [
        ("Google Analytics", "google-analytics"),
        ("Hotjar", "hotjar"),
        ("Shopify.com", "shopify-com"),
        ("1rx.io", "p-1rx-io"),
        ("33Across", "p-33across"),
        ("Über Platform", "uber-platform"),
        ("DoubleClick/Google Marketing", "doubleclick-google-marketing"),
        ("A" * 60, "a" * 48),
    ],
)
def test_service_key_is_a_slug_of_the_platform(platform: str, key: str) -> None:
    assert build_script.service_key(platform) == key


def test_build_makes_one_service_of_platforms_spelled_alike(synthetic: Synthetic) -> None:
    assert synthetic.build.merged == {"hubspot": ["Hubspot", "HubSpot"]}
    hubspot = synthetic.catalogue.service("hubspot")
    assert hubspot.name == "HubSpot"  # as two of its three rows spell it
    assert hubspot.cookies == ("tracked", "first_party", "hs_two")
    assert synthetic.entry("tracked").platform == "HubSpot"


def test_build_gives_platforms_that_start_with_a_digit_a_key(synthetic: Synthetic) -> None:
    assert synthetic.entry("rx").service == "p-1rx-io"
    assert synthetic.catalogue.service("p-1rx-io").name == "1rx.io"


@pytest.mark.parametrize(
    ("name", "source_category", "category"),
    [
        ("rx", "Marketing", "marketing"),
        ("one_year", "Analytics", "analytics"),
        ("functional", "Functional", "preferences"),
        ("personal", "Personalization", "preferences"),
        ("needed", "Necessary", "necessary"),
        ("secure", "Security", "necessary"),
    ],
)
def test_build_maps_the_database_categories_to_the_package_ones(
    synthetic: Synthetic, name: str, source_category: str, category: str
) -> None:
    entry = synthetic.entry(name)
    assert (entry.source_category, entry.category) == (source_category, category)


def test_build_reads_a_name_ending_in_a_star_as_a_prefix(synthetic: Synthetic) -> None:
    assert synthetic.build.starred == ["SSPR_*"]
    assert synthetic.catalogue.classify("SSPR_123") == synthetic.entry("SSPR_*")
    assert synthetic.catalogue.classify("_hjSession_9") == synthetic.entry("_hjSession_*")


def test_build_keeps_only_http_privacy_portals(synthetic: Synthetic) -> None:
    assert synthetic.catalogue.service("portal-less").privacy_policy_url == ""
    assert synthetic.catalogue.service("hotjar").privacy_policy_url == (
        "https://www.hotjar.com/privacy/"
    )


def test_build_refuses_a_category_it_cannot_map(tmp_path: Path) -> None:
    source = _write_database(tmp_path, [_row("x", Category="Statistics")])
    with pytest.raises(ValueError, match="'Statistics'"):
        build_script.build(source)


# Look-ups by cookie name


def _classified(name: str) -> tuple[str, str]:
    info = catalogue.classify(name)
    assert info is not None, name
    return info.service, info.name


def test_classify_finds_an_exact_name() -> None:
    info = catalogue.classify("_ga")
    assert info is not None
    assert (info.service, info.platform, info.category, info.source_category) == (
        "google-analytics",
        "Google Analytics",
        "analytics",
        "Analytics",
    )
    assert (info.retention, info.provider) == ("2 years", "Google")


def test_classify_finds_a_name_by_its_prefix() -> None:
    info = catalogue.classify("_hjSessionUser_1234567")
    assert info is not None
    assert (info.name, info.service, info.platform) == ("_hjSessionUser_*", "hotjar", "Hotjar")
    assert info.description


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("_gat_gtag_UA_12345_1", "_gat_gtag_*"),
        ("_gat_1", "_gat*"),
        ("_gac_gb_123", "_gac_gb_*"),
        ("_gac_UA_123", "_gac_*"),
        ("_pk_id.1.abcd", "_pk_id.*"),
        ("_pk_idx", "_pk_id*"),  # the "." of "_pk_id." is a character, not any character
        ("wp-settings-time-1", "wp-settings-time-*"),
        ("wp-settings-1", "wp-settings-*"),
    ],
)
def test_classify_prefers_the_longest_prefix(name: str, pattern: str) -> None:
    assert _classified(name)[1] == pattern


def test_classify_prefers_an_exact_name_to_a_prefix() -> None:
    assert catalogue.cookie("_s*") is not None
    assert _classified("_s")[1] == "_s"
    assert _classified("_sx")[1] == "_s*"


@pytest.mark.parametrize(
    "name", ["my_site_theme", "Ga", "_GA", "ga", "hotjar", "x" * 10_000, " _ga", "_ga\x00"]
)
def test_classify_misses_names_it_does_not_know(name: str) -> None:
    assert catalogue.classify(name) is None


def test_classify_of_an_empty_name_is_none() -> None:
    assert catalogue.classify("") is None
    assert catalogue.classify_all("") == ()


def test_classify_reads_a_long_name_by_its_prefix_only() -> None:
    assert _classified("_ga_" + "x" * 10_000) == ("google-analytics", "_ga_*")
    assert catalogue.classify("a" * 10_000) is None


@pytest.mark.parametrize("name", ["_ga_ü", "_ga_a b", "_ga_;", "_hjSession_\n", "__utm.*", "(?:x)"])
def test_classify_takes_names_with_odd_characters(name: str) -> None:
    assert catalogue.classify(name) is _reference(name)


def test_a_name_of_several_platforms_goes_to_the_one_with_most_entries() -> None:
    every = catalogue.classify_all("optout")
    assert [(info.service, info.name) for info in every] == [
        ("yahoo", "optout"),
        ("triplelift", "optout"),
    ]
    assert catalogue.classify("optout") is every[0]
    # Yahoo has more entries in the database; TripleLift's comes first in it.
    sizes = Counter(entry.service for entry in catalogue.catalogue().entries)
    assert sizes["yahoo"] > sizes["triplelift"]
    services_in_file_order = [entry.service for entry in catalogue.catalogue().entries]
    assert services_in_file_order.index("triplelift") < services_in_file_order.index("yahoo")


def test_classify_all_lists_exact_names_then_prefixes_longest_first() -> None:
    every = catalogue.classify_all("_sp_id.1a2b")
    assert [info.name for info in every] == ["_sp_id.*", "_s*"]
    assert [info.name for info in catalogue.classify_all("_s")] == ["_s", "_s*"]
    assert catalogue.classify_all("my_site_theme") == ()


def test_cookie_finds_a_declared_name_or_prefix_only() -> None:
    prefix = catalogue.cookie("_hjSessionUser_*")
    assert prefix is not None
    assert prefix.service == "hotjar"
    assert catalogue.cookie("_hjSessionUser_1") is None
    assert catalogue.cookie("_hjSessionUser_") is None
    exact = catalogue.cookie("VISITOR_INFO1_LIVE")
    assert exact is not None
    assert exact.retention == "179 days"


def test_cookie_of_a_service_picks_that_service_entry() -> None:
    xandr = catalogue.cookie("token", service="xandr")
    assert xandr is not None
    assert xandr.service == "xandr"
    assert catalogue.cookie("token") == catalogue.cookie("token", service="adform")
    assert catalogue.cookie("token", service="hotjar") is None


# The slow reference: fnmatch over every entry of the data file


@dataclass(frozen=True)
class _Raw:
    index: int
    pattern: str
    service: str


@cache
def _raw_entries() -> tuple[tuple[_Raw, ...], Counter[str]]:
    """The data file's entries, read straight from its JSON, with each service's number."""
    data = json.loads((DATA / "cookies.json").read_text(encoding="utf-8"))
    columns = data["cookies"]["columns"]
    raw = tuple(
        _Raw(index, row["name"] + ("*" if row["wildcard"] else ""), row["service"])
        for index, row in enumerate(
            dict(zip(columns, r, strict=True)) for r in data["cookies"]["rows"]
        )
    )
    return raw, Counter(entry.service for entry in raw)


def _reference(name: str, matching: list[_Raw] | None = None) -> CookieInfo | None:
    """What ``classify`` must return: the exact entry, else the longest prefix; then the
    service with the most entries; then the first in the file."""
    raw, sizes = _raw_entries()
    if matching is None:
        matching = [entry for entry in raw if fnmatch.fnmatchcase(name, entry.pattern)]
    if not matching:
        return None
    best = min(
        matching,
        key=lambda e: (e.pattern.endswith("*"), -len(e.pattern), -sizes[e.service], e.index),
    )
    return catalogue.catalogue().entries[best.index]


def test_the_entries_are_the_data_file_rows_in_order() -> None:
    raw, _ = _raw_entries()
    entries = catalogue.catalogue().entries
    assert [(e.name, e.service) for e in entries] == [(r.pattern, r.service) for r in raw]


def test_classify_agrees_with_fnmatch_on_every_name_of_the_database() -> None:
    raw, _ = _raw_entries()
    names: set[str] = set()
    for entry in raw:
        stem = entry.pattern.rstrip("*")
        names.update({entry.pattern, stem, stem + "x", stem[:-1]} - {""})
    # Every pattern starts with a plain character, so only names that start with it
    # can match: fnmatch is asked about those only.
    by_first: dict[str, list[str]] = {}
    for name in names:
        by_first.setdefault(name[0], []).append(name)
    matching: dict[str, list[_Raw]] = {name: [] for name in names}
    for entry in raw:
        for name in fnmatch.filter(by_first.get(entry.pattern[0], []), entry.pattern):
            matching[name].append(entry)
    wrong = [
        name
        for name in sorted(names)
        if catalogue.classify(name) is not _reference(name, matching[name])
    ]
    assert wrong == []


@cache
def _stems(prefixes_only: bool) -> list[str]:
    """The names and prefixes of the data file (or its prefixes only), without their ``*``."""
    raw, _ = _raw_entries()
    return sorted(
        {e.pattern.rstrip("*") for e in raw if e.pattern.endswith("*") or not prefixes_only}
    )


_TOKEN = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@st.composite
def _cookie_names(draw: st.DrawFn) -> str:
    # Prefixes half the time: where one prefix starts another, the longer must win.
    stem = draw(st.sampled_from(_stems(prefixes_only=draw(st.booleans()))))
    cut = draw(st.just(len(stem)) | st.integers(0, len(stem)))
    tail = draw(st.text(st.sampled_from(_TOKEN) | st.characters(), max_size=12))
    return stem[:cut] + tail


@given(st.one_of(_cookie_names(), st.text(_TOKEN, max_size=20), st.text(max_size=20)))
@example("_hjSessionUser_")
@example("_s")
@example("__Host-ERIC_PROD")
def test_classify_agrees_with_fnmatch_on_generated_names(name: str) -> None:
    assert catalogue.classify(name) is _reference(name)


# Services


def test_hotjar_service() -> None:
    hotjar = catalogue.service("hotjar")
    assert (hotjar.key, hotjar.name, hotjar.provider) == ("hotjar", "Hotjar", "Hotjar")
    assert {"_hjSessionUser_*", "_hjSession_*", "_hjid"} <= set(hotjar.cookies)
    assert hotjar.privacy_policy_url == "https://www.hotjar.com/legal/policies/privacy/"


def test_google_analytics_service() -> None:
    analytics = catalogue.service("google-analytics")
    assert (analytics.name, analytics.provider) == ("Google Analytics", "Google")
    assert {"_ga", "_ga_*", "_gid", "_gat_gtag_*"} <= set(analytics.cookies)
    assert analytics.hosts == ("google-analytics.com",)
    assert analytics.retention == ""  # its cookies last from 30 seconds to 2 years


def test_youtube_service() -> None:
    youtube = catalogue.service("youtube")
    assert {"VISITOR_INFO1_LIVE", "YSC", "PREF"} <= set(youtube.cookies)
    assert (youtube.provider, youtube.hosts) == ("Google", ("youtube.com",))


def test_facebook_service() -> None:
    facebook = catalogue.service("facebook")
    assert {"_fbp", "_fbc", "datr", "fr"} <= set(facebook.cookies)
    assert facebook.hosts == ("facebook.com",)
    assert facebook.privacy_policy_url.startswith("https://")


def test_a_service_has_a_retention_when_all_its_cookies_share_one() -> None:
    shared = [key for key in catalogue.services() if catalogue.service(key).retention]
    assert shared
    for key in catalogue.services():
        retentions = {
            entry.retention for entry in catalogue.catalogue().entries if entry.service == key
        }
        expected = retentions.pop() if len(retentions) == 1 else ""
        assert catalogue.service(key).retention == expected, key


def test_every_service_of_the_catalogue_is_a_valid_service() -> None:
    keys = catalogue.services()
    assert len(keys) > 300
    assert list(keys) == sorted(set(keys))
    for key in keys:
        service = catalogue.service(key)
        assert Service.model_validate(service.model_dump()) == service
        assert service.key == key
        assert service.cookies
        for pattern in service.cookies:
            declared = catalogue.cookie(pattern, service=key)
            assert declared is not None
            assert declared.service == key


def test_an_unknown_service_names_the_closest_keys() -> None:
    with pytest.raises(KeyError) as raised:
        catalogue.service("google-analytic")
    message = str(raised.value)
    assert message.startswith("no service 'google-analytic' in the cookie catalogue; did you mean")
    assert "'google-analytics'" in message


@pytest.mark.parametrize(
    ("platform", "key"), [("33Across", "p-33across"), ("GOOGLE ANALYTICS", "google-analytics")]
)
def test_an_unknown_service_spelled_as_a_platform_finds_its_key(platform: str, key: str) -> None:
    with pytest.raises(KeyError, match=f"did you mean .*'{key}'"):
        catalogue.service(platform)


def test_an_unknown_service_with_nothing_close_points_to_the_list() -> None:
    with pytest.raises(KeyError, match=r"consent\.catalogue\.services\(\) lists every key"):
        catalogue.service("qqqqqqqqqq")


@pytest.mark.parametrize(
    ("key", "category"),
    [
        ("google-analytics", "analytics"),
        ("facebook", "marketing"),
        ("hotjar", "preferences"),  # 16 of its 27 cookies are Functional
        ("youtube", "marketing"),  # 4 Marketing, 4 Functional: the stricter wins
        ("ruby-on-rails", "necessary"),
    ],
)
def test_category_of_is_the_category_most_cookies_have(key: str, category: str) -> None:
    assert catalogue.category_of(key) == category


def test_category_of_an_unknown_service_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="did you mean 'hotjar'"):
        catalogue.category_of("hotjr")


# Loading


def test_importing_consent_does_not_load_the_catalogue() -> None:
    code = (
        "import consent, consent.catalogue\n"
        "assert consent.catalogue.catalogue.cache_info().currsize == 0\n"
        "consent.catalogue.classify('_ga')\n"
        "assert consent.catalogue.catalogue.cache_info().currsize == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_catalogue_is_loaded_once() -> None:
    assert catalogue.catalogue() is catalogue.catalogue()
