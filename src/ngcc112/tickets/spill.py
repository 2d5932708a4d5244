"""The ticket path's overflow: call events that find the daemon's outbox full go to the journal.

The outbox between the tracker and the ticket writer is bounded. When it is full the
daemon neither drops the event nor blocks the AMI link's read loop: it *spills*. The
outbox's contents and every later event, resync markers included, go in order to a
short in-memory list that :class:`Spill`'s flusher appends to the durable journal
(fsync'd, one transaction per flush), and the ticket writer then takes them from the
journal, oldest first, until the journal is empty again; only then do new events use the
outbox again. So the journal's order is always the tracker's order, and a crash during a
spill loses nothing: the next start writes what the journal holds.

A journal that fails to append is retried with backoff, the events kept in memory in
order meanwhile (logged): never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from ngcc112.backoff import Backoff
from ngcc112.ami.events import CallsResynced
from ngcc112.tickets.journal import Journal, Journalled

log = structlog.get_logger(__name__)


class Spill:
    """Events on their way to the journal while the outbox is full; see the module docstring."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        #: True from the first spilled event until the writer has taken the last one from the journal.
        self.active = False
        self.spilled = 0
        self._buffer: list[Journalled] = []
        self._flushing = 0
        self._wake = asyncio.Event()
        #: Set after each flush reached the journal (the writer waits on it for more).
        self.flushed = asyncio.Event()
        #: Set whenever no spill is going on.
        self.over = asyncio.Event()
        self.over.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._flush(), name="ngcc112-spill")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def put(self, events: list[Journalled]) -> None:
        """Spill ``events`` (in order, after everything spilled before)."""
        if not self.active:
            self.active = True
            self.over.clear()
            log.warning("ticket.outbox_full", action="spilling to the journal", journal=str(self.journal.path))
        self._buffer.extend(events)
        self.spilled += len(events)
        self._wake.set()

    @property
    def in_memory(self) -> int:
        """Spilled events not yet on disk."""
        return len(self._buffer) + self._flushing

    def end_if_empty(self) -> bool:
        """The writer found the journal empty: end the spill unless more is on its way."""
        if self.in_memory:
            return False
        self.active = False
        self.over.set()
        log.info("ticket.spill_over", spilled=self.spilled)
        return True

    async def drain(self, write: Callable[[list[tuple[int, Journalled]]], Awaitable[None]], chunk: int) -> None:
        """Hand the journal's rows to ``write`` (which forgets them once written), ``chunk`` at a
        time, oldest first, until the journal is empty and nothing more is on its way."""
        while True:
            self.flushed.clear()
            try:
                rows = await self.journal.pending(chunk)
            except Exception as exc:
                log.error("ticket.journal_failed", journal=str(self.journal.path), error=str(exc))
                await asyncio.sleep(1.0)
                continue
            if rows:
                await write(rows)
            elif self.end_if_empty():
                return
            else:
                await self.flushed.wait()

    async def _flush(self) -> None:
        backoff = Backoff(first=0.1, cap=5.0)
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._buffer:
                batch, self._buffer = self._buffer, []
                self._flushing = len(batch)
                try:
                    await self.journal.append(batch)
                except asyncio.CancelledError:
                    self._buffer = batch + self._buffer
                    raise
                except Exception as exc:
                    self._buffer = batch + self._buffer
                    delay = backoff.next()
                    log.error("ticket.spill_failed", journal=str(self.journal.path), error=str(exc), retry_in=delay)
                    await asyncio.sleep(delay)
                    continue
                finally:
                    self._flushing = 0
                backoff.reset()
                self.flushed.set()


def in_runs(events: list[Journalled]) -> list[list[Journalled]]:
    """Consecutive call events together, each resync marker alone, in order (one write each)."""
    runs: list[list[Journalled]] = []
    for event in events:
        if isinstance(event, CallsResynced) or not runs or isinstance(runs[-1][0], CallsResynced):
            runs.append([event])
        else:
            runs[-1].append(event)
    return runs
