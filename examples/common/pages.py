"""The pages the example sites share: their layout, the front page and the article page.

The shared Jinja templates (``templates/``: ``layout.html``, ``front_page.html``,
``article.html``) render a ``site`` global, a ``Site``, and leave each example a
block for what it does its own way: ``{% block consent_note %}`` on the article
page, where the example's template reads the visitor's choice. The shared static
files (``static/``) are the stylesheet and the analytics script, which each site
serves at ``/static/site.css`` and ``/static/analytics.js``. ``state_json`` is what
each site's ``/consent.json`` answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consent import ConsentState

from .articles import Article

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Site:
    """What tells one example site from another, for the shared templates."""

    name: str
    framework: str
    articles_path: str
    """Where the site's router serves an article: ``/posts/`` serves ``/posts/<slug>``."""

    def article_url(self, article: Article) -> str:
        """The path of ``article`` on this site."""
        return f"{self.articles_path}{article.slug}"


def state_json(state: ConsentState, cookies: Iterable[str]) -> dict[str, Any]:
    """What each site's ``/consent.json`` answers: the visitor's ``state`` as its view read
    it, and the names of the ``cookies`` the view received (refused ones never reach it)."""
    return {
        "decided": state.decided,
        "granted": sorted(state.granted),
        "analytics": state.allows("analytics"),
        "cookies": sorted(cookies),
    }
