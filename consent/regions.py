"""Places and the law that applies there: codes, groups, and which regime a visitor gets.

A regime is the consent model a visitor is shown (``docs/regimes.md``):
``opt-in`` (nothing non-essential until the visitor agrees), ``opt-out``
(granted until the visitor opts out; Global Privacy Control opts out) or
``none`` (no banner; GPC still honoured). The keys of ``regimes`` name places:
``"*"``, a group (``"EU"``, ``"EEA"``), an ISO 3166-1 alpha-2 country
(``"FR"``) or an ISO 3166-2 subdivision (``"US-CA"``).

The country list is the ISO 3166 Maintenance Agency's list of officially
assigned alpha-2 codes (ISO Online Browsing Platform, https://www.iso.org/obp/ui/;
the same 249 codes as Debian's ``iso-codes`` 4.15 ``iso_3166-1.json``), unchanged
since South Sudan (``SS``) was added in 2011. Reserved codes (``UK``, ``EU``,
``EL``...) and user-assigned ones (``XK``, ``XX``, ``T1``) are not countries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from .log.events import REGIMES, Regime

__all__ = [
    "COUNTRIES",
    "EU_TERRITORIES",
    "GROUPS",
    "REGIMES",
    "REGIMES_RECOMMENDED",
    "SUBDIVISIONS",
    "Regime",
    "check_regime_key",
    "is_subdivision",
    "normalise_country",
    "normalise_region",
    "resolve",
]


def _codes(text: str, prefix: str = "") -> frozenset[str]:
    return frozenset(prefix + code for code in text.split())


COUNTRIES: Final[frozenset[str]] = _codes(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """
)
"""Every officially assigned ISO 3166-1 alpha-2 code (249)."""

_EU: Final = _codes(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
)
GROUPS: Final[dict[str, frozenset[str]]] = {
    "EU": _EU,
    "EEA": _EU | {"IS", "LI", "NO"},
}
"""The groups a ``regimes`` key may name, each by its members' country codes.

In the order :func:`resolve` tries them: the EU (27 member states), then the
European Economic Area (the EU, Iceland, Liechtenstein and Norway).
"""

EU_TERRITORIES: Final[dict[str, str]] = {
    "AX": "FI",  # Åland Islands
    "GF": "FR",  # French Guiana
    "GP": "FR",  # Guadeloupe
    "MF": "FR",  # Saint Martin (French part)
    "MQ": "FR",  # Martinique
    "RE": "FR",  # Réunion
    "YT": "FR",  # Mayotte
}
"""Places with a country code of their own that are part of a member state and inside the EU.

The outermost regions (TFEU Art. 349) and Åland: EU law, ePrivacy included,
applies there, so :func:`resolve` counts them in ``EU`` and ``EEA``. Overseas
countries and territories outside the EU (``BL``, ``NC``, ``PF``, ``GL``...)
are not listed. The Azores, Madeira and the Canary Islands have no code of
their own: a CDN reports them as ``PT`` or ``ES``.
"""

SUBDIVISIONS: Final[dict[str, frozenset[str]]] = {
    "US": _codes(
        """
        AK AL AR AZ CA CO CT DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE
        NH NJ NM NV NY OH OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY DC AS GU MP PR UM VI
        """,
        prefix="US-",
    ),
    "CA": _codes("AB BC MB NB NL NS ON PE QC SK NT NU YT", prefix="CA-"),
}
"""ISO 3166-2 codes, for the countries whose subdivisions are checked one by one.

``US``: the 50 states, the District of Columbia and the six outlying areas
(AS, GU, MP, PR, UM, VI). ``CA``: the 10 provinces and 3 territories. Other
countries' subdivisions are accepted by their shape: the country code, ``-``,
and one to three letters or digits.
"""

_SUBDIVISION_SHAPE: Final = re.compile(r"([A-Z]{2})-([A-Z0-9]{1,3})")
_PLACES_IN_WORDS: Final = {
    "US": "US state, district or outlying area",
    "CA": "Canadian province or territory",
}
_NOT_ASSIGNED: Final[dict[str, tuple[str, str | None]]] = {
    "UK": ("the United Kingdom is 'GB'", "GB"),
    "EL": ("Greece is 'GR'; the EU writes 'EL'", "GR"),
    "XK": ("a user-assigned code for Kosovo; visitors reported so get default_regime", None),
    "XX": ("Cloudflare's code for an unknown country; those visitors get default_regime", None),
    "T1": ("Cloudflare's code for Tor; those visitors get default_regime", None),
}


def is_subdivision(code: str) -> bool:
    """Whether ``code`` is an ISO 3166-2 code this module accepts (``"US-CA"``, ``"FR-75C"``)."""
    shape = _SUBDIVISION_SHAPE.fullmatch(code)
    if shape is None or shape.group(1) not in COUNTRIES:
        return False
    known = SUBDIVISIONS.get(shape.group(1))
    return known is None or code in known


