"""The hash chain that makes the consent log tamper-evident.

Every stored event has a gapless sequence number ``seq``, the ``prev_hash`` of the
event before it, and ``hash = sha256(prev_hash + "\\n" + canonical_event(...))``,
where the canonical text joins the event's :data:`~.events.HASHED_FIELDS`.

A field added to events later (``EventField.added_in`` above 1: ``regime`` and
``region`` in version 2, ``services`` in version 3) was not hashed in the events
stored before it, which read it back as its default. So that those events still
verify, the canonical text leaves out the later fields at its end while they
hold their defaults: an event with regime ``opt-in``, no region and no services
is hashed exactly as in version 1; with regime ``opt-out`` and nothing after it,
the text ends ``...\\x00opt-out``; with region ``FR``, ``...\\x00opt-in\\x00FR``;
with the service ``youtube`` alone, ``...\\x00opt-in\\x00\\x00["youtube"]``. Two
different events still never share a text: the number of separators says how
many fields were hashed, and a field left out can only have held its default
(``None`` and an empty text being the same value, as for ``ip``; no services
being the empty list ``[]``). No per-event version is stored: the rule is one
function of the row, for old and new events alike.

Changing, removing, adding or moving an event changes a hash or breaks a link,
which :class:`ChainChecker` finds while reading the events once, in ``seq`` order,
in constant memory. Each event's hash depends only on its own row (its stored
``prev_hash`` included), so stretches of the chain can be checked in parallel and
joined by :func:`join_stretches`. Pure: nothing here reads a database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from .events import HASHED_FIELDS

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of the first event ever stored."""

FIELD_SEPARATOR: Final = "\x00"
"""Between the fields of the canonical form. Stored text never holds it (PostgreSQL
refuses it in text; the writer never writes it), and a row that does is reported."""

_SHA256 = hashlib.sha256

_FIRST_LATER: Final = next(
    (index for index, field in enumerate(HASHED_FIELDS) if field.added_in > 1), len(HASHED_FIELDS)
)
"""Where the fields added after version 1 start in :data:`~.events.HASHED_FIELDS`."""
_LATER_DEFAULTS: Final = tuple(
    field.kind.canonical(field.kind.stored(field.default)) for field in HASHED_FIELDS[_FIRST_LATER:]
)
"""The canonical texts of those fields' defaults, in order."""
_LATER_DEFAULTS_RAW: Final = tuple(text.encode() for text in _LATER_DEFAULTS)
"""The same, as the UTF-8 bytes that :meth:`ChainChecker.feed_raw` compares."""

VerifiedRow = Sequence[Any]
"""One event as :class:`ChainChecker` reads it, columns as in :data:`VERIFIED_COLUMNS`."""

VERIFIED_COLUMNS: Final = ("prev_hash", *(f.name for f in HASHED_FIELDS), "hash")
"""The columns :class:`ChainChecker` reads, in this order: ``seq`` as a number, every
other hashed field as its canonical text (``FieldKind.canonical``), so that the
hashed text is the row's values joined, with no conversion per field."""

# In a verified row: where the later fields start (prev_hash comes before seq), and
# the index of the hash, which the hashed values end before.
_ROW_FIRST_LATER: Final = _FIRST_LATER + 1
_ROW_HASH: Final = len(VERIFIED_COLUMNS) - 1


def canonical_event(*values: Any) -> str:
    """The exact text an event's hash covers: its stored :data:`~.events.HASHED_FIELDS`.

    ``values`` are the stored values in that order (``seq`` first; ``granted`` and
    ``denied`` as their JSON texts; a time as a datetime or already its
    ``utc_text``). The fields are joined by :data:`FIELD_SEPARATOR`, which none
    of them can hold, so two different events never share a canonical form; the
    later fields at the end that hold their defaults are left out (module docstring).
    """
    if len(values) != len(HASHED_FIELDS):
        raise TypeError(f"an event has {len(HASHED_FIELDS)} hashed fields, not {len(values)}")
    texts = [
        field.kind.canonical(value) for field, value in zip(HASHED_FIELDS, values, strict=True)
    ]
    return FIELD_SEPARATOR.join(texts[: hashed_end(texts, _FIRST_LATER, len(texts))])


