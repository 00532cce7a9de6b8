"""Places, groups and regimes: the data, the checks on ``regimes`` keys, the geo headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from consent.regions import (
    COUNTRIES,
    EU_TERRITORIES,
    GROUPS,
    REGIMES,
    REGIMES_RECOMMENDED,
    SUBDIVISIONS,
    Regime,
    check_regime_key,
    is_subdivision,
    normalise_country,
    normalise_region,
    resolve,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "regimes.md"
ALL_SUBDIVISIONS = sorted(code for codes in SUBDIVISIONS.values() for code in codes)

# Header values as a hostile client or a broken proxy may send them.
HEADER_TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.text(
    st.sampled_from("aAfFrRsSuUcC-1 \t\x00\r\nßıſＦ"), max_size=8
)


# --- the data ---------------------------------------------------------------------------------


def test_regimes_are_the_three_models() -> None:
    assert REGIMES == ("opt-in", "opt-out", "none")


def test_countries_are_the_249_officially_assigned_codes() -> None:
    assert len(COUNTRIES) == 249
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in COUNTRIES)


@pytest.mark.parametrize(
    "code", ["FR", "DE", "GB", "US", "CA", "BR", "CH", "JP", "SS", "BQ", "CW", "SX", "AX", "PS"]
)
def test_an_assigned_code_is_a_country(code: str) -> None:
    assert code in COUNTRIES


@pytest.mark.parametrize(
    "code",
    [
        "XX",  # Cloudflare: unknown
        "T1",  # Cloudflare: Tor
        "EU",  # exceptionally reserved
        "UK",  # exceptionally reserved; the United Kingdom is GB
        "EL",  # the EU's code for Greece
        "XK",  # user-assigned, used for Kosovo
        "AN",  # Netherlands Antilles, deleted in 2010
        "YU",  # Yugoslavia, deleted in 2003
        "ZZ",
    ],
)
def test_a_code_that_is_not_assigned_is_not_a_country(code: str) -> None:
    assert code not in COUNTRIES


def test_the_eu_has_27_members_and_the_eea_adds_iceland_liechtenstein_and_norway() -> None:
    assert len(GROUPS["EU"]) == 27
    assert GROUPS["EEA"] - GROUPS["EU"] == {"IS", "LI", "NO"}
    assert GROUPS["EU"] <= GROUPS["EEA"]
    assert GROUPS["EEA"] <= COUNTRIES
    assert {"GB", "CH"}.isdisjoint(GROUPS["EEA"])
    assert list(GROUPS) == ["EU", "EEA"]


def test_eu_territories_belong_to_a_member_state_and_have_codes_of_their_own() -> None:
    assert set(EU_TERRITORIES) <= COUNTRIES
    assert set(EU_TERRITORIES).isdisjoint(GROUPS["EU"])
    assert set(EU_TERRITORIES.values()) <= GROUPS["EU"]
    assert {"BL", "NC", "PF", "GL", "FO"}.isdisjoint(EU_TERRITORIES)


def test_us_subdivisions_are_50_states_dc_and_6_outlying_areas() -> None:
    outlying = {"US-AS", "US-GU", "US-MP", "US-PR", "US-UM", "US-VI"}
    assert len(SUBDIVISIONS["US"]) == 57
    assert outlying | {"US-DC"} <= SUBDIVISIONS["US"]
    assert len(SUBDIVISIONS["US"] - outlying - {"US-DC"}) == 50


def test_canada_subdivisions_are_10_provinces_and_3_territories() -> None:
    assert len(SUBDIVISIONS["CA"]) == 13
    assert {"CA-QC", "CA-ON", "CA-NT", "CA-NU", "CA-YT"} <= SUBDIVISIONS["CA"]


def test_every_listed_subdivision_has_the_iso_3166_2_shape() -> None:
    for country, codes in SUBDIVISIONS.items():
        assert all(re.fullmatch(rf"{country}-[A-Z0-9]{{1,3}}", code) for code in codes)


# --- keys of regimes --------------------------------------------------------------------------


PLACES = ["*", "EU", "EEA", "FR", "GB", "US", "US-CA", "US-DC", "US-PR", "CA-QC", "CA-YT"]
PLACES_BY_SHAPE = ["GB-ENG", "FR-75C", "JP-13", "DE-BE", "ES-CN"]


@pytest.mark.parametrize("key", [*PLACES, *PLACES_BY_SHAPE])
def test_a_place_is_a_key(key: str) -> None:
    assert check_regime_key(key) is None


@given(st.sampled_from(sorted(COUNTRIES)))
def test_every_country_is_a_key(code: str) -> None:
    assert check_regime_key(code) is None


@given(st.sampled_from(ALL_SUBDIVISIONS))
def test_every_listed_subdivision_is_a_key(code: str) -> None:
    assert check_regime_key(code) is None


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("Eu", "'Eu' is written 'EU'"),
        ("eea", "'eea' is written 'EEA'"),
        ("EEA ", "'EEA ' is written 'EEA'"),
        ("fr", "'fr' is written 'FR'"),
        ("us-ca", "'us-ca' is written 'US-CA'"),
        ("US_CA", "'US_CA' is written 'US-CA'"),
        ("UK", "(the United Kingdom is 'GB'); use 'GB'"),
        ("uk", "use 'GB'"),
        ("UK-ENG", "use 'GB-ENG'"),
        ("EL", "use 'GR'"),
        ("XK", "Kosovo"),
        ("XX", "unknown country"),
        ("T1", "Tor"),
        ("ZZ", "'ZZ' is not an officially assigned ISO 3166-1 alpha-2 country code"),
        ("ZZ-01", "'ZZ-01' is a subdivision of an unknown country"),
        ("US-XY", "'US-XY' is not a US state, district or outlying area"),
        ("CA-QUE", "'CA-QUE' is not a Canadian province or territory"),
        ("FR-ABCD", "one to three letters or digits"),
        ("FR-", "one to three letters or digits"),
        ("", "use '*' for every place"),
        ("USA", "two-letter country code"),
        ("Europe", "a group ('EU', 'EEA')"),
        ("ＦＲ", "ASCII"),
        ("F\x00", "names no place"),
    ],
)
def test_a_mistake_is_named_in_words(key: str, says: str) -> None:
    message = check_regime_key(key)
    assert message is not None
    assert says in message


@given(st.text(max_size=60))
@example("x" * 10_000)
def test_any_other_text_is_refused_with_a_short_message_that_quotes_it(key: str) -> None:
    message = check_regime_key(key)
    if message is None:
        assert key == "*" or key in GROUPS or key in COUNTRIES or is_subdivision(key)
    else:
        shown = repr(key)
        assert message.startswith(shown if len(shown) <= 50 else shown[:49] + "…")
        assert len(message) < 200


# --- the geo headers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "country"),
    [
        ("FR", "FR"),
        ("fr", "FR"),
        ("Fr", "FR"),
        (" FR\t", "FR"),
        ("FR" + " " * 10_000, "FR"),
        ("", None),
        (" \t ", None),
        ("XX", None),
        ("T1", None),
        ("t1", None),
        ("**", None),  # Fastly's unknown country
        ("ZZ", None),
        ("UK", None),
        ("EU", None),
        ("XK", None),
        ("FRA", None),
        ("F", None),
        ("FR, DE", None),
        ("FR\r\n", None),
        ("F\x00", None),
        ("\x00FR", None),
        ("ß", None),  # "ß".upper() is "SS", South Sudan
        ("ıt", None),  # "ı".upper() is "I": this would be Italy
        ("ＦＲ", None),  # fullwidth letters
        ("F" * 100_000, None),
    ],
)
def test_country_header_values(value: str, country: str | None) -> None:
    assert normalise_country(value) == country


@given(HEADER_TEXT)
def test_a_country_header_gives_a_country_or_nothing(value: str) -> None:
    country = normalise_country(value)
    if country is not None:
        assert country in COUNTRIES
        assert value.strip(" \t").upper() == country
        assert value.isascii()


@pytest.mark.parametrize(
    ("country", "value", "region"),
    [
        ("US", "CA", "US-CA"),
        ("US", "ca", "US-CA"),
        ("US", " CA\t", "US-CA"),
        ("US", "US-CA", "US-CA"),
        ("US", "us-ca", "US-CA"),
        ("US", "DC", "US-DC"),
        ("US", "PR", "US-PR"),
        ("CA", "QC", "CA-QC"),
        ("GB", "ENG", "GB-ENG"),  # Fastly and Cloudflare send the most specific level
        ("JP", "13", "JP-13"),  # CloudFront's example
        ("US", "XY", None),
        ("US", "CA-QC", None),
        ("CA", "US-CA", None),
        ("CA", "CA", None),
        ("US", "", None),
        ("US", "CALI", None),
        ("US", "NO REGION", None),  # Fastly, for a country without subdivisions
        ("FR", "?", None),
        ("US", "ÇA", None),
        ("US", "C\x00", None),
        ("US", "CA\r\n", None),
        ("US", "C" * 100_000, None),
        (None, "CA", None),
        ("XX", "CA", None),
    ],
)
def test_region_header_values(country: str | None, value: str, region: str | None) -> None:
    assert normalise_region(country, value) == region


@given(st.sampled_from(["US", "CA", "FR", "GB"]), HEADER_TEXT)
def test_a_region_header_gives_a_subdivision_of_that_country_or_nothing(
    country: str, value: str
) -> None:
    region = normalise_region(country, value)
    if region is not None:
        assert region.startswith(f"{country}-")
        assert is_subdivision(region)
        assert check_regime_key(region) is None


# --- resolution -------------------------------------------------------------------------------


def test_a_subdivision_comes_before_its_country() -> None:
    regimes: dict[str, Regime] = {"US-CA": "opt-out", "US": "none", "*": "opt-in"}
    assert resolve(regimes, "opt-in", "US", "US-CA") == "opt-out"
    assert resolve(regimes, "opt-in", "US", "US-WY") == "none"
    assert resolve(regimes, "opt-in", "US", None) == "none"


def test_a_region_of_another_country_is_ignored() -> None:
    regimes: dict[str, Regime] = {"US-CA": "opt-out", "*": "none"}
    assert resolve(regimes, "opt-in", "FR", "US-CA") == "none"


def test_a_country_comes_before_its_group() -> None:
    regimes: dict[str, Regime] = {"FR": "none", "EU": "opt-in"}
    assert resolve(regimes, "opt-out", "FR", None) == "none"
    assert resolve(regimes, "opt-out", "DE", None) == "opt-in"


def test_the_eu_comes_before_the_eea() -> None:
    regimes: dict[str, Regime] = {"EEA": "opt-out", "EU": "opt-in", "*": "none"}
    assert resolve(regimes, "none", "FR", None) == "opt-in"
    assert resolve(regimes, "none", "NO", None) == "opt-out"


def test_a_group_comes_before_star() -> None:
    regimes: dict[str, Regime] = {"EEA": "opt-in", "*": "none"}
    assert resolve(regimes, "opt-out", "IS", None) == "opt-in"
    assert resolve(regimes, "opt-out", "CH", None) == "none"


def test_an_eu_territory_with_its_own_code_is_in_the_eu() -> None:
    regimes: dict[str, Regime] = {"EU": "opt-in", "*": "none"}
    assert resolve(regimes, "opt-out", "RE", None) == "opt-in"
    assert resolve(regimes, "opt-out", "AX", None) == "opt-in"
    assert resolve(regimes, "opt-out", "BL", None) == "none"


def test_star_is_every_known_country_not_listed() -> None:
    assert resolve({"FR": "opt-in", "*": "none"}, "opt-out", "JP", None) == "none"


def test_default_when_no_key_matches() -> None:
    assert resolve({"FR": "none"}, "opt-out", "JP", None) == "opt-out"


@pytest.mark.parametrize("country", [None, "XX", "T1", "UK", ""])
def test_default_when_the_country_is_unknown_whatever_star_says(country: str | None) -> None:
    assert resolve({"*": "none", "EU": "none"}, "opt-in", country, None) == "opt-in"


# --- the recommended regimes ------------------------------------------------------------------


@pytest.mark.parametrize("key", list(REGIMES_RECOMMENDED))
def test_every_recommended_key_is_a_key(key: str) -> None:
    assert check_regime_key(key) is None
    assert REGIMES_RECOMMENDED[key] in REGIMES


def test_the_recommended_us_states_are_those_with_a_comprehensive_law_by_2026() -> None:
    states = {key for key in REGIMES_RECOMMENDED if key.startswith("US-")}
    codes = ["CA", "VA", "CO", "CT", "UT", "TX", "OR", "MT", "IA", "DE", "NE", "NH", "NJ"]
    codes += ["TN", "MN", "MD", "IN", "KY", "RI"]
    assert states == {f"US-{code}" for code in codes}
    assert {REGIMES_RECOMMENDED[state] for state in states} == {"opt-out"}


@pytest.mark.parametrize(
    ("country", "region", "regime"),
    [
        ("DE", None, "opt-in"),
        ("NO", None, "opt-in"),
        ("RE", None, "opt-in"),
        ("GB", "GB-ENG", "opt-in"),
        ("CH", None, "opt-in"),
        ("BR", None, "opt-in"),
        ("CA", "CA-QC", "opt-in"),
        ("CA", "CA-ON", "opt-in"),
        ("US", "US-CA", "opt-out"),
        ("US", "US-WY", "opt-out"),
        ("US", None, "opt-out"),
        ("JP", None, "opt-in"),
        ("PR", None, "opt-in"),
    ],
)
def test_recommended_regimes_by_place(country: str, region: str | None, regime: Regime) -> None:
    assert resolve(REGIMES_RECOMMENDED, "opt-in", country, region) == regime


def test_the_documentation_lists_every_recommended_key() -> None:
    rows = re.findall(r"^\| `([^`]+)` \| ([a-z-]+) \|", DOCS.read_text(), flags=re.MULTILINE)
    assert dict(rows) == REGIMES_RECOMMENDED
