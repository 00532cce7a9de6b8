"""Categories: the purposes a visitor grants or refuses, and the ones a site gets by default."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .names import GOOGLE_CONSENT_TYPES, cookie_patterns
from .service import Service

LOCALES = Path(__file__).parent / "locales"

NECESSARY = "necessary"
"""The built-in category: always granted, cannot be refused."""

MAX_CONSENT_DAYS = 395
"""Upper bound of any stored choice: 13 months, under the browsers' 400-day cap."""

CategoryKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


class Category(BaseModel):
    """A purpose the visitor can grant or refuse, with the cookies it covers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: CategoryKey
    """Stable identifier: in the cookie, the log, forms and ``data-consent-category``."""
    title: str = Field(min_length=1, max_length=80)
    """Short name shown to the visitor, e.g. "Analytics"."""
    description: str = Field(default="", max_length=1000)
    """What the category does and who receives the data, shown to the visitor."""
    cookies: tuple[str, ...] = ()
    """Glob patterns (``*``, ``?``, ``[...]``) on cookie names, e.g. ``"_ga_*"``."""
    gpc_opt_out: bool = False
    """Denied when the browser sends ``Sec-GPC: 1``, unless the visitor chose it one by one."""
    google_consent_types: tuple[str, ...] = ()
    """Google Consent Mode types this category grants, e.g. ``"analytics_storage"``."""
    titles: dict[str, str] = Field(default_factory=dict)
    """``title`` in other languages, by locale: ``{"de": "Statistik"}``."""
    descriptions: dict[str, str] = Field(default_factory=dict)
    """``description`` in other languages, by locale."""
    services: tuple[Service, ...] = ()
    """The third parties this category covers, each one a visitor can allow alone: a
    ``Service``, or the name of one in the bundled catalogue (``"hotjar"``)."""

    @field_validator("services", mode="before")
    @classmethod
    def _catalogue_names(cls, services: Any) -> Any:
        if isinstance(services, str) or not isinstance(services, (list, tuple)):
            return services  # pydantic says what is wrong with it
        from . import catalogue  # loaded only by sites that name catalogue services

        found = []
        for service in services:
            if isinstance(service, str):
                try:
                    service = catalogue.service(service)
                except KeyError as error:
                    raise ValueError(error.args[0] if error.args else str(error)) from None
            found.append(service)
        return tuple(found)

    @property
    def all_cookies(self) -> tuple[str, ...]:
        """The category's cookie patterns: its own, then its services'."""
        own = set(self.cookies)
        extra = [p for service in self.services for p in service.cookies if p not in own]
        return self.cookies + tuple(dict.fromkeys(extra))

    @field_validator("cookies")
    @classmethod
    def _cookie_patterns_are_names(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        return cookie_patterns(patterns)

    @field_validator("google_consent_types")
    @classmethod
    def _known_google_types(cls, types: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(types) - set(GOOGLE_CONSENT_TYPES))
        if unknown:
            raise ValueError(
                f"unknown Consent Mode type(s) {unknown}; "
                f"known: {sorted(GOOGLE_CONSENT_TYPES)} (security_storage is always granted)"
            )
        return types


_DEFAULT_COOKIES: dict[str, tuple[str, ...]] = {
    "preferences": (),
    "analytics": ("_ga", "_ga_*", "_gid", "_pk_id.*", "_pk_ses.*"),
    "marketing": ("_fbp", "_gcl_au", "IDE"),
}


@cache
def bundled_locales() -> dict[str, dict[str, Any]]:
    """The texts shipped with the package, by locale (``en``, ``de``, ``ja``...)."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(LOCALES.glob("*.json"))
    }


LOCALE_ALIASES: dict[str, str] = {
    "zh": "zh-Hans",
    "zh-cn": "zh-Hans",
    "zh-sg": "zh-Hans",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-mo": "zh-Hant",
    "no": "nb",
    "nn": "nb",
    "iw": "he",
}
"""Language tags (lower case) that browsers send for a bundled locale known by another code.

Chinese goes by script: Simplified where it is written (and for a bare ``zh``),
Traditional in Taiwan, Hong Kong and Macao. Norwegian (``no``) and Nynorsk get
Bokmål, the written standard most Norwegians use; ``iw`` is Hebrew's withdrawn
code, still sent by older Java and Android systems.
"""

Direction = Literal["ltr", "rtl"]

# Languages written right to left, for a locale that a site adds with ``texts``.
_RIGHT_TO_LEFT = frozenset(
    {"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ps", "sd", "ug", "ur", "yi"}
)
_RIGHT_TO_LEFT_SCRIPTS = frozenset({"adlm", "arab", "hebr", "nkoo", "rohg", "syrc", "thaa"})


def text_direction(locale: str) -> Direction:
    """``"rtl"`` or ``"ltr"``: the bundled locale's ``dir``, else what its language tag says."""
    bundled = bundled_locales().get(locale)
    if bundled is not None:
        direction: Direction = bundled["dir"]
        return direction
    language, *subtags = locale.lower().split("-")
    script = next((s for s in subtags if len(s) == 4 and s.isalpha()), None)
    if script is not None:
        return "rtl" if script in _RIGHT_TO_LEFT_SCRIPTS else "ltr"
    return "rtl" if language in _RIGHT_TO_LEFT else "ltr"


def default_categories() -> list[Category]:
    """The categories a site gets when it declares none: the usual three, in every language."""
    locales = bundled_locales()
    return [
        Category(
            key=key,
            title=locales["en"]["categories"][key]["title"],
            description=locales["en"]["categories"][key]["description"],
            cookies=cookies,
            gpc_opt_out=key == "marketing",
            titles={code: data["categories"][key]["title"] for code, data in locales.items()},
            descriptions={
                code: data["categories"][key]["description"] for code, data in locales.items()
            },
        )
        for key, cookies in _DEFAULT_COOKIES.items()
    ]
