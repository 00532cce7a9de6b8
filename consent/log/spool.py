"""The local spool: where events wait, on disk, while the store is down or slow.

A JSON Lines file, one event (with the notice it refers to) per line, appended
and ``fsync``'d before the visitor is answered. Several processes may share one
spool: an append holds an exclusive ``flock`` on the file, and a replay first
*claims* the file by renaming it (``<spool>.replay-<random>``) under that lock,
so that appends go on into a fresh file while the claimed one is written to the
store. A claimed file is deleted only after its events are committed; one left
behind by a crash is claimed again by the next replay, which skips the events
already stored (by event id).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from .events import EVENT_FIELDS, ConsentEvent

logger = logging.getLogger("consent")

SpoolEntry = tuple[ConsentEvent, Mapping[str, Any]]
"""An event and the notice it refers to."""

_CLAIM_MARK = ".replay-"
REPLAY_CHUNK: Final = 1000
"""Spooled events stored per transaction during a replay."""


def entry_line(event: ConsentEvent, notice: Mapping[str, Any]) -> bytes:
    """One spool line: the event's fields and its notice, as JSON."""
    record = {f.name: f.kind.spooled(getattr(event, f.name)) for f in EVENT_FIELDS}
    record["notice"] = notice
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def parse_entry_line(line: bytes) -> SpoolEntry:
    """The event and notice of a spool line; ValueError (or KeyError) if it is not one.

    A line spooled before a field was added (``EventField.added_in``) lacks it: the
    event gets that field's default, as the events stored before it did.
    """
    record = json.loads(line)
    event = ConsentEvent(
        **{
            f.name: f.kind.unspooled(record[f.name])
            for f in EVENT_FIELDS
            if f.added_in == 1 or f.name in record
        }
    )
    notice = record["notice"]
    if not isinstance(notice, dict):
        raise ValueError("notice is not an object")
    return event, notice


class Spool:
    """A spool file and the claimed files beside it. Its methods block: call them in a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path.absolute()

    def append(self, entries: Sequence[SpoolEntry]) -> None:
        """Append entries and ``fsync`` them: when this returns, they survive a crash."""
        data = b"".join(entry_line(event, notice) for event, notice in entries)
        with self._locked_spool() as descriptor:
            os.write(descriptor, data)
            os.fsync(descriptor)

    @contextlib.contextmanager
    def _locked_spool(self) -> Iterator[int]:
        """The spool file, opened for appending and exclusively locked."""
        while True:
            created = not self.path.exists()
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                # A replay may have claimed (renamed) the file while we waited for the
                # lock: then write to a new spool file, not into the claimed one.
                if _same_file(descriptor, self.path):
                    if created:
                        _fsync_directory(self.path.parent)
                    yield descriptor
                    return
            finally:
                os.close(descriptor)

    def has_entries(self) -> bool:
        """Whether the spool file holds anything (cheap: one ``stat``)."""
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def claim(self) -> list[Path]:
        """Take the spool's events for a replay: every claimed file, oldest first.

        The current spool file is renamed to a claimed file first, so that appends
        made during the replay go to a new one. Claimed files left by a replay that
        did not finish (here or in another process) are included.
        """
        if self.has_entries():
            with contextlib.suppress(FileNotFoundError), self._locked_spool():
                claimed = self.path.with_name(f"{self.path.name}{_CLAIM_MARK}{uuid.uuid4().hex}")
                os.rename(self.path, claimed)
                _fsync_directory(self.path.parent)
        pattern = f"{self.path.name}{_CLAIM_MARK}*"
        return sorted(self.path.parent.glob(pattern), key=lambda path: path.stat().st_mtime)

    def has_claims(self) -> bool:
        """Whether claimed files wait for a replay."""
        return any(self.path.parent.glob(f"{self.path.name}{_CLAIM_MARK}*"))

    def open_claim(self, claimed: Path) -> tuple[int, list[SpoolEntry]] | None:
        """Lock a claimed file and read its entries; None while another replay holds it.

        The returned descriptor keeps the lock: pass it to :meth:`close_claim` once
        the entries are committed (``finished=True``) or could not be.
        """
        try:
            descriptor = os.open(claimed, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not claimed.exists():
                # Finished and deleted by another replay between our open and our lock.
                os.close(descriptor)
                return None
            chunks: list[bytes] = []
            while chunk := os.read(descriptor, 1 << 20):
                chunks.append(chunk)
        except BlockingIOError:
            os.close(descriptor)
            return None
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor, _parse_lines(b"".join(chunks), claimed)

    def close_claim(self, claimed: Path, descriptor: int, *, finished: bool) -> None:
        """Release a claimed file; delete it first when all its entries are stored."""
        try:
            if finished:
                with contextlib.suppress(FileNotFoundError):
                    claimed.unlink()
        finally:
            os.close(descriptor)


async def replay_spool(
    spool: Spool,
    store: Callable[[Sequence[SpoolEntry]], Awaitable[int]],
    *,
    deadline: float | None,
) -> bool:
    """Store what the spool holds, oldest first; whether every claimed file was finished.

    ``store`` commits a chunk of entries (skipping those already stored) and says
    how many were new. Stops early, leaving the rest for the next replay, once
    ``deadline`` (``time.monotonic()``) has passed.
    """
    for claimed in await asyncio.to_thread(spool.claim):
        if deadline is not None and time.monotonic() > deadline:
            return False
        opened = await _open_claim(spool, claimed)
        if opened is None:
            continue
        descriptor, entries = opened
        finished = False
        try:
            added = 0
            for start in range(0, len(entries), REPLAY_CHUNK):
                if deadline is not None and time.monotonic() > deadline:
                    break
                added += await store(entries[start : start + REPLAY_CHUNK])
            else:
                finished = True
            if added:
                logger.info("consent log: %d spooled events stored from %s", added, claimed)
        finally:
            # Not awaited: this also runs when a timeout cancels the replay, and
            # an unlink and a close are quick.
            spool.close_claim(claimed, descriptor, finished=finished)
        if not finished:
            return False
    return True


async def _open_claim(spool: Spool, claimed: Path) -> tuple[int, list[SpoolEntry]] | None:
    """``Spool.open_claim`` in a thread, its lock released even if we are cancelled."""
    opening = asyncio.get_running_loop().run_in_executor(None, spool.open_claim, claimed)
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:

        def release(done: asyncio.Future[tuple[int, list[SpoolEntry]] | None]) -> None:
            opened = None if done.cancelled() or done.exception() else done.result()
            if opened is not None:
                spool.close_claim(claimed, opened[0], finished=False)

        opening.add_done_callback(release)
        raise


def _parse_lines(data: bytes, claimed: Path) -> list[SpoolEntry]:
    entries: list[SpoolEntry] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(parse_entry_line(line))
        except (ValueError, KeyError, TypeError) as error:
            # Only a write cut short by a crash leaves such a line, and that write
            # was never acknowledged (its fsync had not returned).
            logger.warning(
                "consent log: skipping unreadable spool line %s:%d (%s)", claimed, number, error
            )
    return entries


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (opened.st_dev, opened.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _fsync_directory(directory: Path) -> None:
    """Make a file's creation or renaming durable, not only its contents."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
