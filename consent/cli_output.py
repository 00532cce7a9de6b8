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
    EVENT_COLUMNS,
    ChainReport,
    ChainState,
    CheckpointMismatch,
    EventRow,
    csv_row,
    event_record,
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


def table_of(*headers: str) -> Table:
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
    headers = ("seq", "time (UTC)", "consent id", "action", "granted", "services", "mechanism")
    table = table_of(*headers, "locale", "rev", "gpc", "regime", "region")
    for event in records:
        table.add_row(
            str(event["seq"]),
            _time(event),
            event["consent_id"],
            event["action"],
            _granted(event),
            _services(event),
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
            ("services", _services(event)),
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


def _services(event: dict[str, Any]) -> str:
    return ", ".join(event["services"]) or "—"


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
