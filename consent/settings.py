"""Operator settings: what the site declares, read once at start-up.

Every field can come from keyword arguments, ``CONSENT_*`` environment
variables, a ``.env`` file, or a TOML file named by ``CONSENT_CONFIG``
(in that order of precedence). Anything wrong fails here, at start-up, with a
message that names the field, so that nothing about the operator's
configuration has to be checked on the request path.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .category import (
    LOCALES,
    MAX_CONSENT_DAYS,
    NECESSARY,
    Category,
    bundled_locales,
    default_categories,
)
from .names import COOKIE_NAME, GOOGLE_CONSENT_TYPES, cookie_patterns
from .regions import Regime, check_regime_key
from .settings_checks import check_categories, check_imports

__all__ = [
    "GOOGLE_CONSENT_TYPES",
    "LOCALES",
    "MAX_CONSENT_DAYS",
    "NECESSARY",
    "CacheMode",
    "Category",
    "ConsentSettings",
    "bundled_locales",
    "default_categories",
]


CacheMode = Literal["vary", "esi", "shared"]
"""How pages meet a shared cache: made per visitor, with ESI includes, or one for all."""


class ConsentSettings(BaseSettings):
    """Everything the middleware needs to know about the site, validated at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="CONSENT_",
        env_file=".env",
        env_file_encoding="utf-8",
        # A .env file is shared with the rest of the application: only its CONSENT_
        # lines are ours (a misspelt one still fails).
        dotenv_filtering="match_prefix",
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    secret_key: SecretStr = Field(min_length=32)
    """Signs the consent cookie. At least 32 characters; keep it secret."""
    old_secret_keys: tuple[SecretStr, ...] = ()
    """Earlier keys that still verify cookies (newest first), so a key can be rotated."""
    categories: tuple[Category, ...] = Field(default_factory=lambda: tuple(default_categories()))
    """The purposes the visitor chooses among; ``necessary`` is built in and always granted."""
    necessary_cookies: tuple[str, ...] = ()
    """The site's own strictly necessary cookies (glob patterns): session, CSRF, load balancer."""
    undeclared_cookies: Literal["block", "allow"] = "block"
    """What to do with a cookie no category declares: block it (default) or let it through."""
    policy_revision: int = Field(default=1, ge=1)
    """Raise it when the purposes change: every stored choice is asked again."""
    accept_days: int = Field(default=365, ge=1, le=MAX_CONSENT_DAYS)
    """How long a choice that grants something is kept (at most 395 days)."""
    reject_days: int = Field(default=182, ge=1, le=MAX_CONSENT_DAYS)
    """How long a refusal is kept, so the banner does not return at every visit."""
    cookie_name: str = "consent"
    """Name of the consent cookie itself."""
    cookie_domain: str | None = None
    """``Domain`` attribute of the consent cookie; ``None`` keeps it to the exact host."""
    cookie_secure: bool | None = None
    """``Secure`` attribute; ``None`` sets it whenever the request came over https."""
    path_prefix: str = "/_consent"
    """Where the middleware serves its own endpoints (decision, preferences, assets)."""
    privacy_policy_url: str | None = None
    """Link to the site's privacy or cookie policy, shown in the banner and preferences."""
    banner_position: Literal["bottom", "top"] = "bottom"
    """Where the banner shows on screen. In the document and the focus order it is
    always first, so that the keyboard and screen readers reach it before the page."""
    cache_mode: CacheMode = "vary"
    """How pages meet a shared cache (Varnish, a CDN): ``"vary"`` makes each visitor's
    page for them (``Vary: Cookie``); ``"esi"`` serves one page with ESI includes of the
    visitor's fragments; ``"shared"`` serves one page that the browser adapts."""
    locale: str | None = None
    """Show every visitor this language; None chooses from ``Accept-Language``."""
    default_locale: str = "en"
    """The language when ``Accept-Language`` names none that is available."""
    texts: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Replacements for any banner text, by locale: ``{"en": {"banner_title": "Cookies"}}``."""
    log_url: str | None = "sqlite:///consent-log.db"
    """Consent log database (``sqlite:///...``, ``postgresql+asyncpg://...``); None or "": off."""
    log_spool_path: Path | None = None
    """Where decisions wait while the log database is down; None: beside the SQLite file."""
    retention_days: int | None = Field(default=None, ge=1)
    """How long ``consent purge --retention-days`` keeps events; None: until purged by date."""
    log_ip: Literal["off", "truncated"] = "off"
    """Keep the visitor's IP in the log: off, or truncated to /24 (IPv4) and /48 (IPv6)."""
    geo_header: str | None = None
    """The request header your CDN or proxy sets to the visitor's ISO 3166-1 country
    (``cf-ipcountry``). None: the country is unknown. Read only when set: the proxy
    must overwrite it, or a visitor could choose their own law."""
    geo_region_header: str | None = None
    """The header with the visitor's ISO 3166-2 subdivision (``"CA"`` or ``"US-CA"``)."""
    regimes: dict[str, Regime] = Field(default_factory=dict)
    """The law by place, most specific first: subdivision (``"US-CA"``), country
    (``"FR"``), group (``"EU"``, ``"EEA"``), ``"*"``. ``REGIMES_RECOMMENDED`` is one."""
    default_regime: Regime = "opt-in"
    """The regime where the place is unknown (no header, empty, ``XX``, ``T1``)."""
    import_cookies: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Earlier consent managers' cookies to keep choices from, each key mapped to a
    category or service: ``{"cc_cookie": {"ads": "marketing"}, "klaro": {...}}``."""
    gpc_last_update: date = date(2026, 11, 25)
    """``lastUpdate`` of ``/.well-known/gpc.json``: when the site's GPC handling last changed."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: tuple[PydanticBaseSettingsSource, ...] = (
            init_settings,
            env_settings,
            dotenv_settings,
        )
        config_file = os.environ.get("CONSENT_CONFIG")
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise ValueError(f"CONSENT_CONFIG: no TOML file at {path}")
            sources += (TomlConfigSettingsSource(settings_cls, toml_file=path),)
        return sources

    @field_validator("cookie_name")
    @classmethod
    def _cookie_name_is_a_token(cls, name: str) -> str:
        if not COOKIE_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid cookie name")
        return name

    @field_validator("necessary_cookies")
    @classmethod
    def _necessary_patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        return cookie_patterns(patterns)

    @field_validator("path_prefix")
    @classmethod
    def _path_prefix_shape(cls, prefix: str) -> str:
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix):
            raise ValueError(
                f"{prefix!r} must start with '/', have no trailing '/' and only URL-safe characters"
            )
        return prefix

    @field_validator("privacy_policy_url")
    @classmethod
    def _privacy_url_is_web(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^(/(?!/)|https?://)", url):
            raise ValueError(f"{url!r} must be a site path ('/privacy') or an http(s) URL")
        return url

    @field_validator("geo_header", "geo_region_header")
    @classmethod
    def _header_name(cls, name: str | None) -> str | None:
        if name is None:
            return None
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
            raise ValueError(f"{name!r} is not an HTTP header name")
        return name.lower()

    @field_validator("regimes")
    @classmethod
    def _regime_keys(cls, regimes: dict[str, Regime]) -> dict[str, Regime]:
        for key in regimes:
            problem = check_regime_key(key)
            if problem is not None:
                raise ValueError(problem)  # the message names the key
        return regimes

    @model_validator(mode="after")
    def _regimes_need_a_place(self) -> ConsentSettings:
        if self.geo_region_header and not self.geo_header:
            raise ValueError("geo_region_header: needs geo_header (the country) too")
        return self

    @field_validator("log_url")
    @classmethod
    def _empty_log_url_is_none(cls, url: str | None) -> str | None:
        return url or None

    @model_validator(mode="after")
    def _locales_are_available(self) -> ConsentSettings:
        bundled = bundled_locales()
        keys = set(bundled["en"]["texts"])
        for locale, texts in self.texts.items():
            unknown = sorted(set(texts) - keys)
            if unknown:
                raise ValueError(f"texts.{locale}: unknown text key(s) {unknown}")
            if locale not in bundled and set(texts) != keys:
                missing = sorted(keys - set(texts))
                raise ValueError(
                    f"texts.{locale}: {locale!r} is not bundled, so every text is needed; "
                    f"missing {missing}"
                )
        available = set(bundled) | set(self.texts)
        for field in ("locale", "default_locale"):
            value = getattr(self, field)
            if value is not None and value not in available:
                raise ValueError(f"{field}: {value!r} is not one of {sorted(available)}")
        return self

    @property
    def available_locales(self) -> tuple[str, ...]:
        """Every language the banner can be shown in."""
        return tuple(sorted(set(bundled_locales()) | set(self.texts)))

    @field_validator("secret_key")
    @classmethod
    def _secret_not_blank(cls, key: SecretStr) -> SecretStr:
        if not key.get_secret_value().strip():
            raise ValueError("must not be blank")
        return key

    @model_validator(mode="after")
    def _categories_are_consistent(self) -> ConsentSettings:
        check_categories(self)
        check_imports(self)
        return self

    @property
    def category_keys(self) -> tuple[str, ...]:
        """Keys of the declared categories, in order, without ``necessary``."""
        return tuple(category.key for category in self.categories)

    @property
    def service_categories(self) -> dict[str, str]:
        """Every declared service's key, in order, to its category's."""
        return {s.key: c.key for c in self.categories for s in c.services}

    def cookie_owners(self) -> list[tuple[str, str]]:
        """``(owner, pattern)`` for every declared cookie pattern, in order of precedence.

        The owner is ``necessary``, a category, or a service: a service's cookie goes
        with that service (so that a visitor can allow it alone), unless its category
        declares the same pattern itself.
        """
        owners = [(NECESSARY, p) for p in (self.cookie_name, *self.necessary_cookies)]
        for category in self.categories:
            owners += [(category.key, pattern) for pattern in category.cookies]
            own = set(category.cookies)
            owners += [
                (service.key, pattern)
                for service in category.services
                for pattern in service.cookies
                if pattern not in own
            ]
        return owners

    @property
    def gpc_opt_out_keys(self) -> frozenset[str]:
        """Keys of the categories a ``Sec-GPC: 1`` signal opts out of."""
        return frozenset(category.key for category in self.categories if category.gpc_opt_out)
