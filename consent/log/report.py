"""``consent stats --html``: a self-contained report with inline SVG charts.

One HTML file, no script and no external asset (no font, stylesheet or image
fetched), so that it can be mailed to a privacy officer or attached to a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .events import ACTIONS, Action
from .stats import DayStats, Stats

ACTION_COLOURS: Final[dict[Action, str]] = {
    "accept_all": "#2b7a3d",
    "reject_all": "#b3261e",
    "custom": "#1f5fa8",
    "withdraw": "#8a5a00",
    "gpc": "#6b4fa0",
}
if set(ACTION_COLOURS) != set(ACTIONS):
    raise TypeError("ACTION_COLOURS must give every action a colour")
# Colour-blind-safe (Okabe–Ito) line colours, one per category, in turn.
LINE_COLOURS: Final = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
_WIDTH: Final = 760
_HEIGHT: Final = 240
_MARGIN: Final = 40
_PLOT_HEIGHT: Final = _HEIGHT - 2 * _MARGIN
_WIDEST_BAR: Final = 48.0
"""So that a log of a few days draws bars, not walls."""

_environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class Bar:
    """One rectangle of the stacked bar chart."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True, slots=True)
class Point:
    """One day's opt-in rate of a category: a marker, and a vertex of its line."""

    x: float
    y: float
    title: str


@dataclass(frozen=True, slots=True)
class Line:
    """One category's opt-in rate over the days."""

    category: str
    colour: str
    points: list[Point]
    marker_radius: float
    """Every day is marked, so that a day with no neighbour (one day of data) shows too."""

    @property
    def polyline(self) -> str:
        """The points as an SVG ``points`` attribute."""
        return " ".join(f"{point.x},{point.y}" for point in self.points)


def render_report(stats: Stats, *, source: str) -> str:
    """The HTML report of ``stats``; ``source`` names the log (no password)."""
    template = _environment.get_template("report.html")
    total = stats.total
    return template.render(
        stats=stats,
        total=total,
        source=source,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        summary=f"{_counted(total.decisions, 'decision')} over {_counted(len(stats.days), 'day')}",
        actions=ACTIONS,
        colours=ACTION_COLOURS,
        bars=_decision_bars(stats.days),
        max_decisions=max((d.decisions for d in stats.days), default=0),
        lines=_opt_in_lines(stats),
        width=_WIDTH,
        height=_HEIGHT,
        margin=_MARGIN,
        label_every=max(1, len(stats.days) // 12),
        x_of=lambda index: _x(index, len(stats.days)),
    )


def _counted(count: int, noun: str) -> str:
    """``1 day``, ``2 days``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _slot(count: int) -> float:
    return (_WIDTH - 2 * _MARGIN) / max(count, 1)


def _x(index: int, count: int) -> float:
    """The centre of day ``index`` on the x axis."""
    return round(_MARGIN + _slot(count) * (index + 0.5), 1)


def _decision_bars(days: list[DayStats]) -> list[Bar]:
    """Decisions per day, stacked by action, scaled to the busiest day."""
    busiest = max((d.decisions for d in days), default=0) or 1
    width = min(_slot(len(days)) * 0.8, _WIDEST_BAR)
    bars: list[Bar] = []
    for index, day in enumerate(days):
        bottom = float(_HEIGHT - _MARGIN)
        for action in ACTIONS:
            count = day.actions[action]
            if not count:
                continue
            height = _PLOT_HEIGHT * count / busiest
            bottom -= height
            bars.append(
                Bar(
                    x=round(_x(index, len(days)) - width / 2, 1),
                    y=round(bottom, 1),
                    width=round(width, 1),
                    height=round(height, 1),
                    colour=ACTION_COLOURS[action],
                    title=f"{day.day.isoformat()}: {count} {action}",
                )
            )
    return bars


def _opt_in_lines(stats: Stats) -> list[Line]:
    """Opt-in rate (0–100 %) per category per day."""
    slot = _slot(len(stats.days))
    radius = round(max(1.5, min(3.5, slot / 4)), 1)
    # The categories side by side within each day's slot, so that two with the same
    # rate that day are both seen (they would hide each other at one point).
    step = min(slot * 0.6 / max(len(stats.categories), 1), 10.0)
    lines: list[Line] = []
    for number, category in enumerate(stats.categories):
        offset = (number - (len(stats.categories) - 1) / 2) * step
        points = []
        for index, day in enumerate(stats.days):
            rate = day.opt_in(category)
            if rate is not None:
                points.append(
                    Point(
                        x=round(_x(index, len(stats.days)) + offset, 1),
                        y=round(_HEIGHT - _MARGIN - _PLOT_HEIGHT * rate, 1),
                        title=f"{day.day.isoformat()}: {category} {100 * rate:.1f}%",
                    )
                )
        colour = LINE_COLOURS[number % len(LINE_COLOURS)]
        lines.append(Line(category, colour, points, radius))
    return lines
