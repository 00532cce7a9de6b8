"""The cookie declaration: every category, its services and cookies, in each language.

``GET {prefix}/policy`` shows it as a page, ``GET {prefix}/policy.json`` gives the
same data for a site's own privacy page. What a cookie is for and how long it
lasts come from the site's settings first; where they are silent, from the
bundled catalogue (the Open Cookie Database), whose texts are in English.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from jinja2 import Environment

from . import catalogue
from .catalogue import CookieInfo
from .category import bundled_locales
from .globs import is_glob
from .service import Service
from .settings import ConsentSettings

Party = Literal["first", "third"]


@dataclass(frozen=True, slots=True)
class DeclaredCookie:
    """One row of the declaration."""

    name: str
    """The cookie's name, or a glob pattern of names (``_ga_*``)."""
    pattern: bool
    """Whether ``name`` is a pattern."""
    provider: str
    """Who receives what it holds; ``""``: the site itself."""
    purpose: str
    retention: str
    """How long it lasts, as a visitor reads it; ``""`` when unknown."""
    party: Party
    """``first``: set for the site's own domain; ``third``: by another site's."""


@dataclass(frozen=True, slots=True)
class DeclaredService:
    key: str
    name: str
    provider: str
    description: str
    privacy_policy_url: str
    hosts: tuple[str, ...]
    cookies: tuple[DeclaredCookie, ...]


@dataclass(frozen=True, slots=True)
class DeclaredCategory:
    key: str
    title: str
    description: str
    always_on: bool
    cookies: tuple[DeclaredCookie, ...]
    """The category's own cookies (its services' are under each service)."""
    services: tuple[DeclaredService, ...]


class Declaration:
    """The declaration of one site in one language: data, JSON and page."""

    def __init__(self, settings: ConsentSettings, locale: str, texts: dict[str, str]) -> None:
        self.locale = locale
        self._texts = texts
        locales = bundled_locales()
        necessary = DeclaredCategory(
            key="necessary",
            title=texts["necessary_title"],
            description=texts["necessary_description"],
            always_on=True,
            cookies=(
                DeclaredCookie(
                    name=settings.cookie_name,
                    pattern=False,
                    provider="",
                    purpose=texts["necessary_description"],
                    retention=texts["retention_consent"],
                    party="first",
                ),
                *(
                    self._cookie(p, texts["necessary_description"], "", "")
                    for p in settings.necessary_cookies
                ),
            ),
            services=(),
        )
        categories = [necessary]
        for category in settings.categories:
            bundled = locales.get(locale, {}).get("categories", {}).get(category.key, {})
            description = category.descriptions.get(locale, category.description)
            categories.append(
                DeclaredCategory(
                    key=category.key,
                    title=category.titles.get(locale, category.title),
                    description=description or bundled.get("description", ""),
                    always_on=False,
                    cookies=tuple(self._cookie(p, description, "", "") for p in category.cookies),
                    services=tuple(self._service(s, locale) for s in category.services),
                )
            )
        self.categories = tuple(categories)

    def _service(self, service: Service, locale: str) -> DeclaredService:
        description = service.descriptions.get(locale, service.description)
        return DeclaredService(
            key=service.key,
            name=service.names.get(locale, service.name),
            provider=service.provider,
            description=description,
            privacy_policy_url=service.privacy_policy_url,
            hosts=service.hosts,
            cookies=tuple(
                self._cookie(pattern, description, service.retention, service.provider, service)
                for pattern in service.cookies
            ),
        )

    def _cookie(
        self,
        pattern: str,
        purpose: str,
        retention: str,
        provider: str,
        service: Service | None = None,
    ) -> DeclaredCookie:
        """A row: the site's words first, then the catalogue's entry for that name."""
        known: CookieInfo | None = catalogue.cookie(pattern, service.key if service else None)
        if known is None and service is None:
            known = catalogue.cookie(pattern)
        party: Party = "first"
        if known is not None:
            # The catalogue speaks English: elsewhere the site's own words come first.
            if known.description and (self.locale.startswith("en") or not purpose):
                purpose = known.description
            retention = retention or known.retention
            provider = provider or known.provider
            party = "third" if known.third_party else "first"
        elif service is not None and service.hosts:
            party = "third"  # set where the service loads from, not on the site
        if retention.strip().lower() == "session":
            retention = self._texts["retention_session"]
        return DeclaredCookie(
            name=pattern,
            pattern=is_glob(pattern),
            provider=provider,
            purpose=purpose,
            retention=retention,
            party=party,
        )

    def as_json(self) -> bytes:
        """``GET {prefix}/policy.json``."""
        data: dict[str, Any] = {
            "locale": self.locale,
            "categories": [asdict(category) for category in self.categories],
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def page(self, environment: Environment, common: dict[str, Any]) -> bytes:
        """``GET {prefix}/policy``: the declaration as a page of its own."""
        template = environment.get_template("policy.html")
        return template.render({**common, "declaration": self}).encode("utf-8")


def cookie_declaration(settings: ConsentSettings, locale: str = "en") -> Declaration:
    """The site's cookie declaration in one bundled language (or one of ``settings.texts``),
    for a privacy page of its own: ``.categories``, each with its cookies and services."""
    bundled = bundled_locales()
    if locale not in bundled and locale not in settings.texts:
        raise ValueError(f"locale: {locale!r} is not one of {settings.available_locales}")
    texts = {**bundled.get(locale, {}).get("texts", {}), **settings.texts.get(locale, {})}
    return Declaration(settings, locale, texts)
