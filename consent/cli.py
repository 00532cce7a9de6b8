"""The ``consent`` command: the demo site, and the audit of the consent log.

Every log command takes ``--db URL`` (or ``CONSENT_LOG_URL``). Exit status: 0 done
(``verify``: the chain is intact), 1 nothing found or tampering found, 2 a usage
error or a log that cannot be read, with a one-line message on stderr.
"""

from __future__ import annotations

import asyncio
import csv
import importlib
import importlib.util
import json
import sys
import time as time_module
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .log import audit
from .log.audit import EVENT_COLUMNS, EventFilter, LogUnavailable, PurgePlan, Stats
from .log.chain import ChainReport
from .log.store import ChainState, PurgeResult, read_chain_state

app = typer.Typer(
    name="consent",
    help="Run the demo site and audit the consent log.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)
"""Progress bars and messages: stdout carries only the data, for pipes."""

_T = TypeVar("_T")

_DEMO_PACKAGE = "consent_article_site"


def _demo_directory() -> Path:
    """The article-site example: inside the installed package, or in the checkout."""
    here = Path(__file__).parent
    for candidate in (
        here / "examples" / "article_site",
        here.parent / "examples" / "article_site",
    ):
        if (candidate / "app.py").is_file():
            return candidate
    raise FileNotFoundError("the article-site example is not installed with this package")


def load_demo_site() -> ModuleType:
    """Import the article-site example's ``app`` module, wherever it is installed."""
    if f"{_DEMO_PACKAGE}.app" in sys.modules:
        return sys.modules[f"{_DEMO_PACKAGE}.app"]
    directory = _demo_directory()
    spec = importlib.util.spec_from_file_location(
        _DEMO_PACKAGE, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the demo site from {directory}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[_DEMO_PACKAGE] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{_DEMO_PACKAGE}.app")


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Annotated[
        str, typer.Option("--db", help="Consent log database URL.", envvar="CONSENT_LOG_URL")
    ] = "sqlite:///consent-demo.db",
) -> None:
    """Run the example article site with a SQLite consent log."""
    import uvicorn

    site = load_demo_site()
    application = site.create_app(log_url=db, freeze_startup_heap=True)
    url = f"http://{host}:{port}/"
    console.print(f"[bold]consent demo[/bold]: article site at [link={url}]{url}[/link]")
    console.print(f"consent log: {db}    (Ctrl+C to stop)")
    uvicorn.run(application, host=host, port=port, log_level="warning")


DEFAULT_LOG_URL = "sqlite:///consent-log.db"
"""The default of ``ConsentSettings.log_url``."""
TABLE_LIMIT = 1000
"""Events shown by ``--format table`` unless ``--limit`` says otherwise."""

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        help="Consent log database URL (sqlite:///path.db or postgresql://user@host/db).",
        envvar="CONSENT_LOG_URL",
        show_envvar=True,
    ),
]


class OutputFormat(StrEnum):
    """How ``consent log`` and ``consent cookies`` write their rows."""

    table = "table"
    csv = "csv"
    json = "json"


class Action(StrEnum):
    """A logged action."""

    accept_all = "accept_all"
    reject_all = "reject_all"
    custom = "custom"
    withdraw = "withdraw"
    gpc = "gpc"


