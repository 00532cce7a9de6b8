"""The hash chain that makes the consent log tamper-evident.

Every stored event has a gapless sequence number ``seq``, the ``prev_hash`` of the
event before it, and ``hash = sha256(prev_hash + "\\n" + canonical_event(...))``.
Changing, removing, adding or moving an event changes a hash or breaks a link,
which :class:`ChainChecker` finds while reading the events once, in ``seq`` order,
in constant memory. Each event's hash depends only on its own row (its stored
``prev_hash`` included), so stretches of the chain can be checked in parallel and
joined by :func:`join_stretches`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of the first event ever stored."""

FIELD_SEPARATOR: Final = "\x00"
"""Between the fields of the canonical form. Stored text never holds it (PostgreSQL
refuses it in text; the writer never writes it), and a row that does is reported."""

_FIELD_COUNT: Final = 13
# prev_hash, "\n", then the canonical fields (seq, revision and gpc as integers).
_RAW_HASHED: Final = b"%s\n%d" + b"\x00%s" * 6 + b"\x00%d" + b"\x00%s" * 3 + b"\x00%d\x00%s"
_SHA256 = hashlib.sha256

EventRow = tuple[Any, ...]
"""The stored columns of one event, in :data:`CHAIN_COLUMNS` order."""

CHAIN_COLUMNS: Final = (
    "seq",
    "event_id",
    "consent_id",
    "occurred_at",
    "action",
    "granted",
    "denied",
    "revision",
    "locale",
    "mechanism",
    "notice_hash",
    "gpc",
    "ip",
    "prev_hash",
    "hash",
)
"""The columns :class:`ChainChecker` reads, in this order."""


