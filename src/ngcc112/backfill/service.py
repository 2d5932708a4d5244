"""The backfill: tickets for the 112 calls that came and went while the daemon was not watching.

Asterisk logs every channel itself (CEL, asterisk-config/cel.conf), whether or
not the daemon runs. After every AMI resync — the first one is the daemon's
start — :class:`Backfill` reads what Asterisk logged since its last read and
opens one ticket per call (by Linkedid) that has none, marked ``recovered``,
with an audit row naming the source.

Never a duplicate of a live ticket:

* a call Asterisk still has at the resync (``CallsResynced.live_call_ids``), a
  call the tracker reported on the hub since the start, and a call that arrived
  after the resync are the live path's, never the backfill's;
* a call that already has a ticket is left alone, and the insert itself is
  "insert unless the Linkedid exists" (``ON CONFLICT DO NOTHING`` on the unique
  key the live path keys on), so a race with a live writer cannot make two.

So running it twice changes nothing. Reading is bounded: from where the last
read stopped (or the oldest call that was still going on then), never earlier
than ``[backfill] lookback_hours`` nor than the database's ``origin`` mark.
A source that is missing or unreadable gives one warning (again only when the
reason changes) and no tickets, never an error that stops the daemon.

Wiring (``ngcc112.app``): built with the daemon's ``drained`` as ``settled``, ``await
start()`` before the AMI link runs (so it hears the first resync), ``await
stop()`` on the way out. Each run first waits (bounded) for the daemon's
pipeline to be drained, so the events it already received, and those its
journal kept from an earlier run, are tickets before the backfill looks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ngcc112.ami.events import CallEvent, CallsResynced
from ngcc112.backfill.cel import EVENTS, CallAssembler, CelCall
from ngcc112.backfill.csv_source import CelCsv, CsvSourceError
from ngcc112.backfill.pgsql_source import CelTable, PgSourceError
from ngcc112.backfill.store import BackfillStore
from ngcc112.clock import SYSTEM_CLOCK, Clock, utc
from ngcc112.hub import Hub, Subscription
from ngcc112.settings import Settings
from ngcc112.tickets.store import TicketChanged
from ngcc112.tasks import cancel_all

log = structlog.get_logger(__name__)

#: How many call ids seen live on the hub are remembered.
SEEN_MEMORY = 100_000
#: A failed run (database away) is tried again after this many seconds, this many times.
RETRY_SECONDS = 30.0
RETRIES = 5
#: Tickets written per transaction.
BATCH = 200
#: How long a run waits for the live path to write what it already received.
SETTLE_SECONDS = 30.0


@dataclass(slots=True)
class BackfillResult:
    source: str
    records: int = 0
    calls: int = 0
    recovered: list[str] = field(default_factory=list)
    #: Calls left to the live path (live at the resync, seen on the hub, arrived after the resync).
    live: int = 0
    #: Calls that already had a ticket.
    existing: int = 0
    #: Calls still going on in the records (read again next time).
    pending: int = 0
    error: str = ""
    seconds: float = 0.0


def _source_for(settings: Settings, engine: AsyncEngine | None) -> CelCsv | CelTable | None:
    backfill = settings.backfill
    kind = backfill.source
    if kind == "auto":
        kind = "pgsql" if settings.database_url.startswith("postgresql") else "csv"
    if kind == "csv":
        return CelCsv(backfill.cel_csv)
    if kind == "pgsql" and engine is not None:
        return CelTable(engine, backfill.cel_table)
    return None


class Backfill:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        engine: AsyncEngine | None = None,
        hub: Hub | None = None,
        publish: Callable[[TicketChanged], None] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        settled: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``settled``: awaited (at most :data:`SETTLE_SECONDS`) before a run triggered by a
        resync, so what the live path received before it — and what its journal kept from
        an earlier run — is in the database when the backfill looks (the daemon's ``drained``)."""
        self.settings = settings
        self._settled = settled
        self.sessions = sessions
        self.hub = hub
        self.clock = clock
        self.source = _source_for(settings, engine)
        self._store = BackfillStore(
            sessions,
            self.source.key if self.source else None,
            clock=clock,
            publish=publish or (lambda change: None),
            site=settings.cluster.site,
        )
        self._prefix = f"{settings.ami.server_name}:" if settings.ami.server_name else ""
        self._calls = settings.calls
        self._lookback = timedelta(hours=settings.backfill.lookback_hours)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._request: tuple[datetime, frozenset[str]] | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscription: Subscription | None = None
        self._warned = ""
        self._lock = asyncio.Lock()
        self.last: BackfillResult | None = None
        self.total_recovered = 0

    # -- life -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen for resyncs on the hub (each one, the first included, triggers a run)."""
        if self.source is None:
            log.info("backfill.off", setting=self.settings.backfill.source)
            return
        if self.hub is not None:
            self._subscription = self.hub.subscribe()
            self._tasks.append(asyncio.create_task(self._listen(), name="ngcc112-backfill-listen"))
        self._tasks.append(asyncio.create_task(self._work(), name="ngcc112-backfill"))
        log.info("backfill.ready", source=self.source.key)

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks.clear()
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    def request(self, cutoff: datetime, live: Collection[str] = ()) -> None:
        """Ask for a run as of a resync at ``cutoff`` (the latest request wins)."""
        self._request = (cutoff, frozenset(live))
        self._wake.set()

    def status(self) -> dict[str, object]:
        last = self.last
        return {
            "source": self.source.key if self.source else None,
            "recovered_total": self.total_recovered,
            "last_recovered": len(last.recovered) if last else None,
            "last_error": last.error if last else None,
        }

    async def _listen(self) -> None:
        assert self.hub is not None and self._subscription is not None
        while True:
            item = await self._subscription.get()
            if isinstance(item, CallEvent):
                self._seen[item.call_id] = None
                self._seen.move_to_end(item.call_id)
                if len(self._seen) > SEEN_MEMORY:
                    self._seen.popitem(last=False)
            elif isinstance(item, CallsResynced):
                self.request(item.at, item.live_call_ids)
            if self._subscription.overflowed and self._subscription.queue.empty():
                log.warning("backfill.hub_overflowed")
                self._subscription = self.hub.subscribe()

    async def _work(self) -> None:
        retries = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._request is None:
                continue
            cutoff, live = self._request
            self._request = None
            if self._settled is not None:
                # real time, not the injected clock: a bound on waiting, not a fact of a call
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._settled(), SETTLE_SECONDS)
            try:
                await self.run_once(cutoff=cutoff, live=live | frozenset(self._seen))
                retries = 0
            except Exception as exc:  # the database away, a bug: never take the daemon down
                log.warning(
                    "backfill.failed",
                    error=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
                    retry_in=RETRY_SECONDS if retries < RETRIES else None,
                    exc_info=not isinstance(exc, OSError),
                )
                if retries < RETRIES:
                    retries += 1
                    await asyncio.sleep(RETRY_SECONDS)  # the database's time to come back: real time
                    if self._request is None:
                        self._request = (cutoff, live)
                    self._wake.set()

    # -- one run ----------------------------------------------------------------------------------

    async def run_once(self, *, cutoff: datetime | None = None, live: Collection[str] = ()) -> BackfillResult:
        """Read what Asterisk logged since the last run; open the tickets that are missing."""
        if self.source is None:
            return BackfillResult(source="off")
        async with self._lock:
            return await self._run(cutoff, frozenset(live))

    async def _run(self, cutoff: datetime | None, live: frozenset[str]) -> BackfillResult:
        started = time.monotonic()
        assert self.source is not None
        now = utc(self.clock)
        cutoff = cutoff or now
        result = BackfillResult(source=self.source.key)
        origin, mark = await self._store.marks()
        accept_since = max(origin, now - self._lookback)
        assembler = CallAssembler(context=self._calls.context, extensions=self._calls.extensions)
        try:
            end, positions = await self._read(mark.position if mark else None, accept_since, assembler, now)
        except (CsvSourceError, PgSourceError) as exc:
            result.error = str(exc)
            self._warn(result.error)
            self.last = result
            return result
        self._warned = ""
        result.records = assembler.records

        candidates: list[tuple[str, CelCall]] = []
        left_live: dict[str, int] = {}
        pinned: list[int] = []
        for call in assembler.calls.values():
            if not call.is_112_call or call.arrived_at is None or call.arrived_at < accept_since:
                continue
            result.calls += 1
            call_id = f"{self._prefix}{call.linkedid}"
            if not (call.over or call.stale(now)):
                result.pending += 1
                pinned.append(call.first_position)
                continue
            if call_id in live or call.arrived_at >= cutoff:
                result.live += 1
                left_live[call_id] = call.first_position
                continue
            candidates.append((call_id, call))

        for i in range(0, len(candidates), BATCH):
            recovered, existing = await self._store.write(candidates[i : i + BATCH], now)
            result.recovered.extend(recovered)
            result.existing += existing
        # a call left to the live path whose ticket is not written yet is read again next
        # time: it gets the live ticket, or (in a later daemon) a recovered one, never none
        pinned.extend(position for call_id, position in (await self._store.without_ticket(left_live)).items())
        position = positions(min(pinned)) if pinned else end
        await self._store.save_mark(position, now, len(result.recovered))
        result.seconds = round(time.monotonic() - started, 3)
        self.total_recovered += len(result.recovered)
        self.last = result
        emit = log.info if result.recovered else log.debug
        emit(
            "backfill.done",
            source=result.source,
            records=result.records,
            calls=result.calls,
            recovered=len(result.recovered),
            live=result.live,
            existing=result.existing,
            pending=result.pending,
            seconds=result.seconds,
            call_ids=result.recovered[:20],
        )
        return result

    async def _read(
        self, position: str | None, since: datetime, assembler: CallAssembler, now: datetime
    ) -> tuple[str, Callable[[int], str]]:
        """Feed the source to ``assembler``; return the end position and how to name a record's."""
        source = self.source
        if isinstance(source, CelCsv):
            read = await asyncio.to_thread(source.read, position, since, assembler.feed, events=EVENTS)
            if read.bad_lines:
                log.warning(
                    "backfill.bad_lines",
                    source=source.key,
                    lines=read.bad_lines,
                    first=read.first_bad,
                    hint="lines not in the layout of asterisk-config/cel_custom.conf are skipped",
                )
            return read.end, read.mark
        assert isinstance(source, CelTable)
        cel = await source.read(position, since, assembler.feed, events=EVENTS, now=now)
        if cel.future_seconds > 120:
            log.warning(
                "backfill.cel_time_in_future",
                source=source.key,
                seconds=round(cel.future_seconds),
                hint="cel_pgsql.conf needs usegmtime = yes: eventtime must be UTC",
            )
        return cel.end, str

    def _warn(self, reason: str) -> None:
        if reason != self._warned:
            log.warning(
                "backfill.source_unavailable",
                source=self.source.key if self.source else None,
                reason=reason,
                hint="no tickets are recovered from Asterisk's records until this is fixed (docs/fail-safe.md)",
            )
            self._warned = reason
        else:
            log.debug("backfill.source_unavailable", reason=reason)