def parse_moment(value: str, *, end_of_day: bool = False) -> datetime:
    """A ``--since``/``--until``/``--before`` value: a date or an ISO 8601 time, as UTC.

    A time without an offset is UTC. A bare date means its first moment, or with
    ``end_of_day`` the first moment of the next day (so that ``--until`` includes it).
    """
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end_of_day:
                day += timedelta(days=1)
            return datetime.combine(day, time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise typer.BadParameter(
            f"{value!r} is not a date (2026-03-01) or time (2026-03-01T12:00:00Z)"
        ) from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _run(work: Callable[[], Awaitable[_T]]) -> _T:
    """Run a log command's coroutine; a log that cannot be read ends it with status 2."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except LogUnavailable as error:
        _fail(str(error))


def _run_sync(work: Callable[[], _T]) -> _T:
    """Run a log command's work; a log that cannot be read ends it with status 2."""
    try:
        return work()
    except LogUnavailable as error:
        _fail(str(error))


async def _plan_purge(url: str, cutoff: datetime) -> PurgePlan:
    async with audit.open_log(url) as connection:
        return await audit.plan_purge(connection, cutoff)


@contextmanager
def _progress(
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


@app.command("log")
def log_command(
    db: DbOption = DEFAULT_LOG_URL,
    consent_id: Annotated[
        str | None, typer.Option("--consent-id", help="Only this browser's decisions.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this date or time (UTC unless an offset is given).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Up to this date (included) or time (excluded).")
    ] = None,
    action: Annotated[Action | None, typer.Option(help="Only this action.")] = None,
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="table (on screen), csv, or json (JSON Lines: one object per event).",
        ),
    ] = OutputFormat.table,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help=f"At most this many events (table: {TABLE_LIMIT} by default)."),
    ] = None,
) -> None:
    """List consent events in storage order; csv and json stream any number of them."""
    where = EventFilter(
        consent_id=consent_id,
        since=parse_moment(since) if since else None,
        until=parse_moment(until, end_of_day=True) if until else None,
        action=action.value if action else None,
    )
    if output is OutputFormat.table and limit is None:
        limit = TABLE_LIMIT

    async def work() -> bool:
        """List the events; False when the consent id asked for has none."""
        async with audit.open_log(db) as connection:
            total = await audit.count_events(connection, where)
            if total == 0 and consent_id is not None:
                return False
            shown = total if limit is None else min(total, limit)
            if output is OutputFormat.table:
                await _print_event_table(connection, where, shown)
                if shown < total:
                    errors.print(
                        f"showing {shown} of {total} events; --limit or --format csv for more"
                    )
            else:
                with _progress("exporting", shown) as (advance, _):
                    await _export_events(connection, where, output, shown, advance)
            return True

    if not _run(work):
        _fail(f"no event for consent id {consent_id!r}", code=1)


async def _print_event_table(connection: Any, where: EventFilter, limit: int) -> None:
    table = Table("seq")
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("consent id", no_wrap=True)
    for column in ("action", "granted", "mechanism", "rev", "gpc"):
        table.add_column(column)
    rows = 0
    async for batch in audit.stream_events(connection, where):
        for row in batch[: limit - rows]:
            event = audit.event_record(row)
            granted = [c for c in event["granted"] if c != "necessary"]
            table.add_row(
                str(event["seq"]),
                event["occurred_at"][:19].replace("T", " "),
                event["consent_id"],
                event["action"],
                ", ".join(granted) or "—",
                event["mechanism"],
                str(event["revision"]),
                "yes" if event["gpc"] else "",
            )
        rows += len(batch)
        if rows >= limit:
            break
    console.print(table)


async def _export_events(
    connection: Any,
    where: EventFilter,
    output: OutputFormat,
    limit: int,
    advance: Callable[[int], None],
) -> None:
    """Write events to stdout as CSV or JSON Lines, batch by batch."""
    stdout = sys.stdout
    writer = csv.writer(stdout, lineterminator="\n")
    if output is OutputFormat.csv:
        writer.writerow(EVENT_COLUMNS)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    written = 0
    async for batch in audit.stream_events(connection, where):
        batch = batch[: limit - written]
        if output is OutputFormat.csv:
            writer.writerows(_csv_row(row) for row in batch)
        else:
            stdout.write("".join(encode(audit.event_record(row)) + "\n" for row in batch))
        written += len(batch)
        advance(len(batch))
        if written >= limit:
            break
    stdout.flush()


def _csv_row(row: Any) -> list[Any]:
    values = list(row)
    values[1] = audit.iso_utc(values[1])
    values[9] = "true" if values[9] else "false"
    return values


