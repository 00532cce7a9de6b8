"""The ``consent`` command: the demo site, and the audit of the consent log.

Every log command takes ``--db URL`` (or ``CONSENT_LOG_URL``). Exit status: 0 done
(``verify``: the chain is intact), 1 nothing found or tampering found, 2 a usage
error or a log that cannot be read, with a one-line message on stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time as time_module
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from .cli_cookies import print_inventory
from .cli_demo import demo, load_demo_site
from .cli_options import DEFAULT_LOG_URL, DbOption, parse_moment, parse_region
from .cli_output import (
    OutputFormat,
    console,
    errors,
    export_events,
    print_events,
    print_verification,
    progress_bar,
)
from .cli_stats import stats
from .cli_vcl import vcl
from .log import (
    Action,
    ConsentLogError,
    EventFilter,
    Regime,
    check_checkpoints,
    count_events,
    is_service_key,
    list_cookies,
    plan_purge,
    read_events,
    read_notice,
    verify_log,
)
from .log import purge as purge_log

__all__ = ["app", "load_demo_site", "main", "parse_moment"]


class _LogCommands(TyperGroup):
    """The commands, with one way to end on an error of the consent log."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a log that cannot be read, or used, ends it with status 2."""
        try:
            return super().invoke(ctx)
        except ConsentLogError as error:
            _fail(str(error))


app = typer.Typer(
    name="consent",
    help="Run the demo site and audit the consent log.",
    no_args_is_help=True,
    add_completion=False,
    cls=_LogCommands,
)

app.command()(demo)
app.command()(vcl)
app.command()(stats)

TABLE_LIMIT = 1000
"""Events shown by ``--format table`` unless ``--limit`` says otherwise."""


def _fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


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
    regime: Annotated[
        Regime | None, typer.Option(help="Only the decisions made under this regime.")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            help="Only the decisions made in this subdivision (US-CA), or this country (US) "
            "and its subdivisions.",
        ),
    ] = None,
    service: Annotated[
        str | None, typer.Option(help="Only the decisions that allow this service (its key).")
    ] = None,
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
        action=action,
        regime=regime,
        region=parse_region(region) if region is not None else None,
        service=_service_key(service) if service is not None else None,
    )
    if output is OutputFormat.table and limit is None:
        limit = TABLE_LIMIT

    async def work() -> bool:
        """List the events; False when the consent id asked for has none."""
        total = await count_events(db, where)
        if total == 0 and consent_id is not None:
            return False
        shown = total if limit is None else min(total, limit)
        if output is not OutputFormat.table:
            with progress_bar("exporting", shown) as (advance, _):
                await export_events(read_events(db, where, limit=shown), output, advance)
            return True
        rows = [row async for batch in read_events(db, where, limit=shown) for row in batch]
        if rows:
            print_events(rows)
        else:
            errors.print("no event")
        if shown < total:
            errors.print(f"showing {shown} of {total} events; --limit or --format csv for more")
        return True

    if not asyncio.run(work()):
        _fail(f"no event for consent id {consent_id!r}", code=1)


def _service_key(value: str) -> str:
    """A ``--service`` value: a service key (``youtube``), in any case."""
    key = value.strip().lower()
    if not is_service_key(key):
        raise typer.BadParameter(
            f"{value!r} is not a service key (youtube)", param_hint="--service"
        )
    return key


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

    started = time_module.perf_counter()
    with progress_bar("verifying", None) as (advance, set_total):
        state, report = verify_log(db, advance, on_total=set_total)
    elapsed = time_module.perf_counter() - started
    errors.print(
        f"verified {report.checked} events in {elapsed:.2f} s "
        f"({report.checked / max(elapsed, 1e-9):,.0f} events/s)",
        highlight=False,
    )
    mismatches = asyncio.run(check_checkpoints(db, expected)) if expected else []
    if not print_verification(state, report, mismatches):
        raise typer.Exit(1)


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

    with progress_bar("verifying", None) as (advance, set_total):
        _, report = verify_log(db, advance, on_total=set_total)
    planned = asyncio.run(plan_purge(db, cutoff))
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
    result = asyncio.run(purge_log(db, cutoff))
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
    """Every cookie name the middleware has seen: category or UNDECLARED, seen, blocked.

    Each UNDECLARED name is looked up in the bundled cookie catalogue (platform, the
    category it suggests); the table ends with the settings to paste for them.
    """
    print_inventory(asyncio.run(list_cookies(db)), output)


@app.command()
def notice(
    notice_hash: Annotated[str, typer.Argument(help="The notice_hash of an event.")],
    db: DbOption = DEFAULT_LOG_URL,
) -> None:
    """Print the notice (texts and categories as shown) stored under a hash, as JSON."""
    found = asyncio.run(read_notice(db, notice_hash))
    if found is None:
        _fail(f"no notice with hash {notice_hash!r}", code=1)
    sys.stdout.write(json.dumps(found, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


@app.callback()
def _root() -> None:
    """Run the demo site, audit the consent log, and configure a cache in front."""


def main() -> None:
    """Entry point of the ``consent`` script."""
    app()


if __name__ == "__main__":
    main()
