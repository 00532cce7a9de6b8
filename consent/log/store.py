"""Where the consent log lives: database URLs, engines, and the statements that write it.

SQLAlchemy Core: ``sqlite`` (WAL, ``synchronous=FULL``) or ``postgresql+asyncpg``.
The statements are plain functions of a (sync) ``Connection`` inside the caller's
transaction, so that they run the same way under ``AsyncConnection.run_sync``
(PostgreSQL) and in a worker thread with the stdlib driver (SQLite, where each
statement through aiosqlite would cost a thread hand-off; see ``sql.py``).
:func:`append_events` is the only code that extends the chain.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import (
    Connection,
    Engine,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from .chain import canonical_event, chain_hash, utc_text
from .events import ConsentEvent, CookieCount
from .schema import CHAIN_ROW_ID, chain, cookies, events, notices

_DRIVERS: Final = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
# Bound parameters per statement stay well under SQLite's and asyncpg's limits.
_IDS_PER_QUERY: Final = 500


def async_database_url(url: str) -> str:
    """The async-driver form of a log URL (``sqlite://`` → ``sqlite+aiosqlite://``).

    Raises ValueError, naming ``log_url``, for anything that is not a SQLite or
    PostgreSQL URL.
    """
    return _parse(url).render_as_string(hide_password=False)


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ValueError(f"log_url: {url!r} is not a database URL") from error
    backend = parsed.drivername
    if backend in _DRIVERS:
        parsed = parsed.set(drivername=_DRIVERS[backend])
    elif backend not in _DRIVERS.values():
        raise ValueError(
            f"log_url: unsupported database {backend!r}; use sqlite:///path.db "
            "or postgresql+asyncpg://user@host/db"
        )
    return parsed


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite log URL; None for PostgreSQL or an in-memory SQLite."""
    parsed = _parse(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def default_spool_path(url: str) -> Path:
    """``<database>.spool`` beside a SQLite log, else ``./consent-log.spool``."""
    database = sqlite_file(url)
    if database is not None:
        return database.with_name(database.name + ".spool")
    return Path("consent-log.spool")


def create_log_engine(
    url: str, *, existing_only: bool = False, writes: bool = True, busy_timeout: float = 5.0
) -> AsyncEngine:
    """An engine for the log at ``url``.

    ``existing_only`` opens a SQLite file without ever creating it (for the CLI;
    the caller checks first that the file is there, to say so). SQLite
    transactions take the write lock at once when ``writes`` (readers would block
    the application's writers for as long as they read), and wait up to
    ``busy_timeout`` seconds for another writer's lock.
    """
    parsed = _parse(url)
    if not parsed.drivername.startswith("sqlite"):
        return create_async_engine(parsed, pool_size=4, max_overflow=4)
    database = sqlite_file(url)
    if existing_only and database is not None:
        parsed = URL.create(
            parsed.drivername,
            database=f"file:{quote(str(database.resolve()))}",
            query={"mode": "rw", "uri": "true"},
        )
    # Connections are cheap to open, and a pool would tie each one to an event loop.
    engine = create_async_engine(parsed, poolclass=NullPool, connect_args={"timeout": busy_timeout})
    event.listen(engine.sync_engine, "connect", _sqlite_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_begin if writes else _sqlite_begin_read)
    return engine


def create_sqlite_writer_engine(url: str, *, busy_timeout: float) -> Engine:
    """A synchronous engine for writing a SQLite log from one worker thread."""
    database = sqlite_file(url)
    if database is None:
        raise ValueError("log_url: an in-memory SQLite database cannot hold a consent log")
    engine = create_engine(
        URL.create("sqlite", database=str(database)),
        pool_size=1,
        max_overflow=0,
        connect_args={"timeout": busy_timeout},
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is turned off: _sqlite_begin says BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk when it returns, power loss included.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock at the start, so that two processes appending at
    # once queue up instead of both reading the same chain head.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_read(connection: Any) -> None:
    # A deferred transaction: in WAL, one consistent snapshot that blocks no writer.
    connection.exec_driver_sql("BEGIN")


def event_row(event: ConsentEvent, seq: int, prev_hash: str) -> dict[str, Any]:
    """The stored row of an event at position ``seq``, its hash computed."""
    occurred_at = event.occurred_at
    if occurred_at.tzinfo is not UTC:
        occurred_at = occurred_at.astimezone(UTC)
    granted = _json_list(event.granted)
    denied = _json_list(event.denied)
    canonical = canonical_event(
        seq,
        event.event_id,
        event.consent_id,
        utc_text(occurred_at),
        event.action,
        granted,
        denied,
        event.revision,
        event.locale,
        event.mechanism,
        event.notice_hash,
        event.gpc,
        event.ip,
    )
    return {
        "seq": seq,
        "event_id": event.event_id,
        "consent_id": event.consent_id,
        "occurred_at": occurred_at,
        "action": event.action,
        "granted": granted,
        "denied": denied,
        "revision": event.revision,
        "locale": event.locale,
        "mechanism": event.mechanism,
        "notice_hash": event.notice_hash,
        "gpc": event.gpc,
        "ip": event.ip,
        "prev_hash": prev_hash,
        "hash": chain_hash(prev_hash, canonical),
    }


@functools.lru_cache(maxsize=256)
def _json_list(keys: tuple[str, ...]) -> str:
    """The stored text of a list of category keys (a few combinations recur endlessly)."""
    return json.dumps(list(keys), separators=(",", ":"))


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
    head = (
        connection.execute(
            select(chain.c.head_seq, chain.c.head_hash)
            .where(chain.c.id == CHAIN_ROW_ID)
            .with_for_update()
        )
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


_EVENT_COLUMNS: Final = tuple(column.name for column in events.columns)
# SQLite allows 999 bound values per statement before 3.32 (32766 since).
_SQLITE_ROWS_PER_INSERT: Final = 999 // len(_EVENT_COLUMNS)


def _insert_events_sqlite(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows with one multi-row ``INSERT`` per 66 events, values passed as they are stored.

    Measured under load: ``executemany`` steps SQLite once per row, and each step
    releases and re-takes the GIL, which the event loop thread is competing for;
    one statement per batch halves the time the writer thread holds the write lock.
    The values are what SQLAlchemy's SQLite types would store: the time as
    :func:`utc_text` (its DATETIME format), booleans as 0 and 1.
    """
    placeholders = "(" + ", ".join("?" * len(_EVENT_COLUMNS)) + ")"
    for start in range(0, len(rows), _SQLITE_ROWS_PER_INSERT):
        chunk = rows[start : start + _SQLITE_ROWS_PER_INSERT]
        values: list[Any] = []
        for row in chunk:
            for column in _EVENT_COLUMNS:
                value = row[column]
                if column == "occurred_at":
                    value = utc_text(value)
                elif column == "gpc":
                    value = int(value)
                values.append(value)
        statement = (
            f"INSERT INTO {events.name} ({', '.join(_EVENT_COLUMNS)}) "  # noqa: S608 (constants)
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


@dataclass(frozen=True, slots=True)
class ChainState:
    """The chain's two ends, as the writers recorded them."""

    anchor_seq: int
    """The last purged event (0: nothing purged)."""
    anchor_hash: str
    head_seq: int
    """The last event written."""
    head_hash: str
    anchor_before: datetime | None
    purged_at: datetime | None


def read_chain_state(connection: Connection, *, lock: bool = False) -> ChainState:
    """The anchor and the head; ``lock`` holds the row until the transaction ends."""
    query = select(chain).where(chain.c.id == CHAIN_ROW_ID)
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).one()
    return ChainState(
        anchor_seq=int(row.anchor_seq),
        anchor_hash=str(row.anchor_hash),
        head_seq=int(row.head_seq),
        head_hash=str(row.head_hash),
        anchor_before=row.anchor_before,
        purged_at=row.purged_at,
    )


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a purge removed, and the anchor that the rest now verifies from."""

    deleted: int
    anchor_seq: int
    anchor_hash: str


class PurgeError(Exception):
    """The purge cannot keep the chain verifiable (it is broken already)."""


def purge_events_before(connection: Connection, before: datetime) -> PurgeResult:
    """Delete the events before ``before``, in the caller's transaction.

    Only a prefix of the chain can go: everything up to the first event at or after
    ``before`` (``seq`` is storage order, which can differ from time order by the
    length of an outage). The hash of the last deleted event becomes the anchor
    that ``consent verify`` starts from.
    """
    state = read_chain_state(connection, lock=True)
    first_kept = connection.scalar(
        select(func.min(events.c.seq)).where(events.c.occurred_at >= before)
    )
    last_purged = state.head_seq if first_kept is None else int(first_kept) - 1
    if last_purged <= state.anchor_seq:
        return PurgeResult(0, state.anchor_seq, state.anchor_hash)
    anchor_hash = connection.scalar(select(events.c.hash).where(events.c.seq == last_purged))
    if anchor_hash is None:
        raise PurgeError(
            f"event seq {last_purged} is missing, so the log does not verify; "
            "run `consent verify` and investigate before purging"
        )
    result = connection.execute(delete(events).where(events.c.seq <= last_purged))
    connection.execute(
        update(chain)
        .where(chain.c.id == CHAIN_ROW_ID)
        .values(
            anchor_seq=last_purged,
            anchor_hash=anchor_hash,
            anchor_before=before,
            purged_at=datetime.now(UTC),
        )
    )
    return PurgeResult(int(result.rowcount), last_purged, str(anchor_hash))
