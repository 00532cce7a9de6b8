"""Services: the third parties a category covers, each one a visitor can allow alone."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .names import GOOGLE_CONSENT_TYPES, cookie_patterns

ServiceKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,47}$")]

_HOST = re.compile(r"^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}$")


class Service(BaseModel):
    """A third party the site uses (YouTube, Hotjar), with the cookies it sets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: ServiceKey
    """Stable identifier: in the cookie, the log, forms and ``data-consent-service``."""
    name: str = Field(min_length=1, max_length=80)
    """Shown to the visitor, e.g. "YouTube"."""
    provider: str = Field(default="", max_length=200)
    """Who receives the data, e.g. "Google Ireland Ltd."."""
    description: str = Field(default="", max_length=1000)
    """What the service does with the visitor's data."""
    cookies: tuple[str, ...] = ()
    """Glob patterns on the names of the cookies it sets, e.g. ``"_hjSession_*"``."""
    hosts: tuple[str, ...] = ()
    """Hosts it loads from (``www.youtube-nocookie.com``, ``*.hotjar.com``): its cookies
    set there are third-party ones."""
    retention: str = Field(default="", max_length=100)
    """How long its cookies last, as the cookie declaration shows it ("2 years")."""
    privacy_policy_url: str = ""
    """The provider's privacy policy."""
    google_consent_types: tuple[str, ...] = ()
    """Consent Mode types this service needs, e.g. ``"analytics_storage"``."""
    names: dict[str, str] = Field(default_factory=dict)
    """``name`` in other languages, by locale."""
    descriptions: dict[str, str] = Field(default_factory=dict)
    """``description`` in other languages, by locale."""

    @field_validator("cookies")
    @classmethod
    def _cookie_patterns_are_names(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        return cookie_patterns(patterns)

    @field_validator("hosts")
    @classmethod
    def _hosts_are_hostnames(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for host in hosts:
            if not _HOST.match(host):
                raise ValueError(
                    f"{host!r} is not a host name (lower case, no scheme or path; "
                    "'*.example.com' for every subdomain)"
                )
        return hosts

    @field_validator("privacy_policy_url")
    @classmethod
    def _policy_is_web(cls, url: str) -> str:
        if url and not re.match(r"^https?://[^\s/]+", url):
            raise ValueError(f"{url!r} must be an http(s) URL")
        return url

    @field_validator("google_consent_types")
    @classmethod
    def _known_google_types(cls, types: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(types) - set(GOOGLE_CONSENT_TYPES))
        if unknown:
            raise ValueError(f"unknown Consent Mode type(s) {unknown}")
        return types


class ServiceGroups:
    """Which services each category holds: the services of granted categories, at once.

    Built once from ``settings.service_categories`` (service key → category key).
    """

    def __init__(self, service_categories: Mapping[str, str]) -> None:
        groups: dict[str, set[str]] = {}
        for service, category in service_categories.items():
            groups.setdefault(category, set()).add(service)
        self._groups = {category: frozenset(keys) for category, keys in groups.items()}

    def of(self, categories: Iterable[str]) -> frozenset[str]:
        """The services of these categories."""
        groups = self._groups
        if not groups:
            return frozenset()
        return frozenset().union(*(groups.get(key, ()) for key in categories))
