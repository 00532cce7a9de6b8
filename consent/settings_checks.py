"""The checks of the declared categories, services and imports, run once at start-up.

Each failure is a ``ValueError`` whose message names the setting and the key, so
that a wrong configuration stops the application before it serves anything.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from .category import NECESSARY
from .globs import is_glob
from .imports import READERS

if TYPE_CHECKING:
    from .settings import ConsentSettings


def check_categories(settings: ConsentSettings) -> None:
    """Unique keys; a cookie pattern and a service belong to one category; services'
    keys differ from categories'."""
    seen_keys: dict[str, int] = {}
    for index, category in enumerate(settings.categories):
        if category.key == NECESSARY:
            raise ValueError(
                f"categories[{index}]: 'necessary' is built in and cannot be redefined; "
                "list its cookies in necessary_cookies"
            )
        if category.key in seen_keys:
            raise ValueError(
                f"categories[{index}]: duplicate category key {category.key!r} "
                f"(also categories[{seen_keys[category.key]}])"
            )
        seen_keys[category.key] = index

    services: dict[str, str] = {}
    for category in settings.categories:
        for service in category.services:
            if service.key in seen_keys:
                raise ValueError(
                    f"categories: service {service.key!r} of {category.key!r} has the key "
                    "of a category; a service key must differ from every category key"
                )
            if service.key in services:
                raise ValueError(
                    f"categories: service {service.key!r} is in both "
                    f"{services[service.key]!r} and {category.key!r}; it belongs to one"
                )
            services[service.key] = category.key
        claimed: dict[str, str] = {}
        for service in category.services:
            for pattern in set(service.cookies) - set(category.cookies):
                other = claimed.setdefault(pattern, service.key)
                if other != service.key:
                    raise ValueError(
                        f"categories: cookie pattern {pattern!r} is in both services "
                        f"{other!r} and {service.key!r}; list it in {category.key!r}'s "
                        "cookies if it serves them both"
                    )

    owners: dict[str, str] = {}
    declared = [(NECESSARY, p) for p in (settings.cookie_name, *settings.necessary_cookies)] + [
        (c.key, p) for c in settings.categories for p in c.all_cookies
    ]
    for key, pattern in declared:
        owner = owners.get(pattern)
        if owner is not None and owner != key:
            raise ValueError(
                f"categories: cookie pattern {pattern!r} is declared in both {owner!r} "
                f"and {key!r}; a cookie belongs to one category"
            )
        owners[pattern] = key
    # A literal name in one category caught by another category's glob is the same
    # mistake in disguise: the visitor's choice for one would decide the other.
    for key, pattern in declared:
        if is_glob(pattern):
            continue
        for other_key, other in declared:
            if other_key != key and is_glob(other) and fnmatchcase(pattern, other):
                raise ValueError(
                    f"categories: cookie {pattern!r} of {key!r} also matches pattern "
                    f"{other!r} of {other_key!r}; a cookie belongs to one category"
                )


IMPORTABLE = tuple(READERS)
"""The earlier consent managers' cookies ``import_cookies`` reads."""


def check_imports(settings: ConsentSettings) -> None:
    """Each imported cookie is one the package reads, and maps to a category or service."""
    targets = set(settings.category_keys) | set(settings.service_categories)
    for cookie, mapping in settings.import_cookies.items():
        if cookie not in IMPORTABLE:
            raise ValueError(
                f"import_cookies: {cookie!r} is not a cookie this package reads; "
                f"known: {', '.join(IMPORTABLE)}"
            )
        for old, new in mapping.items():
            if new not in targets:
                raise ValueError(
                    f"import_cookies.{cookie}: {old!r} maps to {new!r}, which is neither a "
                    f"category nor a service; known: {sorted(targets)}"
                )