@app.command()
def verify(
    db: DbOption = DEFAULT_LOG_URL,
    checkpoint: Annotated[
        list[str] | None,
        typer.Option(
            help="SEQ:HASH of a chain head written down earlier (repeatable): "
            "the log must still hold that event with that hash.",
        ),
    ] = None,
) -> None:
    """Check the hash chain: exit 0 when intact, 1 naming the first bad event."""
    expected: list[tuple[int, str]] = []
    for value in checkpoint or []:
        seq_text, _, hash_text = value.partition(":")
        if not seq_text.isdigit() or len(hash_text) != 64:
            raise typer.BadParameter(f"{value!r} is not SEQ:HASH", param_hint="--checkpoint")
        expected.append((int(seq_text), hash_text.lower()))

    async def check_points() -> list[str]:
        mismatches = []
        async with audit.open_log(db) as connection:
            state = await connection.run_sync(read_chain_state)
            for seq, hash_ in expected:
                if seq <= state.anchor_seq:
                    continue
                stored = await audit.event_hash_at(connection, seq)
                if stored != hash_:
                    mismatches.append(
                        f"checkpoint seq {seq}: the log holds "
                        f"{'no such event' if stored is None else 'hash ' + stored}, "
                        f"not {hash_}: the log was rewritten"
                    )
        return mismatches

    def work() -> tuple[ChainState, ChainReport, list[str]]:
        started = time_module.perf_counter()
        with _progress("verifying", None) as (advance, set_total):
            state, report = audit.verify_log(db, advance, on_total=set_total)
        elapsed = time_module.perf_counter() - started
        errors.print(
            f"verified {report.checked} events in {elapsed:.2f} s "
            f"({report.checked / max(elapsed, 1e-9):,.0f} events/s)",
            highlight=False,
        )
        return state, report, asyncio.run(check_points()) if expected else []

    state, report, mismatches = _run_sync(work)
    start = f"after the anchor at seq {state.anchor_seq}" if state.anchor_seq else "from the start"
    if report.problem is not None:
        problem = report.problem
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
        raise typer.Exit(1)
    for mismatch in mismatches:
        console.print(f"[bold red]TAMPERED[/bold red]: {mismatch}", highlight=False, soft_wrap=True)
    if mismatches:
        raise typer.Exit(1)
    console.print(
        f"[bold green]intact[/bold green]: {report.checked} events {start}; "
        f"head seq {report.last_seq} hash {report.last_hash}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def stats(
    db: DbOption = DEFAULT_LOG_URL,
    since: Annotated[str | None, typer.Option(help="From this date or time.")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this date (included).")] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write a self-contained HTML report with charts."),
    ] = None,
) -> None:
    """Decisions per day: accept, reject and custom rates, opt-in per category."""
    where = EventFilter(
        since=parse_moment(since) if since else None,
        until=parse_moment(until, end_of_day=True) if until else None,
    )

    async def work() -> Stats:
        async with audit.open_log(db) as connection:
            total = await audit.count_events(connection, where)
            with _progress("counting", total) as (advance, _):
                return await audit.gather_stats(connection, where, advance)

    result = _run(work)
    table = Table("day (UTC)", "decisions", "accept", "reject", "custom", "withdraw")
    for category in result.categories:
        table.add_column(f"{category} opt-in")
    rows = [(day.day.isoformat(), day) for day in result.days]
    rows.append(("all days", result.total))
    for label, day in rows:
        table.add_row(
            label,
            str(day.decisions),
            f"{100 * day.rate('accept_all'):.1f}%",
            f"{100 * day.rate('reject_all'):.1f}%",
            f"{100 * day.rate('custom'):.1f}%",
            str(day.actions["withdraw"]),
            *(_percent(day.opt_in(category)) for category in result.categories),
        )
    console.print(table)
    if html is not None:
        from .log.report import render_report

        source = audit.safe_url(db)
        html.write_text(render_report(result, source=source), encoding="utf-8")
        errors.print(f"report written to {html}", highlight=False)


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.1f}%"


