"""What goes in a page, in each ``cache_mode``: the visitor's own snippets, or one page for all.

- ``"vary"``: each page is made for its visitor (banner or "Cookie settings"
  control, Consent Mode with their choice) and varies by ``Cookie``.
- ``"esi"``: the page holds ``<esi:include>``s of the fragment endpoints where
  the snippets go; the cache in front fills them in per visitor.
- ``"shared"``: every visitor gets the same page, the undecided one, with
  ``consent-state.js`` first in ``<head>``: it marks a decided visitor's
  document before it renders (the banner never shows), and ``consent.js``
  applies the choice.
"""

from __future__ import annotations

import html
import json
from urllib.parse import quote

from .banner import BannerMarkup, PageMarkup
from .cache import BUDGETS, BoundedCache
from .consent_mode import ConsentModeTag
from .cookie import ServiceBits
from .inject import Snippets
from .settings import CacheMode, ConsentSettings
from .snippet import HOLES, NONCE, snippet_of
from .state import UNDECIDED_GRANTS, ConsentState


class PageSnippets:
    """Makes each page's ``Snippets``, and keeps those that pages repeat."""

    def __init__(
        self,
        settings: ConsentSettings,
        markup: BannerMarkup,
        consent_mode: ConsentModeTag,
        state_script_url: str,
    ) -> None:
        self.mode: CacheMode = settings.cache_mode
        self.one_language = settings.locale is not None or len(settings.available_locales) == 1
        self._every_grant = frozenset(settings.category_keys) | UNDECIDED_GRANTS
        self._shared_grant = self._every_grant - settings.gpc_opt_out_keys
        self.geo_headers = tuple(
            name.encode("latin-1")
            for name in (settings.geo_header, settings.geo_region_header)
            if name is not None
        )
        """The geo headers a page made for its place depends on (for ``Vary``)."""
        """Every visitor gets the same language: pages do not vary by ``Accept-Language``."""
        self._markup = markup
        self._consent_mode = consent_mode
        self._pages: BoundedCache[tuple[object, ...], Snippets] = BoundedCache(BUDGETS["pages"])
        prefix = settings.path_prefix
        self.fragment_head_path = f"{prefix}/fragment/head"
        self.fragment_body_path = f"{prefix}/fragment/body"
        # What consent-state.js needs to read the consent cookie as the server does.
        # ``optout``: where no consent comes first, a GPC signal is an opt-out with no
        # notice, as the server answers it.
        src = html.escape(state_script_url)
        services = settings.service_categories
        self._state_tags = {}
        for optout in (False, True):
            state = {
                "cookie": settings.cookie_name,
                "revision": settings.policy_revision,
                "categories": list(settings.category_keys),
                "gpc": sorted(settings.gpc_opt_out_keys),
                "optout": optout,
                "services": list(services),
                "categoryOf": services,
                "fingerprint": ServiceBits(tuple(services)).fingerprint,
            }
            data = html.escape(json.dumps(state, separators=(",", ":")))
            self._state_tags[optout] = snippet_of(
                f'<script src="{src}"{HOLES[NONCE]} data-consent-state="{data}"></script>'
            )

    def for_visitor(
        self, state: ConsentState, accept_language: bytes, path: bytes, query: bytes, nonce: str
    ) -> Snippets:
        """A page made for one visitor: their banner or control, their Consent Mode.

        ``path`` and ``query`` are the page's, as the browser sent them (the forms'
        ``next``).
        """
        # A page is asked for again and again: its snippets are made once per
        # language, page and choice. (A nonce is new each time: nothing to keep.)
        key = (
            accept_language,
            path,
            query,
            state.decided,
            state.gpc,
            state.granted,
            state.regime,
            state.services,
        )
        if not nonce:
            find = self._pages.get  # called as a local: a slot's method is not looked up faster
            found = find(key)
            if found is not None:
                return found
        markup = self._markup.for_request(accept_language.decode("latin-1"))
        page_markup: PageMarkup
        withdrawable = len(state.granted) > len(UNDECIDED_GRANTS)
        if state.regime != "opt-in":
            # The notice until a choice, where no consent comes first; with a GPC signal
            # (no pop-up then), a choice, or nothing to ask, the "Your Privacy Choices" control.
            if not state.decided and state.regime == "opt-out" and not state.gpc:
                page_markup = markup.optout_notice
            else:
                page_markup = markup.privacy_choices[withdrawable, state.gpc]
        elif state.decided:
            page_markup = (
                markup.settings_control_withdraw if withdrawable else markup.settings_control
            )
        else:
            page_markup = markup.banner_gpc if state.gpc else markup.banner
        target = _target(path, query)
        # The page's script reads categories and services alike: the keys in use.
        usable = state.granted | state.services if state.services else state.granted
        front, end = page_markup.render(target, nonce, usable)
        head = b""
        if self._consent_mode.enabled:
            head = self._consent_mode.render(state.decided, usable, nonce)
        snippets = Snippets(head, front, end)
        if not nonce:
            self._keep(key, snippets, len(accept_language) + len(path) + len(query))
        return snippets

    def for_everyone(
        self, accept_language: bytes, path: bytes, query: bytes, nonce: str, regime: str
    ) -> Snippets:
        """The page every visitor gets in ``esi`` or ``shared`` mode (in ``shared``, every
        visitor of one regime: its undecided page)."""
        shared = self.mode == "shared"
        key = (accept_language if shared else b"", path, query, regime if shared else "")
        if not nonce:
            find = self._pages.get
            found = find(key)
            if found is not None:
                return found
        target = _target(path, query)
        if self.mode == "esi":
            snippets = self._includes(target, nonce)
        else:
            snippets = self._shared(accept_language, target, nonce, regime)
        if not nonce:
            self._keep(key, snippets, len(key[0]) + len(path) + len(query))
        return snippets

    def _includes(self, target: str, nonce: str) -> Snippets:
        """ESI includes of the visitor's fragments: the page's own URL, its nonce."""
        # An ESI processor reads ``src`` as it is, before any HTML: no entities in it.
        query = "nonce=" + quote(nonce, safe="") if nonce else ""
        head = b""
        if self._consent_mode.enabled:
            src = self.fragment_head_path + ("?" + query if query else "")
            head = f'<esi:include src="{src}"/>'.encode("ascii")
        body_query = "next=" + quote(target, safe="/") + ("&" + query if query else "")
        front = f'<esi:include src="{self.fragment_body_path}?{body_query}"/>'.encode("ascii")
        return Snippets(head, front, b"")

    def _shared(self, accept_language: bytes, target: str, nonce: str, regime: str) -> Snippets:
        """The undecided visitor's page, with the script that marks a decided one's."""
        markup = self._markup.for_request(accept_language.decode("latin-1"))
        # The cached page cannot know a visitor's GPC signal before it renders: what GPC
        # covers stays off on it until a choice grants it.
        granted = UNDECIDED_GRANTS if regime == "opt-in" else self._shared_grant
        if regime == "opt-in":
            page_markup = markup.banner_shared
        elif regime == "opt-out":
            page_markup = markup.optout_notice_shared
        else:
            page_markup = markup.privacy_choices_shared
        front, end = page_markup.render(target, nonce, granted)
        head = self._state_tags[regime == "opt-out"].render("", nonce)
        if self._consent_mode.enabled:
            head += self._consent_mode.render(False, granted, nonce)
        return Snippets(head, front, end)

    def _keep(self, key: tuple[object, ...], snippets: Snippets, key_size: int) -> None:
        cost = 512 + 2 * key_size + len(snippets.head) + len(snippets.front) + len(snippets.end)
        self._pages.put(key, snippets, cost)


def _target(path: bytes, query: bytes) -> str:
    """The page's path and query, as the browser asked for it."""
    target = path.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target
