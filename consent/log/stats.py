"""Decisions per UTC day and per regime: how many, by which action, each category's opt-in."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final

from .database import open_log
from .events import REGIMES, Action
from .queries import EVERY_EVENT, EventFilter, count_query, stats_query

BATCH: Final = 5000
"""Rows fetched per round trip."""

Progress = Callable[[int], None]
"""Called with a number of events: to check in all, or just processed."""


@dataclass(slots=True)
class Decisions:
    """A set of decisions: how many, by action, and per category granted or offered."""

    decisions: int = field(default=0, kw_only=True)
    actions: Counter[str] = field(default_factory=Counter, kw_only=True)
    granted: Counter[str] = field(default_factory=Counter, kw_only=True)
    """Per category: decisions that granted it."""
    offered: Counter[str] = field(default_factory=Counter, kw_only=True)
    """Per category: decisions that granted or refused it."""

    def rate(self, action: Action) -> float:
        """Share of the decisions that were this action (0 to 1)."""
        return self.actions[action] / self.decisions if self.decisions else 0.0

    def opt_in(self, category: str) -> float | None:
        """Share of the decisions that granted the category; None if it was never offered."""
        offered = self.offered[category]
        return self.granted[category] / offered if offered else None

    def count(self, action: str, granted: Iterable[str], denied: Iterable[str], times: int) -> None:
        """Count ``times`` decisions alike: this action, these categories granted and refused."""
        self.decisions += times
        self.actions[action] += times
        for category in granted:
            self.granted[category] += times
            self.offered[category] += times
        for category in denied:
            self.offered[category] += times

    def add(self, other: Decisions) -> None:
        """Count the decisions of ``other`` too."""
        self.decisions += other.decisions
        self.actions.update(other.actions)
        self.granted.update(other.granted)
        self.offered.update(other.offered)


@dataclass(slots=True)
class DayStats(Decisions):
    """The decisions of one UTC day."""

    day: date


@dataclass(slots=True)
class Stats:
    """Decisions per day and per regime, and the categories they were about."""

    days: list[DayStats]
    categories: list[str]
    """Category keys seen in the decisions (``necessary`` left out), sorted."""
    regimes: dict[str, Decisions] = field(default_factory=dict)
    """The decisions of all days by the regime they were made under: those that
    occur, in the order of ``REGIMES`` (then any other stored value, sorted)."""

    @property
    def total(self) -> DayStats:
        """All days together."""
        total = DayStats(self.days[0].day if self.days else date.today())
        for day in self.days:
            total.add(day)
        return total


async def gather_stats(
    url: str,
    where: EventFilter = EVERY_EVENT,
    *,
    progress: Progress | None = None,
    on_total: Progress | None = None,
) -> Stats:
    """Decisions per UTC day and per regime of the log at ``url``: action rates, opt-in rates.

    ``on_total`` is told how many events there are to count before the first is;
    ``progress`` as they are.
    """
    # Few distinct decisions exist (a day, a regime, an action, two lists of
    # categories): each is counted, then added to its day and regime once.
    alike: Counter[tuple[date, str, str, str, str]] = Counter()
    async with open_log(url) as connection:
        if on_total is not None:
            on_total(int(await connection.scalar(count_query(where)) or 0))
        query = stats_query(where).execution_options(yield_per=BATCH)
        result = await connection.stream(query)
        async for batch in result.partitions():
            alike.update(
                (_utc_day(occurred_at), regime, action, granted, denied)
                for occurred_at, regime, action, granted, denied in batch
            )
            if progress is not None:
                progress(len(batch))
    days: dict[date, DayStats] = {}
    regimes: dict[str, Decisions] = {}
    parsed: dict[str, list[str]] = {}
    for (day, regime, action, granted_text, denied_text), times in alike.items():
        granted = parsed.get(granted_text)
        if granted is None:
            granted = parsed[granted_text] = [
                c for c in json.loads(granted_text) if c != "necessary"
            ]
        denied = parsed.get(denied_text)
        if denied is None:
            denied = parsed[denied_text] = json.loads(denied_text)
        if day not in days:
            days[day] = DayStats(day)
        days[day].count(action, granted, denied, times)
        regimes.setdefault(regime, Decisions()).count(action, granted, denied, times)
    categories = sorted({c for day in days.values() for c in day.offered})
    order: dict[str, int] = {regime: place for place, regime in enumerate(REGIMES)}
    by_regime = {
        regime: regimes[regime]
        for regime in sorted(regimes, key=lambda r: (order.get(r, len(order)), r))
    }
    return Stats(sorted(days.values(), key=lambda d: d.day), categories, by_regime)


def _utc_day(moment: datetime) -> date:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()
