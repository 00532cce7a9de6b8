"""Verifying a stored consent log: the whole hash chain, and checkpoints written down earlier.

The chain is cut into consecutive stretches checked in parallel processes, each
reading its events in ``seq`` order straight from the driver (``sqlite3`` with
the stored UTF-8 bytes, or an asyncpg server-side cursor), then joined (see
``join_stretches``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from .chain import ChainChecker, ChainProblem, ChainReport, seq_range
from .database import create_log_engine, open_log, sqlite_file, unreadable
from .errors import LogUnavailable
from .queries import ChainState, first_after, read_chain_state, stored_hash, verified_rows_sql

BATCH: Final = 5000
"""Rows fetched per round trip."""

_SQLITE_MMAP_BYTES: Final = 1 << 33
"""Asked of SQLite when verifying (it keeps to its own build's limit, 2 GiB by default)."""

Progress = Callable[[int], None]
"""Called with the number of rows just processed."""


def verify_log(
    url: str,
    progress: Progress,
    *,
    on_total: Progress | None = None,
    workers: int | None = None,
    events_per_worker: int = 100_000,
) -> tuple[ChainState, ChainReport]:
    """Check the whole chain from the anchor to the head.

    The chain is cut into consecutive stretches checked in parallel by ``workers``
    processes (one per CPU by default; a stretch has at least
    ``events_per_worker`` events, so small logs are checked here). Events written
    meanwhile come after the head read at the start, and are left for the next
    run. ``on_total`` is told how many events there are to check before the first
    is; ``progress`` as they are.

    The workers are forked: call this from a process without other threads (as
    the ``consent`` command does), or with ``workers=1``.
    """
    state, first_after_head = asyncio.run(_chain_ends(url))
    total = state.head_seq - state.anchor_seq
    if on_total is not None:
        on_total(total)
    count = max(1, min(workers or os.cpu_count() or 1, total // max(events_per_worker, 1)))
    bounds = [state.anchor_seq + total * part // count for part in range(count + 1)]
    if count == 1:
        stretches = [
            check_stretch(url, state.anchor_seq, state.anchor_hash, state.head_seq, progress)
        ]
    else:
        stretches = _check_in_parallel(url, bounds, state.anchor_hash, progress)
    report = join_stretches(
        stretches,
        anchor_seq=state.anchor_seq,
        anchor_hash=state.anchor_hash,
        head_seq=state.head_seq,
        head_hash=state.head_hash,
        first_after_head=first_after_head,
    )
    return state, report


def _ends(connection: Connection) -> tuple[ChainState, tuple[int, str] | None]:
    state = read_chain_state(connection)
    return state, first_after(connection, state.head_seq)


async def _chain_ends(url: str) -> tuple[ChainState, tuple[int, str] | None]:
    """The anchor and head, and the first event beyond the head, from one snapshot."""
    async with open_log(url) as connection:
        return await connection.run_sync(_ends)


_shared_progress: Any = None
"""In a worker process: the counter of events checked, shared with the parent."""


def _count_in_shared_progress(done: int) -> None:
    with _shared_progress.get_lock():
        _shared_progress.value += done


def _check_in_worker(
    url: str, after_seq: int, after_hash: str | None, up_to_seq: int
) -> ChainChecker:
    return check_stretch(url, after_seq, after_hash, up_to_seq, _count_in_shared_progress)


def _check_in_parallel(
    url: str, bounds: list[int], anchor_hash: str, progress: Progress
) -> list[ChainChecker]:
    global _shared_progress
    # fork: the workers start at once with everything imported; this process has no
    # other thread at this point (the progress bar does not refresh by itself).
    context = multiprocessing.get_context("fork")
    _shared_progress = context.Value("q", 0)
    shown = 0
    with ProcessPoolExecutor(len(bounds) - 1, mp_context=context) as pool:
        futures = [
            pool.submit(_check_in_worker, url, after, anchor_hash if part == 0 else None, up_to)
            for part, (after, up_to) in enumerate(itertools.pairwise(bounds))
        ]
        while not all(future.done() for future in futures):
            wait(futures, timeout=0.1)
            done = _shared_progress.value
            progress(done - shown)
            shown = done
        return [future.result() for future in futures]


def check_stretch(
    url: str, after_seq: int, after_hash: str | None, up_to_seq: int, progress: Progress
) -> ChainChecker:
    """Check the events ``(after_seq, up_to_seq]``; see ``chain.ChainChecker``."""
    checker = ChainChecker(after_seq=after_seq, after_hash=after_hash, up_to_seq=up_to_seq)
    database = sqlite_file(url)
    if database is None:
        asyncio.run(_check_stretch_postgresql(url, checker, progress))
        return checker
    # Plain sqlite3 in this thread: no event loop or driver thread between the rows
    # and the hashing, which is most of the time spent.
    connection = sqlite3.connect(
        f"file:{quote(str(database.resolve()))}?mode=rw", uri=True, isolation_level=None
    )
    try:
        # Memory-mapped reads: no read() system call and copy per page of the file.
        connection.execute(f"PRAGMA mmap_size={_SQLITE_MMAP_BYTES}")
        # Text as the stored UTF-8 bytes: hashed as they are, never decoded (feed_raw).
        connection.text_factory = bytes
        connection.execute("BEGIN")
        cursor = connection.execute(verified_rows_sql("sqlite"), (after_seq, up_to_seq))
        while batch := cursor.fetchmany(BATCH):
            keep_going = checker.feed_raw(batch)
            progress(len(batch))
            if not keep_going:
                break
    except sqlite3.Error as error:
        raise LogUnavailable(f"cannot read the consent log at {database}: {error}") from error
    finally:
        connection.close()
    return checker


async def _check_stretch_postgresql(url: str, checker: ChainChecker, progress: Progress) -> None:
    engine = create_log_engine(url, existing_only=True, writes=False)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="REPEATABLE READ")
            await connection.begin()
            # The driver begins the transaction at the first statement; the cursor needs one.
            await connection.execute(select(1))
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            # A server-side cursor; the next batch is fetched while this one is hashed.
            cursor = await driver.cursor(
                verified_rows_sql("postgresql"), checker.next_seq - 1, checker.up_to_seq
            )
            ahead = asyncio.ensure_future(cursor.fetch(BATCH))
            try:
                while batch := await ahead:
                    ahead = asyncio.ensure_future(cursor.fetch(BATCH))
                    keep_going = checker.feed(batch)
                    progress(len(batch))
                    if not keep_going:
                        break
            finally:
                if not ahead.done():
                    ahead.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await ahead
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        raise unreadable(url, error) from error
    finally:
        await engine.dispose()


@dataclass(frozen=True, slots=True)
class CheckpointMismatch:
    """A chain head written down earlier that the log no longer holds."""

    seq: int
    expected_hash: str
    stored_hash: str | None
    """What the log holds at that ``seq``; None when it holds no such event."""


def _mismatches(
    connection: Connection, checkpoints: Sequence[tuple[int, str]]
) -> list[CheckpointMismatch]:
    anchor_seq = read_chain_state(connection).anchor_seq
    found = []
    for seq, expected in checkpoints:
        if seq <= anchor_seq:
            continue  # purged since: the anchor stands for it
        stored = stored_hash(connection, seq)
        if stored != expected:
            found.append(CheckpointMismatch(seq, expected, stored))
    return found


async def check_checkpoints(
    url: str, checkpoints: Sequence[tuple[int, str]]
) -> list[CheckpointMismatch]:
    """The checkpoints ``(seq, hash)`` that the log contradicts: a sign of a rewritten log.

    A checkpoint at or before the anchor (purged since) is not looked at.
    """
    async with open_log(url) as connection:
        return await connection.run_sync(_mismatches, checkpoints)


def join_stretches(
    stretches: Sequence[ChainChecker],
    *,
    anchor_seq: int,
    anchor_hash: str,
    head_seq: int,
    head_hash: str,
    first_after_head: tuple[int, str] | None,
) -> ChainReport:
    """The report on a whole chain checked in consecutive stretches (in ``seq`` order).

    Checks what no single stretch can: that each stretch links to the one before,
    that nothing is missing between or after them up to the recorded head, and
    that no event lies beyond the head (``first_after_head``: its seq and event id,
    read in the same snapshot as the head).
    """
    next_seq, last_hash, checked = anchor_seq + 1, anchor_hash, 0
    for stretch in stretches:
        first = stretch.first
        if first is None:
            continue  # no rows: whatever is missing shows at the next rows or at the end
        problem: ChainProblem | None = None
        if first.seq != next_seq:
            missing = seq_range(next_seq, first.seq)
            reason = f"the events before it are missing ({missing}): deleted"
            problem = ChainProblem(first.seq, first.event_id, reason)
        elif stretch.problem is not None and stretch.problem.seq == first.seq:
            problem = stretch.problem
        elif first.prev_hash != last_hash:
            reason = "its prev_hash is not the hash of the event before it: broken link"
            problem = ChainProblem(first.seq, first.event_id, reason)
        if problem is not None:
            return ChainReport(checked, next_seq - 1, last_hash, problem)
        if stretch.last_hash is None:
            # A checker that took a first row holds that row's prev_hash at least.
            raise RuntimeError(f"the stretch from seq {first.seq} holds no last hash")
        checked += stretch.checked
        next_seq = stretch.next_seq
        last_hash = stretch.last_hash
        if stretch.problem is not None:
            return ChainReport(checked, next_seq - 1, last_hash, stretch.problem)
    last_seq = next_seq - 1
    problem = None
    if last_seq < head_seq:
        reason = (
            f"the log ends at seq {last_seq}, but {head_seq} events were written: "
            "the last ones were deleted"
        )
        problem = ChainProblem(last_seq + 1, None, reason)
    elif last_hash != head_hash:
        problem = ChainProblem(
            last_seq, None, "the last event's hash is not the recorded chain head"
        )
    elif first_after_head is not None:
        seq, event_id = first_after_head
        reason = f"it comes after the recorded chain head (seq {head_seq}): inserted"
        problem = ChainProblem(seq, event_id, reason)
    return ChainReport(checked, last_seq, last_hash, problem)