def utc_text(moment: datetime) -> str:
    """The canonical text of a time: UTC, microseconds, no offset."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="microseconds")


def canonical_event(
    seq: int,
    event_id: str,
    consent_id: str,
    occurred_at: datetime | str,
    action: str,
    granted: str,
    denied: str,
    revision: int,
    locale: str,
    mechanism: str,
    notice_hash: str,
    gpc: bool,
    ip: str | None,
) -> str:
    """The exact text an event's hash covers: every stored field, its ``seq`` included.

    ``occurred_at`` is a datetime or already its :func:`utc_text`; ``granted`` and
    ``denied`` are the stored JSON texts. The fields are joined by
    :data:`FIELD_SEPARATOR`, which none of them can hold, so two different events
    never share a canonical form.
    """
    return (
        f"{seq}\x00{event_id}\x00{consent_id}\x00"
        f"{occurred_at if isinstance(occurred_at, str) else utc_text(occurred_at)}\x00{action}\x00"
        f"{granted}\x00{denied}\x00{revision}\x00{locale}\x00{mechanism}\x00{notice_hash}\x00"
        f"{1 if gpc else 0}\x00{'' if ip is None else ip}"
    )


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


class ChainChecker:
    """Checks the events of one stretch of the chain, ``(after_seq, up_to_seq]``.

    Feed batches of rows (columns as in :data:`CHAIN_COLUMNS`, ``seq`` order) while
    :meth:`feed` returns True. ``after_hash`` is the hash of event ``after_seq``
    (the anchor's, or the genesis); None when another checker verifies that part
    of the chain in parallel: the first row's ``prev_hash`` is then taken as given,
    kept in :attr:`first_prev_hash`, and :func:`join_stretches` checks the link.
    Memory stays constant.
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
        self.first_seq: int | None = None
        """``seq`` of the first row fed, None before any."""
        self.first_event_id: str | None = None
        self.first_prev_hash: str | None = None

    def feed(self, rows: Sequence[EventRow]) -> bool:
        """Check the next rows; False once a problem is found (feed no more).

        ``occurred_at`` may be a datetime or already its :func:`utc_text` (what the
        readers of ``audit.py`` fetch).
        """
        if self.problem is not None:
            return False
        if not rows:
            return True
        if self.first_seq is None:
            first = rows[0]
            self.first_seq, self.first_event_id, self.first_prev_hash = (
                first[0],
                first[1],
                first[13],
            )
            if self.last_hash is None:
                self.last_hash = self.first_prev_hash
        expected_seq = self.next_seq
        expected_prev = self.last_hash
        up_to_seq = self.up_to_seq
        sha256 = _SHA256
        for row in rows:
            (seq, event_id, consent_id, at, action, granted, denied, revision, locale, mechanism,
             notice_hash, gpc, ip, prev_hash, stored_hash) = row  # fmt: skip
            if type(at) is not str:
                at = utc_text(at)
            # prev_hash, "\n" and the text of canonical_event(), inlined: this loop runs
            # once per event. Exactly 12 separators: no field holds one.
            hashed = (
                f"{prev_hash}\n{seq}\x00{event_id}\x00{consent_id}\x00{at}\x00{action}\x00"
                f"{granted}\x00{denied}\x00{revision}\x00{locale}\x00{mechanism}\x00"
                f"{notice_hash}\x00{1 if gpc else 0}\x00{'' if ip is None else ip}"
            )
            if (
                seq != expected_seq
                or prev_hash != expected_prev
                or seq > up_to_seq
                or sha256(hashed.encode()).hexdigest() != stored_hash
                or hashed.count(FIELD_SEPARATOR) != _FIELD_COUNT - 1
            ):
                canonical = hashed.partition("\n")[2]
                self.problem = self._diagnose(
                    seq, event_id, canonical, prev_hash, stored_hash, expected_seq
                )
                break
            expected_seq += 1
            expected_prev = stored_hash
        self.checked += expected_seq - self.next_seq
        self.next_seq = expected_seq
        self.last_hash = expected_prev
        return self.problem is None

    def feed_raw(self, rows: Sequence[EventRow]) -> bool:
        """:meth:`feed`, for rows whose text columns are UTF-8 ``bytes``.

        What SQLite hands over with ``text_factory=bytes``: no string is decoded for
        an event that verifies, which makes checking a fifth faster. At the first
        row that does not verify at once (or holds a value of an unexpected type),
        the rest of the batch is decoded and goes through :meth:`feed`, which names
        the problem exactly.
        """
        if self.problem is not None or not rows:
            return self.problem is None
        if self.first_seq is None or self.last_hash is None:
            return self.feed(_decoded(rows[:1])) and self.feed_raw(rows[1:])
        expected_seq = self.next_seq
        expected_prev = self.last_hash.encode()
        up_to_seq = self.up_to_seq
        sha256 = _SHA256
        checked_here = 0
        try:
            for row in rows:
                (seq, event_id, consent_id, at, action, granted, denied, revision, locale,
                 mechanism, notice_hash, gpc, ip, prev_hash, stored_hash) = row  # fmt: skip
                # The bytes of canonical_event()'s text, as in feed().
                hashed = _RAW_HASHED % (
                    prev_hash, seq, event_id, consent_id, at, action, granted, denied, revision,
                    locale, mechanism, notice_hash, 1 if gpc else 0, b"" if ip is None else ip,
                )  # fmt: skip
                if (
                    seq != expected_seq
                    or prev_hash != expected_prev
                    or seq > up_to_seq
                    or sha256(hashed).hexdigest().encode() != stored_hash
                    or hashed.count(b"\x00") != _FIELD_COUNT - 1
                ):
                    break
                expected_seq += 1
                expected_prev = stored_hash
                checked_here += 1
        except (TypeError, ValueError):
            pass  # a value of another type than the writer stores: feed() says which
        self.checked += checked_here
        self.next_seq = expected_seq
        self.last_hash = expected_prev.decode()
        if checked_here == len(rows):
            return True
        return self.feed(_decoded(rows[checked_here:]))

    def _diagnose(
        self,
        seq: int,
        event_id: str,
        canonical: str,
        prev_hash: str,
        stored_hash: str,
        expected_seq: int,
    ) -> ChainProblem:
        """Why the event at ``seq`` does not verify (the first reason that applies)."""
        if seq < expected_seq:
            reason = f"seq {seq} comes again or out of order (expected {expected_seq})"
        elif seq > expected_seq:
            reason = f"the events before it are missing ({_seq_range(expected_seq, seq)}): deleted"
        elif seq > self.up_to_seq:
            reason = f"it comes after the recorded chain head (seq {self.up_to_seq}): inserted"
        elif canonical.count(FIELD_SEPARATOR) != _FIELD_COUNT - 1:
            reason = "a field holds a NUL character: forged"
        elif chain_hash(prev_hash, canonical) != stored_hash:
            reason = "its contents do not match its hash: edited, moved or forged"
        else:
            reason = "its prev_hash is not the hash of the event before it: broken link"
        return ChainProblem(seq, event_id, reason)


def _decoded(rows: Sequence[EventRow]) -> list[EventRow]:
    """Rows with their ``bytes`` values decoded (any byte kept, as a surrogate escape)."""
    return [
        tuple(
            value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
            for value in row
        )
        for row in rows
    ]


def _seq_range(first: int, end: int) -> str:
    """``seq 4`` or ``seq 4–7`` for the events from ``first`` to ``end - 1``."""
    return f"seq {first}" if end == first + 1 else f"seq {first}–{end - 1}"


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
        if stretch.first_seq is None:
            continue  # no rows: whatever is missing shows at the next rows or at the end
        assert stretch.first_event_id is not None
        problem: ChainProblem | None = None
        if stretch.first_seq != next_seq:
            reason = (
                f"the events before it are missing ({_seq_range(next_seq, stretch.first_seq)}): "
                "deleted"
            )
            problem = ChainProblem(stretch.first_seq, stretch.first_event_id, reason)
        elif stretch.problem is not None and stretch.problem.seq == stretch.first_seq:
            problem = stretch.problem
        elif stretch.first_prev_hash != last_hash:
            reason = "its prev_hash is not the hash of the event before it: broken link"
            problem = ChainProblem(stretch.first_seq, stretch.first_event_id, reason)
        if problem is not None:
            return ChainReport(checked, next_seq - 1, last_hash, problem)
        checked += stretch.checked
        next_seq = stretch.next_seq
        assert stretch.last_hash is not None
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
