"""What the consent log raises on purpose: one root, one subclass per cause.

Catch :class:`ConsentLogError` to handle them all; each message is one line
that an operator can act on.
"""

from __future__ import annotations


class ConsentLogError(Exception):
    """The root of every error the consent log raises on purpose."""


class BadLogURL(ConsentLogError, ValueError):
    """The log URL is not one of a SQLite file or a PostgreSQL database.

    Also a ValueError, which is what a malformed setting raises elsewhere.
    """


class SchemaError(ConsentLogError):
    """The database holds no consent log, or one this release cannot use."""


class LogUnavailable(ConsentLogError):
    """The log cannot be opened or read."""


class PurgeError(ConsentLogError):
    """The purge cannot keep the chain verifiable (it is broken already)."""
