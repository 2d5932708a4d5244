"""The call pipeline: AMI link → tracker → ticket store, in order, never blocking the link.

Three tasks joined by two queues:

* the link's read loop hands every event, snapshot and link state to
  ``inbox`` through one synchronous callback (never awaits);
* ``_track`` feeds them to the pure :class:`CallTracker` and publishes its
  call and operator events on the hub at once (screen-pop must not wait for
  the database);
* ``_persist`` writes the call events to the ticket store in batches. Each
  batch goes to the durable :class:`~ngcc112.tickets.journal.Journal` first
  (fsync'd) and leaves it once the database committed it (with the next append); when the database
  is away the batch is retried with backoff, in order. At start, whatever the
  journal still holds (a SIGKILL during an outage) is written before any new
  event: a database outage delays tickets, it loses none.

Call facts carry Asterisk's own time (each event's ``Timestamp``, manager.conf
``timestampevents = yes``); the injected :class:`~ngcc112.clock.Clock` stamps
what Asterisk does not (resync snapshots, events without a ``Timestamp``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy.exc import InterfaceError, OperationalError

from ngcc112.ami.events import CallEvent, CallsResynced, TrackerEvent
from ngcc112.ami.link import AmiLink
from ngcc112.ami.link_items import LinkItem, LinkState, QueueSnapshot, Snapshot
from ngcc112.ami.message import AmiMessage
from ngcc112.ami.tracker import CallTracker
from ngcc112.backoff import Backoff
from ngcc112.clock import SYSTEM_CLOCK, Clock, utc
from ngcc112.hub import Hub
from ngcc112.settings import Settings
from ngcc112.tickets.journal import Journal, Journalled, default_path
from ngcc112.tickets.spill import Spill, in_runs
from ngcc112.tickets.store import TicketStore

log = structlog.get_logger(__name__)

#: Errors that mean "the database is away": keep the event and try again.
#: At most this many call events share one transaction.
MAX_BATCH = 200
#: Seconds one batch may take to reach the database before it counts as away.
WRITE_TIMEOUT = 15.0
#: Bounds of the two queues (docs/backpressure.md). A full outbox spills call events to the
#: journal (:mod:`ngcc112.tickets.spill`); a full inbox is tracked at once by the link's
#: callback itself, in order. Neither ever drops an item or blocks the link's read loop.
OUTBOX_MAX = 10_000
INBOX_MAX = 10_000
RETRYABLE = (OperationalError, InterfaceError, OSError, ConnectionError, asyncio.TimeoutError)

#: Makes the daemon's AMI link from the one callback that takes everything the link reads
#: (the default makes an :class:`AmiLink` from ``[ami]``; a harness passes its own).
LinkFactory = Callable[[Callable[[LinkItem], None]], AmiLink]


@dataclass(slots=True)
class PipelineStats:
    ami_events: int = 0
    call_events: int = 0
    tickets_written: int = 0
    db_failures: int = 0
    db_backlog: int = 0
    last_db_error: str = ""
    extra: dict[str, object] = field(default_factory=dict)


class CallDaemon:
    def __init__(
        self,
        settings: Settings,
        store: TicketStore,
        hub: Hub,
        *,
        clock: Clock = SYSTEM_CLOCK,
        link: LinkFactory | None = None,
        outbox_max: int = OUTBOX_MAX,
        inbox_max: int = INBOX_MAX,
    ) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.stats = PipelineStats()
        self.clock = clock
        calls = settings.calls
        self.tracker = CallTracker(
            context=calls.context,
            extensions=calls.extensions,
            queues=(calls.queue, calls.supervisor_queue),
            server_name=settings.ami.server_name,
        )
        self._inbox: asyncio.Queue[LinkItem] = asyncio.Queue(inbox_max)
        self._outbox_max = outbox_max
        if link is None:

            def link(receive: Callable[[LinkItem], None]) -> AmiLink:
                queues = (calls.queue, calls.supervisor_queue)
                return AmiLink(settings.ami, receive, resync_queues=queues, clock=lambda: utc(clock))

        self.link = link(self._receive)
        node = settings.cluster.node_name if settings.cluster.enabled else None
        journal_path = settings.journal_path or default_path(settings.database_url, node=node)
        self.journal = Journal(journal_path) if journal_path else None
        # without a journal there is nothing durable to spill to: the outbox is unbounded
        self._outbox: asyncio.Queue[Journalled | _SpillMark] = asyncio.Queue(outbox_max if self.journal else 0)
        self._spill = Spill(self.journal) if self.journal is not None else None
        self._tasks: list[asyncio.Task[None]] = []
        #: Set once the journal of an earlier run has been written (at once without one).
        self._journal_written = asyncio.Event()
        #: Call events taken off the outbox and not yet written (the batch in hand).
        self._in_hand = 0

    async def start(self) -> None:
        """Open the journal (JournalError when it cannot be used) and start the pipeline."""
        if not gc.get_freeze_count():  # once per process: startup's heap leaves the collector's reach;
            gc.collect()  # its full passes walked it with the loop stopped (65-110 ms each, a surge's p99)
            gc.freeze()
        if self.journal is not None:
            self.journal.open()
        if self._spill is not None:
            self._spill.start()
        self._tasks = [
            asyncio.create_task(self._track(), name="ngcc112-track"),
            asyncio.create_task(self._persist(), name="ngcc112-persist"),
        ]

    async def run_link(self) -> None:
        """Run the AMI link supervisor; returns or raises only on fatal errors."""
        await self.link.run()

    async def stop(self, flush_timeout: float = 5.0) -> None:
        """Stop the link, write what is still queued (bounded), stop the tasks."""
        await self.link.stop()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.drained(), flush_timeout)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._spill is not None:
            await self._spill.stop()
        if self.journal is not None:
            self.journal.close()

    @property
    def is_drained(self) -> bool:
        """Every event received so far has been tracked and written (or given up on), now.

        For synchronous predicates (a test driver's "quiet" check); :meth:`drained` waits.
        Tracking is synchronous, so an empty inbox has nothing half-tracked.
        """
        idle = self._inbox.empty() and self._outbox.empty() and self._in_hand == 0 and not self._spilling
        return self._journal_written.is_set() and idle

    @property
    def _spilling(self) -> bool:
        return self._spill is not None and self._spill.active

    async def drained(self) -> None:
        """Wait until every event received so far has been tracked and written (or given up on).

        Each queue counts what was taken from it and not yet finished (``task_done``): the
        tracker finishes an item once its call events are on the outbox, the writer once
        they are in the database. Tracking is synchronous, so when both joins return and
        the inbox is empty nothing is in between.
        """
        await self._journal_written.wait()
        while True:
            await self._inbox.join()
            await self._outbox.join()
            if self._spill is not None and self._spill.active:
                await self._spill.over.wait()
            elif self._inbox.empty():
                return

    def _receive(self, item: LinkItem) -> None:
        if self._inbox.full():
            # the tracker fell this far behind: catch up here, in order, rather than block the link
            while not self._inbox.empty():
                self._track_one(self._inbox.get_nowait())
                self._inbox.task_done()
        self._inbox.put_nowait(item)

    # tasks ----------------------------------------------------------------------
    async def _track(self) -> None:
        while True:
            item = await self._inbox.get()
            self._track_one(item)
            self._inbox.task_done()

    def _track_one(self, item: LinkItem) -> None:
        if isinstance(item, AmiMessage):
            self.stats.ami_events += 1
            events = self.tracker.feed(item)
        elif isinstance(item, Snapshot):
            events = self.tracker.resync(item.at, item.channels)
        elif isinstance(item, QueueSnapshot):
            events = self.tracker.resync_queues(item.at, item.items)
        else:
            events = []
            self.hub.publish(item)
        for event in events:
            self._route(event)

    def _route(self, event: TrackerEvent) -> None:
        self.hub.publish(event)
        if isinstance(event, (CallEvent, CallsResynced)):
            self.stats.call_events += 1
            if self._spilling or (self._spill is not None and self._outbox.full()):
                self._spill_with(event)
            else:
                self._outbox.put_nowait(event)

    def _spill_with(self, event: Journalled) -> None:
        """Spill the outbox and ``event`` to the journal, in order; wake the writer to read it back."""
        assert self._spill is not None
        moved: list[Journalled] = []
        while not self._outbox.empty():
            item = self._outbox.get_nowait()
            self._outbox.task_done()
            if not isinstance(item, _SpillMark):
                moved.append(item)
        self._spill.put([*moved, event])
        self._outbox.put_nowait(_SpillMark())

    async def _persist(self) -> None:
        prefix = f"{self.settings.ami.server_name}:" if self.settings.ami.server_name else ""
        await self._write_journalled(prefix)
        carried: Journalled | _SpillMark | None = None
        while True:
            got = carried if carried is not None else await self._outbox.get()
            carried = None
            if isinstance(got, _SpillMark):
                self._in_hand = 1
                try:
                    await self._write_spilled(prefix)
                finally:
                    self._in_hand = 0
                    self._outbox.task_done()
                continue
            first = got
            batch = [first]
            # Everything already waiting goes in one transaction; a resync marker
            # ends the batch and is written on its own, after it.
            while isinstance(first, CallEvent) and not self._outbox.empty() and len(batch) < MAX_BATCH:
                item = self._outbox.get_nowait()
                if isinstance(item, (CallsResynced, _SpillMark)):
                    carried = item
                    break
                batch.append(item)
            self._in_hand = len(batch) + (carried is not None)
            try:
                upto = await self._journal_append(batch)
                await self._write(batch, prefix)
                if upto is not None and self.journal is not None:
                    self.journal.forget_later(upto)  # with the next append: one fsync for both
                if self.journal is not None and carried is None and self._outbox.empty():
                    await self._journal_done()  # idle: the journal empties now
            finally:
                self._in_hand -= len(batch)
                for _ in batch:
                    self._outbox.task_done()
            self.stats.db_backlog = self._outbox.qsize()

    async def _write_journalled(self, prefix: str) -> None:
        """Write what the journal kept from an earlier run, in order, before anything new."""
        if self.journal is None:
            self._journal_written.set()
            return
        pending = self.journal.pending_now()
        if pending:
            log.warning("ticket.journal_replay", events=len(pending), journal=str(self.journal.path))
        for start in range(0, len(pending), MAX_BATCH):
            await self._write_rows(pending[start : start + MAX_BATCH], prefix)
        self._journal_written.set()

    async def _write_spilled(self, prefix: str) -> None:
        """Write what the outbox spilled, from the journal, oldest first, until the spill is over."""
        assert self._spill is not None
        await self._spill.drain(lambda rows: self._write_rows(rows, prefix), MAX_BATCH)

    async def _write_rows(self, rows: list[tuple[int, Journalled]], prefix: str) -> None:
        """Write journal rows in order (call events batched, a resync marker on its own), then forget them."""
        for run in in_runs([event for _, event in rows]):
            await self._write(run, prefix)
        await self._journal_done(rows[-1][0])

    async def _journal_append(self, batch: list[CallEvent | CallsResynced]) -> int | None:
        """Put a batch of call events on disk before the database; None when there is no
        journal, nothing to keep (a resync marker) or the journal failed (logged: the
        events still go to the database, they are only not protected against a crash)."""
        if self.journal is None or not isinstance(batch[0], CallEvent):
            return None
        try:
            return await self.journal.append(batch)
        except Exception as exc:
            log.error("ticket.journal_failed", journal=str(self.journal.path), error=str(exc) or type(exc).__name__)
            return None

    async def _journal_done(self, upto: int | None = None) -> None:
        """Forget the events the database has: up to ``upto``, or what ``forget_later`` kept."""
        assert self.journal is not None
        try:
            await (self.journal.done(upto) if upto is not None else self.journal.forget_now())
        except Exception as exc:  # repeated on the next start: harmless, the writes are idempotent
            log.error("ticket.journal_failed", journal=str(self.journal.path), error=str(exc) or type(exc).__name__)

    async def _write(self, batch: list[CallEvent | CallsResynced], prefix: str) -> None:
        """Write one batch; keep it and retry while the database is away."""
        backoff = Backoff(first=0.2, cap=5.0)
        while True:
            try:
                # bounded as a whole: a database that stops answering mid-statement (not
                # refusing: silent) must not hold every call behind it for minutes
                if isinstance(batch[0], CallsResynced):
                    await asyncio.wait_for(self.store.reconcile(batch[0], prefix), WRITE_TIMEOUT)
                else:
                    await asyncio.wait_for(self.store.record_many(batch), WRITE_TIMEOUT)  # type: ignore[arg-type]
                    self.stats.tickets_written += len(batch)
                return
            except RETRYABLE as exc:
                self.stats.db_failures += 1
                self.stats.db_backlog = self._outbox.qsize() + len(batch)
                self.stats.last_db_error = _describe(exc)
                delay = backoff.next()
                emit = log.error if self.stats.db_failures == 1 or backoff.at_cap else log.debug
                emit(
                    "ticket.db_unavailable",
                    call_ids=sorted({getattr(e, "call_id", "") for e in batch}),
                    error=self.stats.last_db_error,
                    retry_in=delay,
                    backlog=self.stats.db_backlog,
                )
                await asyncio.sleep(delay)
            except Exception as exc:
                if not await self.store.answers():
                    # not a bad event: the database stopped answering (a statement or pool
                    # timeout, a connection lost mid-statement): keep the batch, try again
                    self.stats.db_failures += 1
                    self.stats.last_db_error = _describe(exc)
                    delay = backoff.next()
                    log.error("ticket.db_unavailable", error=self.stats.last_db_error, retry_in=delay)
                    await asyncio.sleep(delay)
                    continue
                if len(batch) > 1:
                    # Find the one bad event; the rest must still be written.
                    for event in batch:
                        await self._write([event], prefix)
                    return
                # A bug or a bad value, not an outage: retrying would block every call behind it.
                log.exception(
                    "ticket.event_failed",
                    call_id=getattr(batch[0], "call_id", None),
                    call_event=type(batch[0]).__name__,
                )
                return

    # status -------------------------------------------------------------------------
    def status(self) -> dict[str, object]:
        link = self.link.status
        return {
            # a standby's link is its leader's (cluster mode): connected when the leader's is
            "ami_connected": self.link.connected,
            "ami_phase": link.phase.value,
            "ami_reconnects": link.reconnects,
            "ami_session": link.session,
            "ami_since": link.since.isoformat() if link.since else None,
            "ami_last_error": link.last_error,
            "live_calls": len(self.tracker.live_calls),
            "ami_events": self.stats.ami_events,
            "tickets_written": self.stats.tickets_written,
            "db_backlog": self.stats.db_backlog,
            "db_last_error": self.stats.last_db_error,
        }


class _SpillMark:
    """Left on the outbox when it spilled: the writer reads the journal from there on."""


def _describe(exc: BaseException) -> str:
    """One line about a database failure (a timeout has no message of its own)."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


__all__ = ["CallDaemon", "LinkFactory", "LinkState"]
