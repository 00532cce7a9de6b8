"""What each language shows of the site's categories and services, and tells its script and log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .globs import js_regex_source
from .settings import Category, ConsentSettings

if TYPE_CHECKING:
    from .banner import LocalizedMarkup


@dataclass(frozen=True, slots=True)
class LocalizedService:
    """A service as one language shows it."""

    key: str
    name: str
    description: str
    provider: str
    privacy_policy_url: str


@dataclass(frozen=True, slots=True)
class LocalizedCategory:
    """A category as one language shows it."""

    key: str
    title: str
    description: str
    gpc_opt_out: bool
    services: tuple[LocalizedService, ...] = ()


def localize(category: Category, locale: str) -> LocalizedCategory:
    return LocalizedCategory(
        key=category.key,
        title=category.titles.get(locale, category.title),
        description=category.descriptions.get(locale, category.description),
        gpc_opt_out=category.gpc_opt_out,
        services=tuple(
            LocalizedService(
                key=service.key,
                name=service.names.get(locale, service.name),
                description=service.descriptions.get(locale, service.description),
                provider=service.provider,
                privacy_policy_url=service.privacy_policy_url,
            )
            for service in category.services
        ),
    )


def script_config(markup: LocalizedMarkup, settings: ConsentSettings) -> dict[str, Any]:
    """What consent.js needs: endpoints, cookie patterns, Consent Mode, a few texts.

    Cookie patterns go as JavaScript regular expression sources, one list per
    category or service, so that the page reads a glob exactly as the server does.
    """
    cookie_sources: dict[str, list[str]] = {c.key: [] for c in settings.categories}
    for owner, pattern in settings.cookie_owners():
        if owner != "necessary":
            cookie_sources.setdefault(owner, []).append(js_regex_source(pattern))
    return {
        "endpoint": settings.path_prefix,
        "preferences": f"{settings.path_prefix}/preferences",
        "stylesheet": markup.stylesheet_url,
        "locale": markup.locale,
        "dir": markup.dir,
        "cookies": cookie_sources,
        "google": {
            **{c.key: list(c.google_consent_types) for c in settings.categories},
            **{
                s.key: list(s.google_consent_types)
                for c in settings.categories
                for s in c.services
                if s.google_consent_types
            },
        },
        "titles": {
            **{c.key: c.title for c in markup.categories},
            **{s.key: s.name for c in markup.categories for s in c.services},
        },
        "services": settings.service_categories,
        "texts": {
            key: markup.texts[key]
            for key in ("blocked_content", "allow_category", "close", "dialog_label", "saved")
        },
    }


def notice(markup: LocalizedMarkup, settings: ConsentSettings) -> dict[str, Any]:
    """What the visitor is told, as a record for the consent log."""
    return {
        "locale": markup.locale,
        "texts": dict(markup.texts),
        "categories": [
            {
                "key": category.key,
                "title": category.title,
                "description": category.description,
                "cookies": list(source.cookies),
                "gpc_opt_out": category.gpc_opt_out,
                # Only where there are services: a site without them keeps its hash.
                **(
                    {
                        "services": [
                            service.model_dump(
                                include={"key", "name", "provider", "description", "cookies"}
                            )
                            for service in source.services
                        ]
                    }
                    if source.services
                    else {}
                ),
            }
            for category, source in zip(markup.categories, settings.categories, strict=True)
        ],
        "necessary_cookies": [settings.cookie_name, *settings.necessary_cookies],
        "policy_revision": settings.policy_revision,
    }
