"""The readers of vanilla-cookieconsent's and Klaro's cookies (``consent.imports``).

The cookies in ``data/`` were written by the real libraries in Chromium, each with
what the library itself read from it (``tests/browser/test_real_managers.py``); the
other values here are written by hand, as a visitor could send them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.imports import ImportedChoice, read_cc_cookie, read_klaro
from tests.imports import npm

DATA = Path(__file__).parent / "data"
CASES = {"accept_all", "reject_all", "custom"}
Manager = Literal["cc_cookie", "klaro"]
Reader = Callable[[str], ImportedChoice | None]
READERS: dict[Manager, Reader] = {"cc_cookie": read_cc_cookie, "klaro": read_klaro}
LIBRARIES = {
    "cc_cookie": "{}@{}".format(*npm.COOKIECONSENT),
    "klaro": "{}@{}".format(*npm.KLARO),
}


def expected_choice(manager: Manager, expected: dict[str, Any]) -> ImportedChoice:
    """The ImportedChoice a data file's ``expected`` (the library's own reading) means."""
    decided_at = expected["decided_at"]
    return ImportedChoice(
        manager=manager,
        accepted=frozenset(expected["accepted"]),
        refused=frozenset(expected["refused"]),
        services=MappingProxyType(
            {category: frozenset(names) for category, names in expected["services"].items()}
        ),
        decided_at=None if decided_at is None else datetime.fromisoformat(decided_at),
        revision=expected["revision"],
        foreign_id=expected["foreign_id"],
    )


def captured(manager: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((DATA / f"{manager}.json").read_text())
    return entries


CAPTURED = [
    pytest.param(manager, entry, id=f"{manager}-{entry['case']}")
    for manager in READERS
    for entry in captured(manager)
]


def encode(content: object) -> str:
    """``encodeURIComponent(JSON.stringify(content))``, as both libraries write."""
    return quote(json.dumps(content, separators=(",", ":")), safe="!*'()")


CC_CONTENT: dict[str, Any] = {
    "categories": ["necessary", "analytics"],
    "revision": 0,
    "data": None,
    "consentTimestamp": "2024-03-01T09:00:00.000Z",
    "consentId": "0b7c4c9e-5a55-4c1b-9d8e-6a1f7b2c3d4e",
    "services": {"necessary": [], "analytics": ["ga"], "ads": []},
    "languageCode": "en",
    "lastConsentTimestamp": "2024-03-02T10:30:00.000Z",
    "expirationTime": 1725000000000,
}


def cc(**changes: Any) -> ImportedChoice | None:
    """Read a cc_cookie made of CC_CONTENT with some fields changed (``...`` removes one)."""
    content = {**CC_CONTENT, **changes}
    return read_cc_cookie(encode({k: v for k, v in content.items() if v is not ...}))


def cc_choice(**changes: Any) -> ImportedChoice:
    choice = cc(**changes)
    assert choice is not None
    return choice


# -- what the libraries wrote ------------------------------------------------------


@pytest.mark.parametrize("manager", READERS)
def test_data_has_every_case_from_the_pinned_library(manager: str) -> None:
    entries = captured(manager)
    assert {entry["case"] for entry in entries} == CASES
    assert {entry["library"] for entry in entries} == {LIBRARIES[manager]}
    assert {entry["cookie_name"] for entry in entries} == {manager}


@pytest.mark.parametrize(("manager", "entry"), CAPTURED)
def test_captured_cookie_reads_as_the_library_read_it(
    manager: Manager, entry: dict[str, Any]
) -> None:
    assert READERS[manager](entry["value"]) == expected_choice(manager, entry["expected"])


@pytest.mark.parametrize(("manager", "entry"), CAPTURED)
@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(lambda value: f'"{value}"', id="double-quoted"),
        pytest.param(unquote, id="not-encoded"),
        pytest.param(lambda value: f" {value}\t", id="padded"),
    ],
)
def test_captured_cookie_reads_the_same_however_sent(
    manager: Manager, entry: dict[str, Any], sent: Callable[[str], str]
) -> None:
    reader = READERS[manager]
    assert reader(sent(entry["value"])) == reader(entry["value"]) is not None


# -- values no reader takes for a choice --------------------------------------------


DEEP = "[" * 3000 + "]" * 3000
NOT_A_CHOICE = {
    "empty": "",
    "empty object": "{}",
    "encoded empty object": "%7B%7D",
    "list": "[]",
    "null": "null",
    "true": "true",
    "number": "1",
    "string": '"necessary"',
    "quotes only": '""',
    "one quote": '"',
    "not json": "necessary,analytics",
    "truncated json": '{"categories":["necessary"',
    "invalid utf-8 escape": "%FF",
    "truncated utf-8 escape": encode({"youtube": True})[:-3] + "%E2%82",
    "malformed escape": '{"youtube":true,"a%ZZ":true}',
    "lone percent": '{"youtube":true}%',
    "encoded surrogate": "%7B%22%ED%A0%80%22%3Atrue%7D",
    "nan": '{"youtube":true,"views":NaN}',
    "infinity": '{"youtube":true,"views":-Infinity}',
    "deep lists": DEEP,
    "deep objects": '{"a":' * 3000 + "1" + "}" * 3000,
    "5,000 characters": encode({"youtube": True, "pad": "x" * 5000}),
}


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
@pytest.mark.parametrize("value", NOT_A_CHOICE.values(), ids=NOT_A_CHOICE.keys())
def test_value_that_is_no_choice_reads_as_none(reader: Reader, value: str) -> None:
    assert reader(value) is None


def test_value_over_4096_characters_is_refused_before_parsing() -> None:
    def klaro_of_length(length: int) -> str:
        head = '{"youtube":true,"pad":"'
        return head + "x" * (length - len(head) - 2) + '"}'

    assert read_klaro(klaro_of_length(4096)) is not None
    assert read_klaro(klaro_of_length(4097)) is None


@pytest.mark.parametrize(("levels", "reads"), [(7, True), (8, False)])
def test_nesting_deeper_than_eight_is_refused(levels: int, reads: bool) -> None:
    data = "[" * levels + "]" * levels  # inside the cookie's own object: levels + 1 deep
    assert (cc(data=json.loads(data)) is not None) is reads


def test_nesting_after_an_escaped_character_still_counts() -> None:
    assert cc(data={"note": 'say "hi"\\', "deep": json.loads("[" * 8 + "]" * 8)}) is None


@pytest.mark.parametrize("text", ["[" * 9 + "{" * 9, '"' + "[" * 9, "\\" + "[" * 9])
def test_brackets_inside_strings_are_not_nesting(text: str) -> None:
    assert cc(data=text) is not None


# -- vanilla-cookieconsent ----------------------------------------------------------


def test_cc_reads_every_field() -> None:
    assert cc_choice() == ImportedChoice(
        manager="cc_cookie",
        accepted=frozenset({"necessary", "analytics"}),
        refused=frozenset({"ads"}),
        services={"necessary": frozenset(), "analytics": frozenset({"ga"}), "ads": frozenset()},
        decided_at=datetime(2024, 3, 2, 10, 30, tzinfo=UTC),
        revision=0,
        foreign_id="0b7c4c9e-5a55-4c1b-9d8e-6a1f7b2c3d4e",
    )


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"categories": "necessary,analytics"}, id="categories-a-string"),
        pytest.param({"categories": {"analytics": True}}, id="categories-an-object"),
        pytest.param({"categories": ...}, id="no-categories"),
        pytest.param({"categories": ["analytics"] * 65}, id="65-categories"),
        pytest.param({"consentId": ...}, id="no-consent-id"),
        pytest.param({"consentId": ""}, id="empty-consent-id"),
        pytest.param({"consentId": 42}, id="numeric-consent-id"),
        pytest.param({"consentTimestamp": ...}, id="no-consent-timestamp"),
        pytest.param({"lastConsentTimestamp": ""}, id="empty-last-consent-timestamp"),
    ],
)
def test_cc_cookie_the_library_would_not_honour_reads_as_none(changes: dict[str, Any]) -> None:
    assert cc(**changes) is None


def test_cc_version_2_cookie_reads_as_none() -> None:
    version_2 = {
        "categories": ["necessary", "analytics"],
        "level": ["necessary", "analytics"],
        "revision": 0,
        "data": None,
        "rfc_cookie": False,
        "consent_date": "2023-05-01T10:00:00.000Z",
        "consent_uuid": "0b7c4c9e-5a55-4c1b-9d8e-6a1f7b2c3d4e",
        "last_consent_update": "2023-05-01T10:00:00.000Z",
    }
    assert read_cc_cookie(json.dumps(version_2, separators=(",", ":"))) is None


def test_cc_keeps_only_sane_category_keys() -> None:
    categories = ["necessary", 1, None, True, {"a": 1}, ["b"], "", "x" * 65, "y" * 64, "a\x00b"]
    assert cc_choice(categories=categories).accepted == {"necessary", "y" * 64}


@pytest.mark.parametrize(
    ("services", "read", "refused"),
    [
        pytest.param(..., {}, set(), id="absent"),
        pytest.param(["ga"], {}, set(), id="a-list"),
        pytest.param({"analytics": "ga", "ads": []}, {"ads": set()}, {"ads"}, id="a-string-entry"),
        pytest.param(
            {"analytics": ["ga", 7, None]}, {"analytics": {"ga"}}, set(), id="not-strings"
        ),
        pytest.param({f"c{n}": [] for n in range(65)}, {}, set(), id="65-categories"),
        pytest.param({"analytics": ["s"] * 65}, {}, set(), id="65-services"),
    ],
)
def test_cc_services_that_cannot_be_read_are_left_out(
    services: Any, read: dict[str, set[str]], refused: set[str]
) -> None:
    choice = cc_choice(services=services)
    services = {category: set(names) for category, names in choice.services.items()}
    assert (services, set(choice.refused)) == (read, refused)


NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("last_consent", "decided_at"),
    [
        ("2024-03-02T10:30:00.000Z", datetime(2024, 3, 2, 10, 30, tzinfo=UTC)),
        ("2024-03-02T12:30:00+02:00", datetime(2024, 3, 2, 10, 30, tzinfo=UTC)),
        ("2000-01-01T00:00:00Z", datetime(2000, 1, 1, tzinfo=UTC)),
        ("1999-12-31T23:59:59.999Z", None),
        ((NOW + timedelta(days=1)).isoformat(), None),
        ("2024-03-02T10:30:00", None),  # no offset: whose ten thirty?
        ("0001-01-01T00:00:00+01:00", None),  # before year 1 in UTC
        ("+010000-01-01T00:00:00.000Z", None),  # how JavaScript writes year 10000
        ("yesterday", None),
        ("2024-13-45T99:99:99Z", None),
        ("2024-03-02T10:30:00.000Z" + " " * 40, None),
    ],
)
def test_cc_decided_at_is_the_last_consent_when_believable(
    last_consent: str, decided_at: datetime | None
) -> None:
    read = cc_choice(lastConsentTimestamp=last_consent).decided_at
    assert read == decided_at
    assert read is None or read.tzinfo is UTC


@pytest.mark.parametrize("garbage", ["garbage", "0", "2024-13-01T00:00:00Z"])
def test_cc_garbage_first_consent_time_still_reads(garbage: str) -> None:
    choice = cc_choice(consentTimestamp=garbage)
    assert choice.decided_at == datetime(2024, 3, 2, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("revision", "read"),
    [(0, 0), (7, 7), (2**31 - 1, 2**31 - 1), (2**31, None), (-1, None), (True, None),
     (1.0, None), ("2", None), (None, None), (..., None)],
)  # fmt: skip
def test_cc_revision_is_a_sane_whole_number(revision: object, read: int | None) -> None:
    assert cc_choice(revision=revision).revision == read


@pytest.mark.parametrize(
    ("consent_id", "foreign_id"),
    [
        ("0B7C4C9E-5A55-4C1B-9D8E-6A1F7B2C3D4E", "0b7c4c9e-5a55-4c1b-9d8e-6a1f7b2c3d4e"),
        ("0b7c4c9e5a554c1b9d8e6a1f7b2c3d4e", None),
        ("{0b7c4c9e-5a55-4c1b-9d8e-6a1f7b2c3d4e}", None),
        ("0b7c4c9e-5a55-4c1b-9d8e-6a1f7b2c3d4e\n", None),
        ("not-a-uuid", None),
    ],
)
def test_cc_foreign_id_only_when_a_uuid(consent_id: str, foreign_id: str | None) -> None:
    assert cc_choice(consentId=consent_id).foreign_id == foreign_id


# -- Klaro ---------------------------------------------------------------------------


def test_klaro_reads_booleans_only() -> None:
    consents = {"ga": True, "yt": False, "one": 1, "zero": 0, "str": "true", "nil": None}
    assert read_klaro(encode(consents)) == ImportedChoice(
        manager="klaro",
        accepted=frozenset({"ga"}),
        refused=frozenset({"yt"}),
        services={},
        decided_at=None,
        revision=None,
        foreign_id=None,
    )


def test_klaro_numbers_as_keys_are_keys() -> None:
    choice = read_klaro('{"1":true,"2":false}')
    assert choice is not None
    assert (set(choice.accepted), set(choice.refused)) == ({"1"}, {"2"})


def test_klaro_ignores_keys_that_are_not_sane() -> None:
    choice = read_klaro(encode({"x" * 65: True, "": True, "a\nb": True, "y" * 64: False}))
    assert choice is not None
    assert (set(choice.accepted), set(choice.refused)) == (set(), {"y" * 64})


@pytest.mark.parametrize(
    "consents",
    [
        pytest.param({"a": 1, "b": "false", "c": None}, id="no-booleans"),
        pytest.param({f"s{n}": True for n in range(65)}, id="65-services"),
    ],
)
def test_klaro_without_readable_consents_reads_as_none(consents: dict[str, Any]) -> None:
    assert read_klaro(encode(consents)) is None


def test_klaro_64_services_read() -> None:
    choice = read_klaro(encode({f"s{n}": True for n in range(64)}))
    assert choice is not None
    assert len(choice.accepted) == 64


# -- any value at all ----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
times = st.datetimes(datetime(1990, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC))
keys = st.sampled_from(["necessary", "analytics", "ads", "ga"]) | st.text(max_size=70)
cc_cookies = st.fixed_dictionaries(
    {
        "categories": st.lists(keys | json_values, max_size=70),
        "consentId": st.uuids().map(str),
        "consentTimestamp": times.map(datetime.isoformat),
        "lastConsentTimestamp": times.map(datetime.isoformat) | json_values,
    },
    optional={
        "services": st.dictionaries(keys, st.lists(keys | json_values)) | json_values,
        "revision": st.integers() | json_values,
        "data": json_values,
    },
)
klaro_cookies = st.dictionaries(keys, st.booleans() | json_values, max_size=70)
cookie_contents = cc_cookies | klaro_cookies | json_values
visitor_values = (
    st.text()
    | cookie_contents.map(json.dumps)
    | cookie_contents.map(encode)
    | cookie_contents.map(lambda content: f'"{encode(content)}"')
)


@given(visitor_values)
def test_any_value_reads_as_none_or_a_sound_choice(value: str) -> None:
    for reader in READERS.values():
        choice = reader(value)
        if choice is None:
            continue
        assert isinstance(choice, ImportedChoice)
        assert not choice.accepted & choice.refused
        keys = choice.accepted | choice.refused | set(choice.services)
        assert all(isinstance(key, str) and 0 < len(key) <= 64 for key in keys)
        assert choice.decided_at is None or choice.decided_at.tzinfo is UTC
