"""The articles every example site publishes, kept as data so that no site needs a database.

The places, people and events are fictional.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Article:
    """One published article."""

    slug: str
    title: str
    section: str
    author: str
    published: date
    summary: str
    body: tuple[str, ...]


ARTICLES: tuple[Article, ...] = (
    Article(
        slug="the-last-keeper",
        title="The last keeper of Skerry Light",
        section="Features",
        author="Morag Fenwick",
        published=date(2026, 12, 1),
        summary="The lamp went automatic in 1998. The keeper's logbooks did not stop.",
        body=(
            "When the lighthouse authority automated Skerry Light, its last keeper was "
            "offered a cottage on the mainland and a pension. He took the pension and kept "
            "writing the log: wind, sea state, passing ships, the date the terns came back.",
            "Twenty-eight years of those entries now sit in the county archive, and a team "
            "at the marine station has begun to read them against the satellite record. "
            "Where the two overlap, the keeper's sea states agree with the buoys to within "
            "a point on the Douglas scale.",
        ),
    ),
    Article(
        slug="swing-bridge-reopens",
        title="Swing bridge reopens after eleven weeks, two days ahead of schedule",
        section="Local",
        author="Tomas Reid",
        published=date(2026, 11, 18),
        summary="Buses return to the quay road on Monday; the footway opens at once.",
        body=(
            "The Northgate swing bridge reopened to foot traffic at noon yesterday after an "
            "eleven-week refit of its turning gear, two days earlier than the county had said.",
            "Engineers replaced the slewing ring that lets the deck swing for river traffic, "
            "the first time it has been changed since 1974. Buses will return to the quay "
            "road on Monday, once the deck joints have been load-tested.",
        ),
    ),
    Article(
        slug="first-frost",
        title="First frost on the allotments, and what it took",
        section="Gardens",
        author="Hal Pennock",
        published=date(2026, 11, 2),
        summary="The dahlias are gone, the leeks do not care, and the fleece went on a day late.",
        body=(
            "It came on a clear night with no wind, as the almanac promised and the forecast "
            "did not. By seven the brassicas were rimed white and the dahlias had turned to "
            "black paper.",
            "The lesson, again: when the sky is clear at dusk in November, cover first and "
            "check the forecast afterwards.",
        ),
    ),
    Article(
        slug="notes-on-a-dry-spring",
        title="Notes on a dry spring",
        section="Country",
        author="Agnes Lowrie",
        published=date(2026, 5, 3),
        summary="Six weeks without rain, and what the hill pasture did about it.",
        body=(
            "The beck below the top field stopped running in the third week of April, "
            "earlier than anyone on the lane remembers. The ewes found the spring under the "
            "ash trees before we did.",
            "The clover has held on where the ground is shaded in the afternoon; the open "
            "slope has gone the colour of straw. We have moved the flock down a fortnight "
            "early and will cut the lower meadow late.",
        ),
    ),
    Article(
        slug="night-ferry-returns",
        title="Night ferry returns to the harbour timetable from May",
        section="Local",
        author="Maren Holt",
        published=date(2026, 4, 14),
        summary=(
            "The last crossing of the day will again leave at 23:10, four years after it was "
            "cut for want of crew."
        ),
        body=(
            "The harbour board agreed on Tuesday to restore the late sailing between the "
            "town quay and Westerness, after the operator recruited enough deckhands to "
            "staff a third shift through the summer.",
            "Shift workers at the hospital on the far shore had asked for the crossing "
            "since it was withdrawn. Until now, the only way home after ten at night was a "
            "forty-minute drive around the estuary.",
        ),
    ),
)
"""Newest first, as the front pages list them."""


def find_article(slug: str) -> Article | None:
    """The article published under ``slug``, or None."""
    return next((article for article in ARTICLES if article.slug == slug), None)
