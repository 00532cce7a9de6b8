"""Deleting old events so that what remains still verifies.

Only a prefix of the chain can go: everything up to the first event at or after
the cut-off (``seq`` is storage order, which can differ from time order by the
length of an outage). The hash of the last deleted event becomes the anchor that
verification starts from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from .database import open_log
from .queries import last_seq_before, read_chain_state
from .statements import delete_up_to


@dataclass(frozen=True, slots=True)
class PurgePlan:
    """What a purge before a date would delete."""

    events: int
    first_seq: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a purge removed, and the anchor that the rest now verifies from."""

    deleted: int
    anchor_seq: int
    anchor_hash: str


def purge_events_before(connection: Connection, before: datetime) -> PurgeResult:
    """Delete the events recorded before ``before``, in the caller's transaction.

    Raises :class:`~.errors.PurgeError` when the last event to delete is missing
    (the log does not verify).
    """
    state = read_chain_state(connection, lock=True)
    last_purged = last_seq_before(connection, before, state)
    if last_purged <= state.anchor_seq:
        return PurgeResult(0, state.anchor_seq, state.anchor_hash)
    deleted, anchor_hash = delete_up_to(connection, last_purged, before)
    return PurgeResult(deleted, last_purged, anchor_hash)


def _plan(connection: Connection, before: datetime) -> PurgePlan:
    state = read_chain_state(connection)
    last = last_seq_before(connection, before, state)
    return PurgePlan(last - state.anchor_seq, state.anchor_seq + 1, last)


async def plan_purge(url: str, before: datetime) -> PurgePlan:
    """The prefix of the chain that :func:`purge` would delete, deleting nothing."""
    async with open_log(url) as connection:
        return await connection.run_sync(_plan, before)


async def purge(url: str, before: datetime) -> PurgeResult:
    """Delete the events recorded before ``before`` and commit; the rest still verifies.

    Upgrades an older schema first. Raises :class:`~.errors.LogUnavailable` for a
    log that cannot be opened, :class:`~.errors.PurgeError` for one that does not
    verify where the cut falls.
    """
    async with open_log(url, writes=True) as connection:
        result = await connection.run_sync(purge_events_before, before)
        await connection.commit()
    return result
