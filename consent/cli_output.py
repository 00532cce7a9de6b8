"""What the ``consent`` command writes: tables that fit the terminal, exports, progress bars.

A table is drawn at its natural width when the terminal is wide enough; in a
narrower one (80 columns) it is laid out differently, never cut: every value
stays whole and readable (Rich's ``…`` never appears).
"""

from __future__ import annotations

import csv
import json
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, Final

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .log import (
    ACTIONS,
    EVENT_COLUMNS,
    ChainReport,
    ChainState,
    CheckpointMismatch,
    CookieRow,
    Decisions,
    EventRow,
    Stats,
    csv_row,
    event_record,
    iso_utc,
)

console = Console()
"""The data: tables, exports, verdicts."""
errors = Console(stderr=True)
"""Progress bars and messages: stdout carries only the data, for pipes."""

_UNBOUNDED: Final = 1_000_000


class OutputFormat(StrEnum):
    """How ``consent log``, ``consent stats`` and ``consent cookies`` write their rows."""

    table = "table"
    csv = "csv"
    json = "json"


def fits(renderable: RenderableType) -> bool:
    """Whether the renderable is drawn at its natural width, nothing wrapped, on stdout."""
    options = console.options.update(max_width=_UNBOUNDED)
    return Measurement.get(console, options, renderable).maximum <= console.width


def _table(*headers: str) -> Table:
    """A table whose cells wrap, or fold a long word, rather than end in an ellipsis."""
    table = Table()
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


@contextmanager
def progress_bar(
    description: str, total: int | None
) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """A progress bar on stderr; yields the functions that advance it and set its total."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
        # No refresh thread: verify forks its workers, which is only safe without threads.
        auto_refresh=False,
        # Not on a terminal (a CI log, a file): no bar, and no blank lines where it was.
        disable=not errors.is_terminal,
    )
    task = progress.add_task(description, total=total)

    def advance(done: int) -> None:
        progress.advance(task, done)
        progress.refresh()

    def set_total(total: int) -> None:
        progress.update(task, total=total)

    with progress:
        yield advance, set_total


# --- consent log ---------------------------------------------------------------------------


def print_events(rows: Sequence[EventRow]) -> None:
    """The events as one table, or, where it would not fit, one short block each."""
    records = [event_record(row) for row in rows]
    headers = ("seq", "time (UTC)", "consent id", "action", "granted", "mechanism", "locale")
    table = _table(*headers, "rev", "gpc", "regime", "region")
    for event in records:
        table.add_row(
            str(event["seq"]),
            _time(event),
            event["consent_id"],
            event["action"],
            _granted(event),
            event["mechanism"],
            event["locale"],
            str(event["revision"]),
            "yes" if event["gpc"] else "",
            event["regime"],
            event["region"] or "",
        )
    if fits(table):
        console.print(table)
        return
    # The consent id alone is 32 characters: in 80 columns, each event gets a heading
    # line, then one labelled line per long value, wrapped (never cut) if it must be.
    for event in records:
        heading = f"seq {event['seq']} · {_time(event)} UTC · {event['action']} · "
        heading += event["mechanism"] + (" · with GPC" if event["gpc"] else "")
        console.print(Text(heading, style="bold"))
        details = (
            ("consent id", event["consent_id"]),
            ("granted", _granted(event)),
            ("notice", f"revision {event['revision']}, locale {event['locale']}"),
            ("regime", f"{event['regime']}, region {event['region'] or 'unknown'}"),
        )
        for label, value in details:
            lines = textwrap.wrap(
                value,
                console.width,
                initial_indent=f"  {label:<10}  ",
                subsequent_indent=" " * 14,
                break_on_hyphens=False,
            )
            console.print(Text("\n".join(lines)), soft_wrap=True)
        console.print()


def _time(event: dict[str, Any]) -> str:
    return str(event["occurred_at"])[:19].replace("T", " ")


def _granted(event: dict[str, Any]) -> str:
    return ", ".join(c for c in event["granted"] if c != "necessary") or "—"


async def export_events(
    batches: AsyncIterator[Sequence[EventRow]], output: OutputFormat, advance: Callable[[int], None]
) -> None:
    """Write events to stdout as CSV (with a header row) or JSON Lines, batch by batch."""
    stdout = sys.stdout
    writer = csv.writer(stdout, lineterminator="\n")
    if output is OutputFormat.csv:
        writer.writerow(EVENT_COLUMNS)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    async for batch in batches:
        if output is OutputFormat.csv:
            writer.writerows(csv_row(row) for row in batch)
        else:
            stdout.write("".join(encode(event_record(row)) + "\n" for row in batch))
        advance(len(batch))
    stdout.flush()


# --- consent verify ------------------------------------------------------------------------


def print_verification(
    state: ChainState, report: ChainReport, mismatches: Sequence[CheckpointMismatch]
) -> bool:
    """What verification found; whether the log is intact (and holds every checkpoint)."""
    start = f"after the anchor at seq {state.anchor_seq}" if state.anchor_seq else "from the start"
    problem = report.problem
    if problem is not None:
        named = f"seq {problem.seq}" + (f" (event {problem.event_id})" if problem.event_id else "")
        console.print(
            f"[bold red]TAMPERED[/bold red]: first bad event {named}: {problem.reason}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"{report.checked} events verified {start}; the chain is intact up to seq "
            f"{report.last_seq}.",
            highlight=False,
        )
        return False
    for mismatch in mismatches:
        holds = "no such event" if mismatch.stored_hash is None else f"hash {mismatch.stored_hash}"
        console.print(
            f"[bold red]TAMPERED[/bold red]: checkpoint seq {mismatch.seq}: the log holds "
            f"{holds}, not {mismatch.expected_hash}: the log was rewritten",
            highlight=False,
            soft_wrap=True,
        )
    if mismatches:
        return False
    console.print(
        f"[bold green]intact[/bold green]: {report.checked} events {start}; "
        f"head seq {report.last_seq} hash {report.last_hash}",
        highlight=False,
        soft_wrap=True,
    )
    return True


# --- consent stats -------------------------------------------------------------------------

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
    table = _table("day (UTC)", *headers, *(f"{category}{suffix}" for category in categories))
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


# --- consent cookies -----------------------------------------------------------------------

COOKIE_COLUMNS: Final = ("name", "category", "seen", "blocked", "first_seen", "last_seen")
"""The fields of ``consent cookies --format csv`` and ``json``, in this order."""


def print_cookies(rows: Sequence[CookieRow], output: OutputFormat) -> None:
    """The cookie inventory as a table (undeclared names in red), CSV or JSON Lines."""
    records = [
        (r.name, r.category, r.seen, r.blocked, iso_utc(r.first_seen), iso_utc(r.last_seen))
        for r in rows
    ]
    if output is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COOKIE_COLUMNS)
        writer.writerows(records)
    elif output is OutputFormat.json:
        for record in records:
            sys.stdout.write(json.dumps(dict(zip(COOKIE_COLUMNS, record, strict=True))) + "\n")
    else:
        table = _table("name", "category", "seen", "blocked", "first seen (UTC)", "last seen (UTC)")
        for name, category, seen, blocked, first, last in records:
            style = "bold red" if category == "UNDECLARED" else None
            # A space between date and time, where a narrow terminal can wrap the cell.
            first, last = (moment[:19].replace("T", " ") for moment in (first, last))
            table.add_row(name, category, str(seen), str(blocked), first, last, style=style)
        console.print(table)
        if not records:
            errors.print("no cookie seen yet")
