"""Banner, "Cookie settings" control and preferences page markup, in every language.

Templates are rendered once per language, when a visitor first asks for it, into
``Snippet``s (``snippet.py``); a request only fills their holes.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .cache import BUDGETS, BoundedCache
from .category import LOCALE_ALIASES, text_direction
from .declaration import Declaration
from .localized import localize, notice, script_config
from .settings import ConsentSettings, bundled_locales
from .snippet import GRANTED, HOLES, NEXT, NEXT_QUERY, NONCE, Snippet, snippet_of

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True, eq=False)
class PageMarkup:
    """What one kind of visitor gets in a page: where the body starts, and at its end.

    The banner goes where the body starts, first in the focus order, and is
    ``hidden`` until the stylesheet that comes after it shows it: it never shows
    half-loaded, however its bytes arrive. With a CSP nonce the stylesheet is
    inline, right after the banner; without one, it is preloaded and
    ``consent.js`` applies it (a ``<noscript>`` link does with JavaScript off):
    either way no request of ours holds up the first paint. The "Cookie
    settings" control and its stylesheet go before ``</body>``.
    """

    front: Snippet
    end: Snippet
    front_with_nonce: Snippet
    end_with_nonce: Snippet

    def render(self, next_url: str, nonce: str, granted: frozenset[str]) -> tuple[bytes, bytes]:
        """The front and end markup for one request."""
        if nonce:
            front, end = self.front_with_nonce, self.end_with_nonce
        else:
            front, end = self.front, self.end
        return front.render(next_url, nonce, granted), end.render(next_url, nonce, granted)


class LocalizedMarkup:
    """Everything the middleware shows in one language."""

    def __init__(
        self,
        locale: str,
        texts: Mapping[str, str],
        settings: ConsentSettings,
        environment: Environment,
        assets: Mapping[str, str],
        stylesheet: str,
    ) -> None:
        self.locale = locale
        self.dir = text_direction(locale)
        """``"rtl"`` or ``"ltr"``: the ``dir`` of everything shown in this language."""
        self.texts = dict(texts)
        self.categories = [localize(category, locale) for category in settings.categories]
        self.stylesheet_url = assets["consent.css"]
        self._environment = environment
        self._settings = settings
        self._declaration: tuple[bytes, bytes] | None = None
        self._common: dict[str, Any] = {
            "texts": self.texts,
            "locale": locale,
            "dir": self.dir,
            "categories": self.categories,
            "privacy_policy_url": settings.privacy_policy_url,
            "banner_position": settings.banner_position,
            "action_url": settings.path_prefix,
            "preferences_url": f"{settings.path_prefix}/preferences",
            "policy_url": f"{settings.path_prefix}/policy",
            "stylesheet_url": assets["consent.css"],
            "script_url": assets["consent.js"],
            "next": HOLES[NEXT],
            "next_query": HOLES[NEXT_QUERY],
            "nonce": HOLES[NONCE],
            "granted": HOLES[GRANTED],
            "config": json.dumps(script_config(self, settings), separators=(",", ":")),
        }
        nonce = HOLES[NONCE]
        href = html.escape(assets["consent.css"])
        self._link = f'<link rel="stylesheet" href="{href}"{nonce}>'
        self._style = f"<style{nonce}>{stylesheet}</style>"
        # Without a nonce: fetched early without blocking anything, applied by
        # consent.js; with JavaScript off, linked.
        self._deferred_link = (
            f'<link rel="preload" as="style" href="{href}" fetchpriority="low">'
            f'<noscript><link rel="stylesheet" href="{href}"></noscript>'
        )
        self.banner = self._page_markup(decided=False, gpc=False)
        self.banner_gpc = self._page_markup(decided=False, gpc=True)
        # cache_mode "shared": one banner for everyone, its GPC line shown by the stylesheet
        # when consent-state.js finds the signal.
        self.banner_shared = self._page_markup(decided=False, shared=True)
        self.settings_control = self._page_markup(decided=True)
        # With something granted, withdrawing takes one click, as giving did.
        self.settings_control_withdraw = self._page_markup(decided=True, withdrawable=True)
        # Where no consent comes first ("opt-out"): a notice whose main action is "Do Not
        # Sell or Share"; then, and where there is nothing to ask ("none"), the "Your
        # Privacy Choices" control, which says so when a GPC signal was honoured.
        self.optout_notice = self._page_markup(decided=False, optout=True, us=True)
        # cache_mode "shared": the control's "Opt-out request honored" is in the page,
        # shown by the stylesheet when consent-state.js finds the signal.
        self.optout_notice_shared = self._page_markup(
            decided=False, optout=True, us=True, shared=True
        )
        self.privacy_choices_shared = self._page_markup(
            decided=True, withdrawable=True, us=True, shared=True
        )
        self.privacy_choices = {
            (withdrawable, gpc): self._page_markup(
                decided=True, withdrawable=withdrawable, gpc=gpc, us=True
            )
            for withdrawable in (False, True)
            for gpc in (False, True)
        }
        self.notice = notice(self, settings)
        self.notice_hash = hashlib.sha256(
            json.dumps(self.notice, sort_keys=True, ensure_ascii=False).encode("utf-8")
        ).hexdigest()

    def _render(self, template: str, **values: Any) -> str:
        return self._environment.get_template(template).render({**self._common, **values})

    def _page_markup(
        self,
        *,
        decided: bool,
        gpc: bool = False,
        withdrawable: bool = False,
        shared: bool = False,
        optout: bool = False,
        us: bool = False,
    ) -> PageMarkup:
        root = self._render(
            "snippet.html",
            decided=decided,
            gpc=gpc,
            withdrawable=withdrawable,
            shared=shared,
            optout=optout,
            us=us,
        )
        if decided:
            end = self._link + root
            return PageMarkup(snippet_of(""), snippet_of(end), snippet_of(""), snippet_of(end))
        return PageMarkup(
            front=snippet_of(root + self._deferred_link),
            end=snippet_of(""),
            front_with_nonce=snippet_of(root + self._style),
            end_with_nonce=snippet_of(""),
        )

    def declaration(self) -> tuple[bytes, bytes]:
        """The cookie declaration in this language: the page, and its JSON."""
        if self._declaration is None:
            declared = Declaration(self._settings, self.locale, self.texts)
            self._declaration = (declared.page(self._environment, self._common), declared.as_json())
        return self._declaration

    def preferences_page(
        self, *, next_url: str, granted: frozenset[str], gpc: bool, regime: str = "opt-in"
    ) -> bytes:
        """The full preferences page, with the visitor's current choices ticked."""
        page = self._render(
            "preferences.html", gpc=gpc, granted=granted, next=next_url, us=regime != "opt-in"
        )
        return page.encode("utf-8")


