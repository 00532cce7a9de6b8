"""What cookie names and Consent Mode types may be: shared by categories and services."""

from __future__ import annotations

import re

GOOGLE_CONSENT_TYPES = (
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
)
"""The Consent Mode v2 types a category may grant (``security_storage`` is always granted)."""

# RFC 6265 token characters: what a cookie name may be made of.
COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Cookie-name patterns: the same characters, plus the glob wildcards.
_COOKIE_PATTERN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z?\[\]]+$")


def cookie_patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """``patterns``, checked: each a cookie name or a glob of one (``ValueError`` else)."""
    for pattern in patterns:
        if not _COOKIE_PATTERN.match(pattern):
            raise ValueError(f"{pattern!r} is not a cookie name or glob pattern")
    return patterns