@app.command()
def purge(
    before: Annotated[
        str | None,
        typer.Option(help="Delete the events recorded before this date (UTC) or time."),
    ] = None,
    retention_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar="CONSENT_RETENTION_DAYS",
            show_envvar=True,
            help="Or: delete the events older than this many days (before today's UTC "
            "midnight minus N days). 1490 keeps 13 months of consent plus 3 years.",
        ),
    ] = None,
    db: DbOption = DEFAULT_LOG_URL,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete old events; what remains still verifies (from the recorded anchor)."""
    if before is not None:
        cutoff = parse_moment(before)
    elif retention_days is not None:
        today = datetime.combine(datetime.now(UTC).date(), time(), UTC)
        cutoff = today - timedelta(days=retention_days)
    else:
        raise typer.BadParameter("give --before DATE or --retention-days N", param_hint="--before")

    def plan() -> tuple[ChainReport, PurgePlan]:
        with _progress("verifying", None) as (advance, set_total):
            _, report = audit.verify_log(db, advance, on_total=set_total)
        return report, asyncio.run(_plan_purge(db, cutoff))

    report, planned = _run_sync(plan)
    if report.problem is not None:
        _fail(
            f"the log does not verify (seq {report.problem.seq}: {report.problem.reason}); "
            "nothing purged, so that the evidence stays. See `consent verify`.",
            code=1,
        )
    if planned.events == 0:
        console.print(f"nothing to purge: no event before {cutoff.isoformat()}")
        return
    question = (
        f"Delete {planned.events} events (seq {planned.first_seq}–{planned.last_seq}) "
        f"recorded before {cutoff.isoformat()}? This cannot be undone."
    )
    if not yes and not typer.confirm(question, default=False, err=True):
        _fail("nothing purged", code=1)

    async def work() -> PurgeResult:
        async with audit.open_log(db, writes=True) as connection:
            return await audit.purge(connection, cutoff)

    result = _run(work)
    console.print(
        f"purged {result.deleted} events; the chain now starts after seq {result.anchor_seq} "
        f"(anchor hash {result.anchor_hash})",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def cookies(
    db: DbOption = DEFAULT_LOG_URL,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv, or json (JSON Lines).")
    ] = OutputFormat.table,
) -> None:
    """Every cookie name the middleware has seen: category or UNDECLARED, seen, blocked."""

    async def work() -> list[audit.CookieRow]:
        async with audit.open_log(db) as connection:
            return await audit.list_cookies(connection)

    rows = _run(work)
    columns = ("name", "category", "seen", "blocked", "first_seen", "last_seen")
    records = [
        (
            r.name,
            r.category,
            r.seen,
            r.blocked,
            audit.iso_utc(r.first_seen),
            audit.iso_utc(r.last_seen),
        )
        for r in rows
    ]
    if output is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(records)
    elif output is OutputFormat.json:
        for record in records:
            sys.stdout.write(json.dumps(dict(zip(columns, record, strict=True))) + "\n")
    else:
        table = Table("name", "category", "seen", "blocked", "first seen (UTC)", "last seen (UTC)")
        for name, category, seen, blocked, first, last in records:
            style = "bold red" if category == "UNDECLARED" else None
            table.add_row(
                name, category, str(seen), str(blocked), first[:19], last[:19], style=style
            )
        console.print(table)
        if not records:
            errors.print("no cookie seen yet")


@app.command()
def notice(
    notice_hash: Annotated[str, typer.Argument(help="The notice_hash of an event.")],
    db: DbOption = DEFAULT_LOG_URL,
) -> None:
    """Print the notice (texts and categories as shown) stored under a hash, as JSON."""

    async def work() -> dict[str, Any] | None:
        async with audit.open_log(db) as connection:
            return await audit.read_notice(connection, notice_hash)

    found = _run(work)
    if found is None:
        _fail(f"no notice with hash {notice_hash!r}", code=1)
    sys.stdout.write(json.dumps(found, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


@app.callback()
def _root() -> None:
    """Run the demo site and audit the consent log."""


def main() -> None:
    """Entry point of the ``consent`` script."""
    app()


if __name__ == "__main__":
    main()