def check_regime_key(key: str) -> str | None:
    """None when ``key`` may be a key of ``regimes``; else what is wrong with it, in words."""
    if key == "*" or key in GROUPS or key in COUNTRIES or is_subdivision(key):
        return None
    shown = repr(key)
    if len(shown) > 50:
        shown = shown[:49] + "…"
    if not key.strip():
        return f"{shown} is not a place: use '*' for every place not listed"
    if not key.isascii():
        return f"{shown} names no place: keys are written in ASCII letters, digits, '-' and '*'"
    canonical = re.sub(r"[\s_]+", "-", key.strip()).upper()
    if canonical != key and check_regime_key(canonical) is None:
        return f"{shown} is written {canonical!r}: keys are upper case, without spaces"
    country, _, rest = canonical.partition("-")
    if country in _NOT_ASSIGNED:
        why, replacement = _NOT_ASSIGNED[country]
        use = "" if replacement is None else f"; use {replacement + canonical[2:]!r}"
        return f"{shown} is not an ISO 3166-1 country code ({why}){use}"
    if _SUBDIVISION_SHAPE.fullmatch(canonical):
        if country not in COUNTRIES:
            return f"{shown} is a subdivision of an unknown country: {country!r} is no country code"
        return f"{shown} is not a {_PLACES_IN_WORDS[country]} (ISO 3166-2:{country})"
    if rest or "-" in canonical:
        return (
            f"{shown} is not a subdivision code: an ISO 3166-2 code is a country code, '-', "
            "and one to three letters or digits (such as 'US-CA')"
        )
    if len(country) == 2 and country.isalpha():
        return f"{shown} is not an officially assigned ISO 3166-1 alpha-2 country code"
    return (
        f"{shown} names no place: use '*', a group ('EU', 'EEA'), a two-letter country code "
        "('FR') or a subdivision ('US-CA')"
    )


def normalise_country(value: str) -> str | None:
    """The country a CDN's country header names, or None when it names none.

    Trims spaces and tabs and upper-cases ASCII letters. Empty values, ``XX``
    (unknown), ``T1`` (Tor), ``**`` and every code that is not an officially
    assigned ISO 3166-1 alpha-2 code give None.
    """
    code = value.strip(" \t")
    # Checked before upper(): "ß".upper() is "SS" and "ı".upper() is "I".
    if len(code) != 2 or not code.isascii():
        return None
    code = code.upper()
    return code if code in COUNTRIES else None


def normalise_region(country: str | None, value: str) -> str | None:
    """The subdivision a CDN's region header names, as ``"US-CA"``, or None.

    ``value`` is the subdivision part (``"CA"``, as Cloudflare, CloudFront,
    Vercel and Fastly send it) or the whole code (``"US-CA"``). None when the
    country is unknown, the value names no subdivision of it, or names another
    country's.
    """
    if country is None or country not in COUNTRIES:
        return None
    part = value.strip(" \t")
    if not part or len(part) > 6 or not part.isascii():
        return None
    part = part.upper()
    code = part if part.startswith(f"{country}-") else f"{country}-{part}"
    return code if is_subdivision(code) else None


def resolve(
    regimes: Mapping[str, Regime], default: Regime, country: str | None, region: str | None
) -> Regime:
    """The regime of a visitor in ``country`` (and ``region``): the most specific key wins.

    The subdivision, then the country, then the groups (``EU`` before ``EEA``),
    then ``"*"``, then ``default``. An unknown country (None, or not a country
    code) gets ``default`` whatever ``"*"`` says.
    """
    if country is None or country not in COUNTRIES:
        return default
    if region is not None and region.startswith(f"{country}-") and region in regimes:
        return regimes[region]
    if country in regimes:
        return regimes[country]
    member = EU_TERRITORIES.get(country, country)
    for group, members in GROUPS.items():
        if group in regimes and member in members:
            return regimes[group]
    return regimes.get("*", default)


REGIMES_RECOMMENDED: Final[dict[str, Regime]] = {
    # Consent before non-essential cookies (docs/regimes.md names each law).
    "EEA": "opt-in",  # ePrivacy Directive 2002/58/EC Art. 5(3)
    "GB": "opt-in",  # PECR 2003 reg. 6, as amended by the Data (Use and Access) Act 2025
    "CH": "opt-in",  # TCA Art. 45c asks only for an opt-out; treated like the EU
    "BR": "opt-in",  # LGPD; ANPD cookie guide (2022)
    "CA-QC": "opt-in",  # Act respecting the protection of personal information, s. 8.1
    # US states with a comprehensive privacy law in force by 2026: opt out of sale,
    # sharing and targeted advertising.
    "US-CA": "opt-out",  # CCPA as amended by the CPRA
    "US-VA": "opt-out",
    "US-CO": "opt-out",
    "US-CT": "opt-out",
    "US-UT": "opt-out",
    "US-TX": "opt-out",
    "US-OR": "opt-out",
    "US-MT": "opt-out",
    "US-IA": "opt-out",
    "US-DE": "opt-out",
    "US-NE": "opt-out",
    "US-NH": "opt-out",
    "US-NJ": "opt-out",
    "US-TN": "opt-out",
    "US-MN": "opt-out",
    "US-MD": "opt-out",
    "US-IN": "opt-out",
    "US-KY": "opt-out",
    "US-RI": "opt-out",
    # The rest of the US as well: one experience nationwide, and GPC honoured everywhere,
    # so that a new state law or a visitor placed in the wrong state changes nothing.
    "US": "opt-out",
    # Everywhere else: consent first. It satisfies the strictest law a visitor may be
    # under, where the country is known but no law of it is listed here.
    "*": "opt-in",
}
"""Regimes a site may pass as ``regimes``: every key, its law and its source in ``docs/regimes.md``.

Not legal advice: the site's counsel must check it for the site.
"""