def hashed_end(values: Sequence[Any], first_later: int, end: int) -> int:
    """Where the hashed values of an event end: before the later fields left at their defaults.

    ``values[first_later:end]`` are the canonical texts of the fields added later;
    the result is ``end`` less those of them, from the end, that hold their defaults.
    """
    defaults = _LATER_DEFAULTS
    while end > first_later and values[end - 1] == defaults[end - 1 - first_later]:
        end -= 1
    return end


def chain_hash(prev_hash: str, canonical: str) -> str:
    """The hash of an event, given the hash of the one before it."""
    return _SHA256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first place where the stored chain differs from what was written."""

    seq: int
    """Sequence number of the first bad event (or of the first missing one)."""
    event_id: str | None
    """Its event id, None when the event is missing altogether."""
    reason: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of verifying a whole chain."""

    checked: int
    """Events that verified."""
    last_seq: int
    """``seq`` of the last event that verified (the anchor's when none did)."""
    last_hash: str
    """Its hash: write it down somewhere else to detect a later rewrite of the whole log."""
    problem: ChainProblem | None

    @property
    def intact(self) -> bool:
        """Whether every event verified and the chain ends at the recorded head."""
        return self.problem is None


@dataclass(frozen=True, slots=True)
class FirstRow:
    """The first row a :class:`ChainChecker` was fed: what joins it to the stretch before."""

    seq: int
    event_id: str
    prev_hash: str


