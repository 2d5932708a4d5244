"""Live triage: score every 112 call for ghost/prank likelihood while it happens.

:class:`Triage` subscribes to the hub, keeps one
:class:`~ngcc112.routing.facts.CallFacts` per live call (built from the call
events by :func:`~ngcc112.routing.progress.advance_facts`, the one function the offline evaluation uses
too), loads the number's :class:`~ngcc112.routing.facts.CallerHistory` from
the tickets (earlier calls, operators' verdicts) and the misuse list, and
scores the call with :func:`~ngcc112.routing.scoring.score_call` at the
moments that matter: queue join, after ``no_speech_seconds`` without speech,
a silent-call digit, an operator answering, the end.

What it does with a score:

* stores ghost/prank scores and their reasons (codes, English and Bahasa
  Indonesia) on the ticket, with an audit row, and publishes a
  :class:`~ngcc112.tickets.store.TicketChanged` for the screen-pop;
* applies the policy's one allowed action: while the caller is still waiting
  in the queue, ``QueueChangePriorityCaller`` to the advised priority. It
  never hangs up, redirects or withdraws a call, and never lowers a call it
  raised. An AMI error or a link that is down is logged, never raised: the
  call simply keeps its place, which is the fail-safe.

It also records the SIP Geolocation position (``NGCC_GEO_*``) on the ticket
and attaches AML messages that arrived before their call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112 import names
from ngcc112.ami import actions
from ngcc112.ami.events import (
    CallArrived,
    CallEnded,
    CallerIdentified,
    CallEvent,
    CallQueued,
    CallsResynced,
    CallVariables,
)
from ngcc112.clock import SYSTEM_CLOCK, Clock, utc
from ngcc112.hub import Hub, Subscription
from ngcc112.routing.facts import NO_HISTORY, CallerHistory, is_missing_number
from ngcc112.routing.policy import Policy
from ngcc112.routing.presence import Link
from ngcc112.routing.progress import advance_facts, history_only
from ngcc112.routing.scoring import Assessment, score_call
from ngcc112.routing.steering import moment_name, no_speech_due, priority_to_send, scoring_moment
from ngcc112.tickets.aml_locations import AmlLocations
from ngcc112.tickets.locations import Locations
from ngcc112.tickets.store import TicketChanged
from ngcc112.triage.batching import Batcher, HistoryAsk, load_histories
from ngcc112.triage.live import AnnouncedTickets, CallChannels, LiveCall
from ngcc112.triage.saving import ScoreWriter

log = structlog.get_logger(__name__)

#: How long a history query may take before the call is scored without it.
HISTORY_TIMEOUT_SECONDS = 2.0
#: After a failed history read, score on live signals alone this long before trying again.
HISTORY_RETRY_SECONDS = 5.0
#: How long a history read waits to share its query (a call's first look, long before a score steers).
HISTORY_LINGER_SECONDS = 0.02
#: How many sent actions :attr:`Triage.sent` remembers.
SENT_MEMORY = 1000


class Triage:
    """Scores live calls and advises their queue priority. See the module docstring.

    Its ports: the ``hub`` it listens to and publishes on, the database ``sessions``, the
    tracker's ``channels`` (which channel to steer) and the AMI ``link`` (to send the
    priority). Call facts carry Asterisk's time (the events' ``Timestamp``); ``clock`` is the
    daemon's, for the no-speech timer and the moment a score is made.
    ``on_assessment(call_id, moment, assessment)`` is called after each score.
    """

    def __init__(
        self,
        policy: Policy,
        sessions: async_sessionmaker[AsyncSession],
        hub: Hub,
        channels: CallChannels,
        link: Link,
        *,
        clock: Clock = SYSTEM_CLOCK,
        aml_locations: AmlLocations | None = None,
        on_assessment: Callable[[str, str, Assessment], None] | None = None,
    ) -> None:
        self.policy = policy
        self._sessions = sessions
        self._hub = hub
        self._channels = channels
        self._link = link
        self.clock = clock
        self.aml_locations = aml_locations or AmlLocations(Locations(self._sessions, self._hub.publish, clock=self.now))
        self._writer = ScoreWriter(self._sessions, self._hub, self.aml_locations, self.now)
        self._histories: Batcher[HistoryAsk, CallerHistory] = Batcher(
            lambda asks: load_histories(self._sessions, asks), "triage-history", linger=HISTORY_LINGER_SECONDS
        )
        self._on_assessment = on_assessment
        self._calls: dict[str, LiveCall] = {}
        self._tickets = AnnouncedTickets()
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        #: Set whenever an event was handled or a call's work finished: :meth:`idle` waits on it.
        self._progress = asyncio.Event()
        #: Every AMI action triage sent: (action name, headers), for the record and the tests.
        self.sent: deque[tuple[str, dict[str, Any]]] = deque(maxlen=SENT_MEMORY)

    # lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        self._subscription = self._hub.subscribe()
        self._task = asyncio.create_task(self._consume(), name="ngcc112-triage")
        log.info(
            "triage.started",
            no_speech_seconds=self.policy.no_speech_seconds,
            ghost_threshold=self.policy.ghost_threshold,
            prank_threshold=self.policy.prank_threshold,
        )

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Stop listening; let scores being written finish (bounded), then cancel the rest."""
        busy = [
            job
            for live in self._calls.values()
            for job in (live.worker, live.saver)
            if job is not None and not job.done()
        ]
        if busy:
            await asyncio.wait(busy, timeout=flush_timeout)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        pending = []
        for live in list(self._calls.values()):
            for job in (live.timer, live.saver, live.worker):
                if job is not None and not job.done():
                    job.cancel()
                    pending.append(job)
        for job in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job
        self._calls.clear()
        await self._writer.close()
        await self._histories.close()
        log.info("triage.stopped")

    def now(self) -> datetime:
        return utc(self.clock)

    @property
    def is_idle(self) -> bool:
        """Every event received so far is handled, scored, steered and stored."""
        sub = self._subscription
        if sub is not None and not sub.queue.empty():
            return False
        return not any(
            job is not None and not job.done() for live in self._calls.values() for job in (live.worker, live.saver)
        )

    async def idle(self) -> None:
        """Wait until every event received so far is handled and scored (for tests).

        Woken by each handled event and each finished job, never by polling: between the
        check and the wait nothing else runs, so no wake-up is missed."""
        while not self.is_idle:
            self._progress.clear()
            await self._progress.wait()

    def _progressed(self, _task: object = None) -> None:
        self._progress.set()

    def assessment(self, call_id: str) -> Assessment | None:
        live = self._calls.get(call_id)
        return None if live is None else live.last

    # events ------------------------------------------------------------------------
    async def _consume(self) -> None:
        while True:
            sub = self._subscription
            assert sub is not None  # subscribed in start(), before this task exists
            item = await sub.get()
            try:
                self.handle(item)
            except Exception:  # one bad event must not stop triage
                log.exception("triage.event_failed", item=type(item).__name__)
            self._progressed()
            if sub.overflowed and sub.queue.empty():
                log.error("triage.fell_behind", action="resubscribed; calls in progress keep the facts seen so far")
                self._subscription = self._hub.subscribe()

    def handle(self, item: object) -> None:
        """Apply one hub item (synchronous, never does I/O itself)."""
        if isinstance(item, CallsResynced):
            for call_id in [c for c in self._calls if c not in item.live_call_ids]:
                self._forget(call_id)
            return
        if isinstance(item, TicketChanged):
            self._tickets.announced(self._calls.get(item.linkedid), item.linkedid, item.ticket_id)
            return
        if not isinstance(item, CallEvent):
            return
        live = self._calls.get(item.call_id)
        before = None if live is None else live.facts
        if live is None:
            if isinstance(item, CallEnded):
                return  # a call we never saw live: nothing to steer
            facts = advance_facts(None, item)
            if facts is None:
                return
            live = LiveCall(
                item.call_id,
                facts,
                priority=self.policy.priority_normal,
                adopted=isinstance(item, CallArrived) and item.adopted,
            )
            self._calls[item.call_id] = live
            self._tickets.adopt(live)
            self._poke(live)  # first look: history, pending AML messages
        else:
            facts = advance_facts(live.facts, item)
            if facts is None:
                return
            live.facts = facts
        if isinstance(item, CallQueued):
            live.queue = item.queue
        if isinstance(item, CallVariables):
            geo = {k: v for k, v in item.variables.items() if k.startswith(names.VAR_GEO_PREFIX)}
            if geo:
                live.geo.update(geo)
                live.geo_complete = False
            elif live.geo and not live.geo_complete:
                live.geo_complete = True  # the dialplan left its geolocation subroutine
                self._poke(live)
        if isinstance(item, CallQueued | CallEnded) and live.geo:
            live.geo_complete = True
        if (
            isinstance(item, CallerIdentified)
            and before is not None
            and live.facts.caller_number != before.caller_number
        ):
            live.history, live.aml_checked = None, False  # a number known only now
            self._poke(live)
        moment = scoring_moment(before, live.facts)
        if moment is not None:
            self._poke(live)
        self._arm_timer(live)

    def _forget(self, call_id: str) -> None:
        live = self._calls.pop(call_id, None)
        if live is not None:
            for job in (live.timer, live.saver):
                if job is not None and job is not asyncio.current_task():
                    job.cancel()

    def _arm_timer(self, live: LiveCall) -> None:
        due = None if live.adopted else no_speech_due(live.facts, self.policy)
        if due is None:
            if live.timer is not None and not live.timer.done():
                live.timer.cancel()
            live.timer = None
            return
        if live.timer is not None:
            return

        async def fire() -> None:
            await self.clock.sleep((due - self.now()).total_seconds() + 0.001)
            if live.call_id in self._calls and no_speech_due(live.facts, self.policy) is not None:
                self._poke(live)

        live.timer = asyncio.create_task(fire(), name=f"triage-timer-{live.call_id}")

    def _poke(self, live: LiveCall) -> None:
        """Score the call again soon (one worker per call, never two at once)."""
        live.dirty = True
        if live.worker is None or live.worker.done():
            live.worker = asyncio.create_task(self._work(live), name=f"triage-{live.call_id}")
            live.worker.add_done_callback(self._progressed)

    async def _work(self, live: LiveCall) -> None:
        """Score and steer. Waits on nothing but the first history read (bounded) and the
        AMI answer: storing and locating run beside it (:class:`~ngcc112.triage.saving.ScoreWriter`), so a slow
        database never delays raising a caller who pressed 5."""
        try:
            while live.dirty:
                live.dirty = False
                try:
                    await self._evaluate(live)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("triage.score_failed", call_id=live.call_id)
                self._save_soon(live)
        finally:
            self._forget_if_over(live)

    def _forget_if_over(self, live: LiveCall) -> None:
        """Drop an ended call once nothing is running or waiting for it any more."""
        current = asyncio.current_task()
        busy = any(job is not None and job is not current and not job.done() for job in (live.worker, live.saver))
        if (
            live.facts.ended_at is not None
            and not live.dirty
            and not live.save_dirty
            and not busy
            and self._calls.get(live.call_id) is live
        ):
            self._forget(live.call_id)

    # one evaluation --------------------------------------------------------------------
    async def _evaluate(self, live: LiveCall) -> None:
        facts = live.facts
        started = facts.answered_at is not None or facts.ended_at is not None or live.adopted
        history = await self._history(live)
        if not started:
            return
        now = max(self.now(), facts.ended_at or facts.arrived_at)
        seen = history_only(facts) if live.adopted else facts
        assessment = score_call(seen, history, self.policy, now)
        live.last = assessment
        await self._steer(live, assessment)
        if self._on_assessment is not None:
            self._on_assessment(live.call_id, moment_name(facts), assessment)

    # storing beside the scoring --------------------------------------------------------
    def _save_soon(self, live: LiveCall) -> None:
        live.save_dirty = True
        if live.saver is None or live.saver.done():
            live.saver = asyncio.create_task(self._writer.save(live), name=f"triage-save-{live.call_id}")
            live.saver.add_done_callback(lambda _task: self._forget_if_over(live))
            live.saver.add_done_callback(self._progressed)

    async def _history(self, live: LiveCall) -> CallerHistory:
        number = live.facts.caller_number
        if live.history is not None and live.history_number == number:
            return live.history
        if is_missing_number(number):
            live.history, live.history_number = NO_HISTORY, number
            return NO_HISTORY
        failed = live.history_failed_at
        if failed is not None and (asyncio.get_running_loop().time() - failed) < HISTORY_RETRY_SECONDS:
            return NO_HISTORY  # the database was away a moment ago: do not wait on it again yet

        ask = HistoryAsk(number, live.facts.arrived_at, self.policy.history_window, exclude_linkedid=live.call_id)
        try:
            history = await asyncio.wait_for(self._histories.ask(ask), HISTORY_TIMEOUT_SECONDS)
        except Exception as exc:  # scored on live signals alone; retried a little later
            live.history_failed_at = asyncio.get_running_loop().time()
            log.warning(
                "triage.history_unavailable",
                call_id=live.call_id,
                error=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
            )
            return NO_HISTORY
        live.history, live.history_number, live.history_failed_at = history, number, None
        return history

    async def _steer(self, live: LiveCall, assessment: Assessment) -> None:
        """Send the advised priority while the caller waits in the queue; nothing else, ever."""
        advice = assessment.priority
        if not live.queue or priority_to_send(live.facts, assessment, live.priority, raised=live.raised) is None:
            return
        assert advice is not None
        channel = self._channels.call_channel(live.call_id)
        if channel is None:
            return
        action = actions.change_priority(live.queue, channel, advice.priority)
        self.sent.append((action.name, dict(action.as_dict())))
        bound = log.bind(
            call_id=live.call_id, queue=live.queue, channel=channel, priority=advice.priority, reason=advice.reason.code
        )
        try:
            response = await self._link.send(action)
        except Exception as exc:  # link down, timeout, anything: the call keeps its place
            bound.warning("triage.priority_not_sent", error=str(exc) or type(exc).__name__)
            return
        if not getattr(response, "ok", False):
            bound.warning("triage.priority_refused", message=getattr(response, "message", ""))
            return
        if advice.priority > live.priority:
            live.raised = True
        live.priority = advice.priority
        bound.info("triage.priority_changed")
