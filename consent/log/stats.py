"""Decisions per UTC day: how many, by which action, and the opt-in rate of each category."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final

from .database import open_log
from .events import Action
from .queries import EVERY_EVENT, EventFilter, count_query, stats_query

BATCH: Final = 5000
"""Rows fetched per round trip."""

Progress = Callable[[int], None]
"""Called with a number of events: to check in all, or just processed."""


@dataclass(slots=True)
class DayStats:
    """The decisions of one UTC day."""

    day: date
    decisions: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    granted: Counter[str] = field(default_factory=Counter)
    """Per category: decisions that granted it."""
    offered: Counter[str] = field(default_factory=Counter)
    """Per category: decisions that granted or refused it."""

    def rate(self, action: Action) -> float:
        """Share of the day's decisions that were this action (0 to 1)."""
        return self.actions[action] / self.decisions if self.decisions else 0.0

    def opt_in(self, category: str) -> float | None:
        """Share of the day's decisions that granted the category; None if never offered."""
        offered = self.offered[category]
        return self.granted[category] / offered if offered else None


@dataclass(slots=True)
class Stats:
    """Decisions per day, and the categories they were about."""

    days: list[DayStats]
    categories: list[str]
    """Category keys seen in the decisions (``necessary`` left out), sorted."""

    @property
    def total(self) -> DayStats:
        """All days together."""
        total = DayStats(self.days[0].day if self.days else date.today())
        for day in self.days:
            total.decisions += day.decisions
            total.actions.update(day.actions)
            total.granted.update(day.granted)
            total.offered.update(day.offered)
        return total


async def gather_stats(
    url: str,
    where: EventFilter = EVERY_EVENT,
    *,
    progress: Progress | None = None,
    on_total: Progress | None = None,
) -> Stats:
    """Decisions per UTC day of the log at ``url``, with action rates and opt-in per category.

    ``on_total`` is told how many events there are to count before the first is;
    ``progress`` as they are.
    """
    days: dict[date, DayStats] = {}
    parsed: dict[str, list[str]] = {}
    async with open_log(url) as connection:
        if on_total is not None:
            on_total(int(await connection.scalar(count_query(where)) or 0))
        query = stats_query(where).execution_options(yield_per=BATCH)
        result = await connection.stream(query)
        async for batch in result.partitions():
            for occurred_at, action, granted_text, denied_text in batch:
                day = _utc_day(occurred_at)
                stats = days.get(day)
                if stats is None:
                    stats = days[day] = DayStats(day)
                stats.decisions += 1
                stats.actions[action] += 1
                # Few distinct combinations exist: parse each JSON text once.
                granted = parsed.get(granted_text)
                if granted is None:
                    granted = parsed[granted_text] = [
                        c for c in json.loads(granted_text) if c != "necessary"
                    ]
                denied = parsed.get(denied_text)
                if denied is None:
                    denied = parsed[denied_text] = json.loads(denied_text)
                stats.granted.update(granted)
                stats.offered.update(granted)
                stats.offered.update(denied)
            if progress is not None:
                progress(len(batch))
    categories = sorted({c for day in days.values() for c in day.offered})
    return Stats(sorted(days.values(), key=lambda d: d.day), categories)


def _utc_day(moment: datetime) -> date:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()