class ChainChecker:
    """Checks the events of one stretch of the chain, ``(after_seq, up_to_seq]``.

    Feed batches of rows (columns as in :data:`VERIFIED_COLUMNS`, ``seq`` order)
    while :meth:`feed` returns True. ``after_hash`` is the hash of event
    ``after_seq`` (the anchor's, or the genesis); None when another checker
    verifies that part of the chain in parallel: the first row's ``prev_hash`` is
    then taken as given, kept in :attr:`first`, and :func:`join_stretches` checks
    the link. Memory stays constant.
    """

    def __init__(self, *, after_seq: int, after_hash: str | None, up_to_seq: int) -> None:
        self.next_seq = after_seq + 1
        """The ``seq`` the next row must have."""
        self.last_hash = after_hash
        """The hash of the last event that verified."""
        self.up_to_seq = up_to_seq
        self.checked = 0
        """Events that verified."""
        self.problem: ChainProblem | None = None
        self.first: FirstRow | None = None
        """The first row fed, None before any."""

    def feed(self, rows: Sequence[VerifiedRow]) -> bool:
        """Check the next rows (text columns as ``str``); False once a problem is found."""
        if self.problem is not None:
            return False
        if not rows:
            return True
        if self.first is None:
            self._take_first(rows[0])
        expected_seq = self.next_seq
        expected_prev = self.last_hash
        up_to_seq = self.up_to_seq
        sha256 = _SHA256
        join = FIELD_SEPARATOR.join
        first_later, defaults = _ROW_FIRST_LATER, _LATER_DEFAULTS
        for row in rows:
            seq = row[1]
            # hashed_end(), inline: this loop is most of the time verify takes.
            end = _ROW_HASH
            while end > first_later and row[end - 1] == defaults[end - 1 - first_later]:
                end -= 1
            try:
                # prev_hash, "\n", then the canonical text: seq and the texts the row holds.
                hashed = f"{row[0]}\n{seq}{FIELD_SEPARATOR}{join(row[2:end])}"
            except TypeError:
                hashed = None  # a value of another type than the writer stores: edited
            if (
                hashed is None
                or seq != expected_seq
                or row[0] != expected_prev
                or seq > up_to_seq
                or sha256(hashed.encode()).hexdigest() != row[-1]
                # One separator after seq, one between each two of the texts after it.
                or hashed.count(FIELD_SEPARATOR) != end - 2
            ):
                self.problem = self._diagnose(row, expected_seq)
                break
            expected_seq += 1
            expected_prev = row[-1]
        self.checked += expected_seq - self.next_seq
        self.next_seq = expected_seq
        self.last_hash = expected_prev
        return self.problem is None

    def feed_raw(self, rows: Sequence[VerifiedRow]) -> bool:
        """:meth:`feed`, for rows whose text columns are UTF-8 ``bytes``.

        What SQLite hands over with ``text_factory=bytes``: no string is decoded for
        an event that verifies, which makes checking a fifth faster. At the first
        row that does not verify at once (or holds a value of an unexpected type),
        the rest of the batch is decoded and goes through :meth:`feed`, which names
        the problem exactly.
        """
        if self.problem is not None or not rows:
            return self.problem is None
        if self.first is None or self.last_hash is None:
            return self.feed(_decoded(rows[:1])) and self.feed_raw(rows[1:])
        expected_seq = self.next_seq
        expected_prev = self.last_hash.encode()
        up_to_seq = self.up_to_seq
        sha256 = _SHA256
        join = FIELD_SEPARATOR.encode().join
        first_later, defaults = _ROW_FIRST_LATER, _LATER_DEFAULTS_RAW
        checked_here = 0
        try:
            for row in rows:
                seq = row[1]
                end = _ROW_HASH  # hashed_end(), inline
                while end > first_later and row[end - 1] == defaults[end - 1 - first_later]:
                    end -= 1
                # The bytes of feed()'s text.
                hashed = b"%s\n%d\x00%s" % (row[0], seq, join(row[2:end]))
                if (
                    seq != expected_seq
                    or row[0] != expected_prev
                    or seq > up_to_seq
                    or sha256(hashed).hexdigest().encode() != row[-1]
                    or hashed.count(b"\x00") != end - 2
                ):
                    break
                expected_seq += 1
                expected_prev = row[-1]
                checked_here += 1
        except (TypeError, ValueError):
            pass  # a value of another type than the writer stores: feed() says which
        self.checked += checked_here
        self.next_seq = expected_seq
        self.last_hash = expected_prev.decode()
        if checked_here == len(rows):
            return True
        return self.feed(_decoded(rows[checked_here:]))

    def _take_first(self, row: VerifiedRow) -> None:
        self.first = FirstRow(row[1], str(row[2]), str(row[0]))
        if self.last_hash is None:
            self.last_hash = self.first.prev_hash

    def _diagnose(self, row: VerifiedRow, expected_seq: int) -> ChainProblem:
        """Why the event in ``row`` does not verify (the first reason that applies)."""
        prev_hash, seq, event_id, stored_hash = row[0], row[1], str(row[2]), row[-1]
        end = hashed_end(row, _ROW_FIRST_LATER, _ROW_HASH)
        canonical = FIELD_SEPARATOR.join(str(value) for value in row[1:end])
        if seq < expected_seq:
            reason = f"seq {seq} comes again or out of order (expected {expected_seq})"
        elif seq > expected_seq:
            reason = f"the events before it are missing ({seq_range(expected_seq, seq)}): deleted"
        elif seq > self.up_to_seq:
            reason = f"it comes after the recorded chain head (seq {self.up_to_seq}): inserted"
        elif canonical.count(FIELD_SEPARATOR) != end - 2:
            reason = "a field holds a NUL character: forged"
        elif chain_hash(str(prev_hash), canonical) != stored_hash:
            reason = "its contents do not match its hash: edited, moved or forged"
        else:
            reason = "its prev_hash is not the hash of the event before it: broken link"
        return ChainProblem(seq, event_id, reason)


def _decoded(rows: Sequence[VerifiedRow]) -> list[VerifiedRow]:
    """Rows with their ``bytes`` values decoded (any byte kept, as a surrogate escape)."""
    return [
        tuple(
            value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
            for value in row
        )
        for row in rows
    ]


def seq_range(first: int, end: int) -> str:
    """``seq 4`` or ``seq 4–7`` for the events from ``first`` to ``end - 1``."""
    return f"seq {first}" if end == first + 1 else f"seq {first}–{end - 1}"
