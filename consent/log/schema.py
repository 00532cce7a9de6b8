"""The consent log's tables, and the migrations that create and upgrade them.

The schema carries a version (``consent_schema_version``). :data:`MIGRATIONS` is
the list of steps from one version to the next: a release that changes the schema
appends a step (``ALTER TABLE ...``, a data move) and never edits an earlier one,
so every log, however old, is brought up to date by running the steps it lacks.
A new log goes through the same steps: version 1 creates only the event columns
of version 1 (``EventField.added_in``), and each later step adds its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    literal,
    select,
    text,
)

from .chain import GENESIS_HASH
from .errors import SchemaError
from .events import STORED_FIELDS, EventField
from .kinds import SEQUENCE

metadata = MetaData()

_SEQ = SEQUENCE.column_type(None)

schema_versions = Table(
    "consent_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def _event_columns(fields: Iterable[EventField]) -> list[Column[Any]]:
    return [
        Column(
            field.name,
            field.kind.column_type(field.length),
            primary_key=field.primary_key,
            autoincrement=False,
            nullable=field.nullable,
            index=field.index,
            unique=field.unique,
        )
        for field in fields
    ]


events = Table("consent_events", metadata, *_event_columns(STORED_FIELDS))
"""One row per decision, in chain order (``seq``). In the database, the columns added
after version 1 come last, after ``hash`` (``ALTER TABLE ... ADD COLUMN``)."""

notices = Table(
    "consent_notices",
    metadata,
    Column("notice_hash", String(64), primary_key=True),
    Column("notice", Text, nullable=False),
    Column("first_stored_at", DateTime(timezone=True), nullable=False),
)
"""What visitors were shown (texts and categories as rendered), once per hash."""

chain = Table(
    "consent_chain",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("head_seq", _SEQ, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("anchor_seq", _SEQ, nullable=False),
    Column("anchor_hash", String(64), nullable=False),
    Column("anchor_before", DateTime(timezone=True), nullable=True),
    Column("purged_at", DateTime(timezone=True), nullable=True),
)
"""One row (``id = 1``): the last event written (head), and the last one purged (anchor).

Writers lock this row for the length of each append, which is what keeps ``seq``
gapless and the links right when several processes write one log."""

CHAIN_ROW_ID: Final = 1

cookies = Table(
    "consent_cookies",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("category", String(32), nullable=False),
    Column("seen", BigInteger, nullable=False),
    Column("blocked", BigInteger, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
)
"""Every cookie name the middleware has seen, with counts."""

# Taken for the length of a PostgreSQL migration, so that two processes starting
# at once do not both create the tables. Any constant works; this one spells "consent".
_MIGRATION_LOCK_KEY: Final = 0x636F6E73656E74


def _create_version_1(connection: Connection) -> None:
    """Events (their version 1 columns), notices, chain head and anchor, cookie inventory."""
    first_events = Table(
        events.name,
        MetaData(),
        *_event_columns(field for field in STORED_FIELDS if field.added_in == 1),
    )
    first_events.create(connection, checkfirst=True)
    metadata.create_all(connection, tables=[notices, chain, cookies], checkfirst=True)
    connection.execute(
        insert(chain).values(
            id=CHAIN_ROW_ID,
            head_seq=0,
            head_hash=GENESIS_HASH,
            anchor_seq=0,
            anchor_hash=GENESIS_HASH,
        )
    )


def _add_event_columns(connection: Connection, version: int) -> None:
    """Add the event columns of ``version``; the rows already stored get their defaults."""
    dialect = connection.dialect
    for field in STORED_FIELDS:
        if field.added_in != version:
            continue
        column_type = field.kind.column_type(field.length)
        definition = f"{field.name} {column_type.compile(dialect=dialect)}"
        if field.default is not None:
            value = literal(field.kind.stored(field.default), column_type)
            compiled = value.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            definition += f" DEFAULT {compiled}"
        if not field.nullable:
            definition += " NOT NULL"
        connection.exec_driver_sql(f"ALTER TABLE {events.name} ADD COLUMN {definition}")


def _add_regime_and_region(connection: Connection) -> None:
    """Each event's regime and region; the events stored before: ``opt-in``, region unknown.

    Their hashes stay valid: the canonical text leaves these two out while they
    hold those defaults (``chain.py``).
    """
    _add_event_columns(connection, 2)


def _add_services(connection: Connection) -> None:
    """Each event's services (a JSON list of keys); the events stored before: none, ``[]``.

    Their hashes stay valid: the canonical text leaves ``services`` out while it
    holds that default (``chain.py``).
    """
    _add_event_columns(connection, 3)


MIGRATIONS: Final[tuple[Callable[[Connection], None], ...]] = (
    _create_version_1,
    _add_regime_and_region,
    _add_services,
)
"""Step ``n`` (1-based) brings a log from version ``n - 1`` to version ``n``."""

SCHEMA_VERSION: Final = len(MIGRATIONS)
"""The version this release writes."""


def stored_version(connection: Connection) -> int:
    """The schema version of the log, 0 when the database holds none."""
    if not connection.dialect.has_table(connection, schema_versions.name):
        return 0
    version = connection.scalar(select(func.max(schema_versions.c.version)))
    return int(version or 0)


def upgrade_schema(connection: Connection) -> int:
    """Create or upgrade the schema inside the caller's transaction; return its version.

    Idempotent, and safe when several processes start at once: PostgreSQL takes an
    advisory lock, SQLite's ``BEGIN IMMEDIATE`` (see ``database.py``) already excludes
    every other writer.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    current = stored_version(connection)
    if current > SCHEMA_VERSION:
        raise SchemaError(
            f"the consent log has schema version {current}, newer than this release "
            f"of consent understands ({SCHEMA_VERSION}): upgrade consent"
        )
    if current == SCHEMA_VERSION:
        return current
    schema_versions.create(connection, checkfirst=True)
    for version in range(current + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[version - 1](connection)
        connection.execute(
            insert(schema_versions).values(version=version, applied_at=datetime.now(UTC))
        )
    return SCHEMA_VERSION


def require_current_schema(connection: Connection) -> None:
    """Raise :class:`SchemaError` unless the log exists at this release's version."""
    version = stored_version(connection)
    if version == 0:
        raise SchemaError("the database holds no consent log (no consent tables)")
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the consent log has schema version {version}, newer than this release "
            f"of consent understands ({SCHEMA_VERSION}): upgrade consent"
        )
    if version < SCHEMA_VERSION:
        raise SchemaError(
            f"the consent log has schema version {version}; start the application "
            f"once (or run `consent purge`) to upgrade it to {SCHEMA_VERSION}"
        )
