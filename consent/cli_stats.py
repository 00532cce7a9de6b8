"""``consent stats``: decisions per day and per regime, as a table, CSV, JSON or a report."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.table import Table

from .cli_options import DEFAULT_LOG_URL, DbOption, parse_moment
from .cli_output import OutputFormat, console, errors, fits, progress_bar, table_of
from .log import ACTIONS, Decisions, EventFilter, Stats, gather_stats, render_report, safe_url


def stats(
    db: DbOption = DEFAULT_LOG_URL,
    since: Annotated[str | None, typer.Option(help="From this date or time.")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this date (included).")] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write a self-contained HTML report with charts."),
    ] = None,
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="table (on screen), csv, or json (JSON Lines: one object per day, "
            "then the totals, all days and per regime).",
        ),
    ] = OutputFormat.table,
) -> None:
    """Decisions per day and per regime: accept, reject and custom rates, opt-in per category."""
    where = EventFilter(
        since=parse_moment(since) if since else None,
        until=parse_moment(until, end_of_day=True) if until else None,
    )
    with progress_bar("counting", None) as (advance, set_total):
        result = asyncio.run(gather_stats(db, where, progress=advance, on_total=set_total))
    if output is OutputFormat.table:
        print_stats(result)
    else:
        export_stats(result, output)
    if html is not None:
        html.write_text(render_report(result, source=safe_url(db)), encoding="utf-8")
        errors.print(f"report written to {html}", highlight=False)


_ACTION_CELLS: Final[tuple[tuple[str, Callable[[Decisions], str]], ...]] = (
    ("accept", lambda day: f"{100 * day.rate('accept_all'):.1f}%"),
    ("reject", lambda day: f"{100 * day.rate('reject_all'):.1f}%"),
    ("custom", lambda day: f"{100 * day.rate('custom'):.1f}%"),
    ("withdraw", lambda day: str(day.actions["withdraw"])),
)
"""The banner's choices as shares of the day's decisions; withdrawals (rare) as a count."""


def _stats_rows(stats: Stats) -> list[tuple[str, str, Decisions]]:
    """Each day, then all days together, then all days per regime: (day, regime, decisions)."""
    rows: list[tuple[str, str, Decisions]] = [
        (day.day.isoformat(), "all", day) for day in stats.days
    ]
    rows.append(("all", "all", stats.total))
    rows.extend(("all", regime, decisions) for regime, decisions in stats.regimes.items())
    return rows


def print_stats(stats: Stats) -> None:
    """One table: the days, all days, then all days per regime. Where it would not fit,
    the decisions, then the opt-in rates."""
    rows: list[tuple[str, Decisions]] = [(day.day.isoformat(), day) for day in stats.days]
    rows.append(("all days", stats.total))
    rows.extend((f"{regime} regime", decisions) for regime, decisions in stats.regimes.items())
    whole = _stats_table(rows, stats.categories, decisions=True, suffix=" opt-in")
    if fits(whole):
        console.print(whole)
        return
    console.print(_stats_table(rows, [], decisions=True))
    # As many categories per table as fit beside the day (at least one, folded if need be).
    categories = stats.categories
    start = 0
    while start < len(categories):
        end = start + 1
        while end < len(categories) and fits(_stats_table(rows, categories[start : end + 1])):
            end += 1
        table = _stats_table(rows, categories[start:end])
        table.title = "opt-in rate per category"
        console.print(table)
        start = end


def _stats_table(
    rows: list[tuple[str, Decisions]],
    categories: list[str],
    *,
    decisions: bool = False,
    suffix: str = "",
) -> Table:
    """Per row: the decisions and actions if ``decisions``, then each category's opt-in.

    A line sets the total of all days apart from the days above and the regimes below.
    """
    headers = ["decisions", *(name for name, _ in _ACTION_CELLS)] if decisions else []
    table = table_of("day (UTC)", *headers, *(f"{category}{suffix}" for category in categories))
    for index, (label, day) in enumerate(rows):
        cells = [str(day.decisions), *(cell(day) for _, cell in _ACTION_CELLS)] if decisions else []
        opt_in = [_percent(day.opt_in(category)) for category in categories]
        following = rows[index + 1][0] if index + 1 < len(rows) else None
        ends_section = following is not None and "all days" in (label, following)
        table.add_row(label, *cells, *opt_in, end_section=ends_section)
    return table


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.1f}%"


def export_stats(stats: Stats, output: OutputFormat) -> None:
    """The statistics as CSV (with a header row) or JSON Lines: one row per day, then the
    totals of all days (``day`` is ``all``), together and per regime (``regime`` is
    ``all`` or the regime). Action counts; opt-in rates from 0 to 1 (empty or null
    for a category not offered)."""
    rows = _stats_rows(stats)
    if output is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        opt_in_headers = [f"{category} opt-in" for category in stats.categories]
        writer.writerow(["day", "regime", "decisions", *ACTIONS, *opt_in_headers])
        for day, regime, decisions in rows:
            rates = [_rate(decisions.opt_in(category)) for category in stats.categories]
            counts = [decisions.actions[action] for action in ACTIONS]
            writer.writerow([day, regime, decisions.decisions, *counts, *rates])
        return
    for day, regime, decisions in rows:
        record = {
            "day": day,
            "regime": regime,
            "decisions": decisions.decisions,
            "actions": {action: decisions.actions[action] for action in ACTIONS},
            "opt_in": {
                category: _rate(decisions.opt_in(category)) for category in stats.categories
            },
        }
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


def _rate(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)
