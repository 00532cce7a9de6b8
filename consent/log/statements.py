"""The SQL that writes the consent log.

Plain functions of a (sync) ``Connection`` inside the caller's transaction, so
that they run the same way under ``AsyncConnection.run_sync`` (PostgreSQL) and
in a worker thread with the stdlib driver (SQLite, where each statement through
aiosqlite would cost a thread hand-off; see ``transactions.py``).
:func:`append_events` is the only code that extends the chain. The reads are in
``queries.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence, Set
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, case, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .chain import canonical_event, chain_hash
from .errors import PurgeError
from .events import HASHED_FIELDS, STORED_FIELDS, ConsentEvent, CookieCount, stored_values
from .queries import stored_hash
from .schema import CHAIN_ROW_ID, chain, cookies, events, notices

# Bound parameters per statement stay well under SQLite's and asyncpg's limits.
_IDS_PER_QUERY: Final = 500
_HASHED_NAMES: Final = tuple(f.name for f in HASHED_FIELDS)


def event_row(event: ConsentEvent, seq: int, prev_hash: str) -> dict[str, Any]:
    """The stored row of an event at position ``seq``, its hash computed."""
    row: dict[str, Any] = {"seq": seq, **stored_values(event)}
    canonical = canonical_event(*(row[name] for name in _HASHED_NAMES))
    row["prev_hash"] = prev_hash
    row["hash"] = chain_hash(prev_hash, canonical)
    return row


def _insert(connection: Connection) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT``."""
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def append_events(
    connection: Connection,
    entries: Sequence[tuple[ConsentEvent, Mapping[str, Any]]],
    *,
    skip_stored: bool,
    known_notices: Set[str] = frozenset(),
) -> tuple[int, set[str]]:
    """Chain and insert events with their notices.

    Returns how many events were new, and the hashes of the notices stored (those
    in ``known_notices`` are not looked at: the caller knows they are stored).

    Locks the chain head row first (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite
    the transaction's ``BEGIN IMMEDIATE`` already holds the only write lock), so that
    appends from every process are serialised and ``seq`` stays gapless.
    ``skip_stored`` drops events whose ``event_id`` is already stored: a spooled
    event whose first attempt did commit after all is not stored twice.
    """
    head = connection.execute(
        select(chain.c.head_seq, chain.c.head_hash)
        .where(chain.c.id == CHAIN_ROW_ID)
        .with_for_update()
    ).one()
    unique: dict[str, tuple[ConsentEvent, Mapping[str, Any]]] = {}
    for entry in entries:
        unique.setdefault(entry[0].event_id, entry)
    if skip_stored:
        for stored_id in _stored_event_ids(connection, list(unique)):
            del unique[stored_id]
    if not unique:
        return 0, set()
    new_notices = {
        event_.notice_hash: notice
        for event_, notice in unique.values()
        if event_.notice_hash not in known_notices
    }
    store_notices(connection, new_notices)
    seq, prev_hash = int(head.head_seq), str(head.head_hash)
    rows: list[dict[str, Any]] = []
    for event_, _notice in unique.values():
        seq += 1
        row = event_row(event_, seq, prev_hash)
        prev_hash = row["hash"]
        rows.append(row)
    if connection.dialect.name == "sqlite":
        _insert_events_sqlite(connection, rows)
    else:
        connection.execute(insert(events), rows)
    connection.execute(
        update(chain).where(chain.c.id == CHAIN_ROW_ID).values(head_seq=seq, head_hash=prev_hash)
    )
    return len(rows), set(new_notices)


# SQLite allows 999 bound values per statement before 3.32 (32766 since).
_SQLITE_ROWS_PER_INSERT: Final = 999 // len(STORED_FIELDS)


def _insert_events_sqlite(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows with one multi-row ``INSERT`` per 66 events, values passed as they are stored.

    Measured under load: ``executemany`` steps SQLite once per row, and each step
    releases and re-takes the GIL, which the event loop thread is competing for;
    one statement per batch halves the time the writer thread holds the write lock.
    The values are what SQLAlchemy's SQLite types would store (``FieldKind.in_sqlite``).
    """
    names = ", ".join(f.name for f in STORED_FIELDS)
    placeholders = "(" + ", ".join("?" * len(STORED_FIELDS)) + ")"
    for start in range(0, len(rows), _SQLITE_ROWS_PER_INSERT):
        chunk = rows[start : start + _SQLITE_ROWS_PER_INSERT]
        values = [f.kind.in_sqlite(row[f.name]) for row in chunk for f in STORED_FIELDS]
        statement = (
            f"INSERT INTO {events.name} ({names}) "  # noqa: S608 (constants)
            f"VALUES {', '.join([placeholders] * len(chunk))}"
        )
        connection.exec_driver_sql(statement, tuple(values))


def _stored_event_ids(connection: Connection, event_ids: list[str]) -> set[str]:
    stored: set[str] = set()
    for start in range(0, len(event_ids), _IDS_PER_QUERY):
        chunk = event_ids[start : start + _IDS_PER_QUERY]
        result = connection.scalars(select(events.c.event_id).where(events.c.event_id.in_(chunk)))
        stored.update(result)
    return stored


def store_notices(connection: Connection, by_hash: Mapping[str, Mapping[str, Any]]) -> None:
    """Store each notice text once per hash (a notice already there is left as it is)."""
    if not by_hash:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "notice_hash": notice_hash,
            "notice": json.dumps(notice, sort_keys=True, ensure_ascii=False),
            "first_stored_at": now,
        }
        for notice_hash, notice in sorted(by_hash.items())
    ]
    statement = _insert(connection)(notices).on_conflict_do_nothing(index_elements=["notice_hash"])
    connection.execute(statement, rows)


def add_cookie_counts(connection: Connection, counts: Mapping[str, CookieCount]) -> None:
    """Add the counts to the cookie inventory (one upsert for all names)."""
    if not counts:
        return
    rows = [
        {
            "name": name,
            "category": count.category,
            "seen": count.seen,
            "blocked": count.blocked,
            "first_seen": datetime.fromtimestamp(count.first_seen, UTC),
            "last_seen": datetime.fromtimestamp(count.last_seen, UTC),
        }
        # The same order in every process, so that two flushes cannot deadlock.
        for name, count in sorted(counts.items())
    ]
    statement = _insert(connection)(cookies)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "category": new.category,
            "seen": cookies.c.seen + new.seen,
            "blocked": cookies.c.blocked + new.blocked,
            "first_seen": case(
                (new.first_seen < cookies.c.first_seen, new.first_seen),
                else_=cookies.c.first_seen,
            ),
            "last_seen": case(
                (new.last_seen > cookies.c.last_seen, new.last_seen), else_=cookies.c.last_seen
            ),
        },
    )
    connection.execute(statement, rows)


def delete_up_to(connection: Connection, last_seq: int, before: datetime) -> tuple[int, str]:
    """Delete the events up to ``last_seq`` and anchor the chain there.

    Returns how many were deleted, and the anchor's hash (that of event ``last_seq``).
    """
    anchor_hash = stored_hash(connection, last_seq)
    if anchor_hash is None:
        raise PurgeError(
            f"event seq {last_seq} is missing, so the log does not verify; "
            "run `consent verify` and investigate before purging"
        )
    result = connection.execute(delete(events).where(events.c.seq <= last_seq))
    connection.execute(
        update(chain)
        .where(chain.c.id == CHAIN_ROW_ID)
        .values(
            anchor_seq=last_seq,
            anchor_hash=anchor_hash,
            anchor_before=before,
            purged_at=datetime.now(UTC),
        )
    )
    return int(result.rowcount), anchor_hash
