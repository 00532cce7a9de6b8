"""Banner, "Cookie settings" control and preferences page markup.

Templates are rendered once, at start-up, with a placeholder where the
per-request ``next`` URL goes; a request only joins pre-encoded byte strings.
Snippets are encoded as ASCII with character references, so they are right in
any ASCII-compatible page encoding.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .settings import ConsentSettings

TEMPLATES = Path(__file__).parent / "templates"

_NEXT = "\x00next\x00"
_NEXT_QUERY = "\x00next-query\x00"

ENGLISH: Mapping[str, str] = {
    "banner_label": "Cookie consent",
    "banner_title": "We care about your data",
    "banner_text": (
        "With your consent, we would like to use cookies and similar technologies for the "
        "purposes below. Nothing beyond what the site needs to work is used unless you accept, "
        "and you can change your mind at any time under “Cookie settings”."
    ),
    "purposes": "Purposes",
    "privacy_policy": "Privacy policy",
    "accept_all": "Accept all",
    "reject_all": "Reject all",
    "customise": "Choose cookies",
    "save": "Save my choices",
    "cookie_settings": "Cookie settings",
    "preferences_title": "Cookie settings",
    "preferences_intro": (
        "Choose which cookies this site may use. Optional categories stay off "
        "until you switch them on, and you can change your choice at any time."
    ),
    "categories_legend": "Categories",
    "necessary_title": "Strictly necessary",
    "necessary_description": (
        "Needed for the site to work and to remember your cookie choice. Always on."
    ),
    "always_on": "always on",
    "gpc_honoured": (
        "Opt-out request honored: your browser sent a Global Privacy Control signal, so "
        "the categories it covers stay off unless you switch them on yourself."
    ),
    "gpc_category_off": "Off because of your Global Privacy Control signal, unless you tick it.",
    "back": "Back to the site",
}


@dataclass(frozen=True, slots=True)
class Snippet:
    """Pre-rendered markup with holes for the request's ``next`` URL."""

    parts: tuple[bytes | int, ...]
    """Byte strings, and 0 (``next`` escaped for an attribute) or 1 (``next`` as a query value)."""

    def render(self, next_url: str) -> bytes:
        """The markup for one request."""
        fills = (
            html.escape(next_url).encode("ascii", "xmlcharrefreplace"),
            quote(next_url, safe="/").encode("ascii"),
        )
        return b"".join(fills[part] if isinstance(part, int) else part for part in self.parts)


def _snippet(markup: str) -> Snippet:
    """Cut rendered markup at the placeholders."""
    parts: list[bytes | int] = []
    rest = markup
    while True:
        cuts = [(rest.find(marker), hole) for hole, marker in enumerate((_NEXT, _NEXT_QUERY))]
        found = [(index, hole) for index, hole in cuts if index >= 0]
        if not found:
            parts.append(rest.encode("ascii", "xmlcharrefreplace"))
            return Snippet(tuple(part for part in parts if part != b""))
        index, hole = min(found)
        parts.append(rest[:index].encode("ascii", "xmlcharrefreplace"))
        parts.append(hole)
        rest = rest[index + len((_NEXT, _NEXT_QUERY)[hole]) :]


class BannerMarkup:
    """Everything the middleware shows, rendered once from the settings."""

    def __init__(self, settings: ConsentSettings, stylesheet_url: str) -> None:
        self._environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=False,
        )
        self.locale = "en"
        self.texts = dict(ENGLISH)
        self._settings = settings
        self._common: dict[str, Any] = {
            "texts": self.texts,
            "locale": self.locale,
            "categories": settings.categories,
            "privacy_policy_url": settings.privacy_policy_url,
            "action_url": settings.path_prefix,
            "preferences_url": f"{settings.path_prefix}/preferences",
            "stylesheet_url": stylesheet_url,
            "next": _NEXT,
            "next_query": _NEXT_QUERY,
        }
        link = f'<link rel="stylesheet" href="{html.escape(stylesheet_url)}">'
        self.banner = _snippet(link + self._render("banner.html", gpc=False))
        self.banner_gpc = _snippet(link + self._render("banner.html", gpc=True))
        self.settings_control = _snippet(link + self._render("settings_control.html"))
        self.notice = self._notice()
        self.notice_hash = hashlib.sha256(
            json.dumps(self.notice, sort_keys=True, ensure_ascii=False).encode("utf-8")
        ).hexdigest()

    def _render(self, template: str, **values: Any) -> str:
        return self._environment.get_template(template).render({**self._common, **values})

    def preferences_page(self, *, next_url: str, granted: frozenset[str], gpc: bool) -> bytes:
        """The full preferences page, with the visitor's current choices ticked."""
        page = self._render("preferences.html", gpc=gpc, granted=granted, next=next_url)
        return page.encode("utf-8")

    def _notice(self) -> dict[str, Any]:
        """What the visitor is told, as a record for the consent log."""
        return {
            "locale": self.locale,
            "texts": dict(self.texts),
            "categories": [
                {
                    "key": category.key,
                    "title": category.title,
                    "description": category.description,
                    "cookies": list(category.cookies),
                    "gpc_opt_out": category.gpc_opt_out,
                }
                for category in self._settings.categories
            ],
            "necessary_cookies": [self._settings.cookie_name, *self._settings.necessary_cookies],
            "policy_revision": self._settings.policy_revision,
        }