class BannerMarkup:
    """The markup of every available language, and the choice among them."""

    def __init__(
        self, settings: ConsentSettings, assets: Mapping[str, str], stylesheet: str
    ) -> None:
        environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self._environment = environment
        self._settings = settings
        self._assets = assets
        self._stylesheet = stylesheet
        # Each language is made when a visitor first asks for it: a site with 36 starts
        # as fast as one with one.
        self._made: dict[str, LocalizedMarkup] = {}
        self.available = frozenset(settings.available_locales)
        self.default = self.localized(settings.locale or settings.default_locale)
        # Language tags, in lower case, to the locale they choose: every locale by its code,
        # and the other codes browsers send for one (a site's own locale of that code wins).
        self._by_tag = {
            alias: locale for alias, locale in LOCALE_ALIASES.items() if locale in self.available
        }
        self._by_tag.update((code.lower(), code) for code in self.available)
        self._longest_tag = max(map(len, self._by_tag))
        self._forced = settings.locale is not None
        self._negotiated: BoundedCache[str, LocalizedMarkup] = BoundedCache(BUDGETS["languages"])

    def localized(self, locale: str) -> LocalizedMarkup:
        """The markup of one available locale (``KeyError`` for another)."""
        made = self._made.get(locale)
        if made is None:
            if locale not in self.available:
                raise KeyError(locale)
            texts = {
                **bundled_locales().get(locale, {}).get("texts", {}),
                **self._settings.texts.get(locale, {}),
            }
            made = LocalizedMarkup(
                locale, texts, self._settings, self._environment, self._assets, self._stylesheet
            )
            self._made[locale] = made
        return made

    def for_request(self, accept_language: str) -> LocalizedMarkup:
        """The visitor's language, from ``Accept-Language`` unless one is forced."""
        if self._forced or not accept_language:
            return self.default
        found = self._negotiated.get(accept_language)
        if found is None:
            found = self._negotiate(accept_language)
            # The header is visitor input: kept within the cache policy's bounds.
            self._negotiated.put(accept_language, found, 128 + 2 * len(accept_language))
        return found

    def _negotiate(self, accept_language: str) -> LocalizedMarkup:
        ranked: list[tuple[float, int, str]] = []
        for position, item in enumerate(accept_language.split(",")[:32]):
            tag, _, params = item.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            if quality > 0:
                ranked.append((-quality, position, tag.strip().lower()))
        for _, _, tag in sorted(ranked):
            found = self._lookup(tag)
            if found is not None:
                return found
        return self.default

    def _lookup(self, tag: str) -> LocalizedMarkup | None:
        """The tag's language, else that of a shorter prefix (``zh-hant-tw``, ``zh-hant``, ``zh``).

        As RFC 4647's lookup does. No tag longer than the longest code can match,
        so a long one is cut first; the cut never makes a code out of what is left.
        """
        tag = tag[: self._longest_tag + 1]
        while tag:
            locale = self._by_tag.get(tag)
            if locale is not None:
                return self.localized(locale)
            tag = tag.rpartition("-")[0]
        return None
