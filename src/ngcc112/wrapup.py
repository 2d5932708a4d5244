"""After-call work, live: carries out :mod:`ngcc112.routing.wrapup` through AMI.

Listens to the hub (operator answered, call ended, queue members, resyncs),
asks the pure rule what to do, and sends ``QueuePause`` for the operator's
interface: ``Paused: true`` with ``Reason: wrap-up`` when their call ends,
``Paused: false`` when they submit the intake (:meth:`WrapUpService.intake_done`)
or when the limit passes — then the operator's desk shows a warning.

Asterisk keeps the pause; this service only steers it. A failed action is
logged, never retried blindly: the next resync (``QueueStatus`` after every
(re)connect) tells the rule the truth again and an over-long pause is undone.
Time comes from the injected :class:`~ngcc112.clock.Clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

import structlog

from ngcc112.ami import actions
from ngcc112.ami.events import (
    CallConnected,
    CallEnded,
    CallsResynced,
    MembersResynced,
    MemberState,
    OperatorLegEnded,
)
from ngcc112.ami.link import AmiActionTimeout, AmiNotConnected
from ngcc112.clock import SYSTEM_CLOCK, Clock, utc
from ngcc112.hub import Hub, Subscription
from ngcc112.routing.presence import Link
from ngcc112.routing.wrapup import (
    WRAPUP_REASON,
    Decision,
    MemberFact,
    Pause,
    Resume,
    WrapUpRule,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WrapUpChanged:
    """Published on the hub when an operator's after-call work starts or ends.

    ``state``: ``paused`` (the call ended), ``resumed`` (intake submitted) or
    ``expired`` (the limit passed: the operator takes calls again, intake unfinished).
    """

    interface: str
    state: str
    at: datetime


def _fact(member: MemberState) -> MemberFact:
    return MemberFact(
        member.interface,
        member.in_queue,
        member.paused,
        member.pause_reason or "",
        float(member.last_pause) if member.last_pause else None,
    )


class WrapUpService:
    def __init__(self, hub: Hub, link: Link, queue: str, limit: float, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._hub = hub
        self._link = link
        self.queue = queue
        self.rule = WrapUpRule(limit)
        self._clock = clock
        #: Operators resumed by the limit, with when: their desk warns until the intake is in.
        self._expired: dict[str, datetime] = {}
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        #: Decisions carried out, in order (for the status page and the tests).
        self.done: list[Decision] = []

    # lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        if self._tasks:
            return
        self._subscription = self._hub.subscribe()
        self._tasks = [
            asyncio.create_task(self._consume(), name="ngcc112-wrapup-events"),
            asyncio.create_task(self._timer(), name="ngcc112-wrapup-timer"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    # reads ------------------------------------------------------------------------
    def expired_at(self, interface: str | None) -> datetime | None:
        """When the limit resumed this operator with an unfinished intake (the desk warns), or None."""
        return self._expired.get(interface or "")

    def deadline(self, interface: str | None) -> datetime | None:
        wrap = self.rule.wrapping(interface or "")
        if wrap is None:
            return None
        from datetime import UTC

        return datetime.fromtimestamp(wrap.deadline, UTC)

    # the panel's side -----------------------------------------------------------
    async def intake_done(self, interface: str | None, call_id: str | None) -> None:
        """The operator submitted a call's intake: resume them if that call's wrap-up is running."""
        if not interface:
            return
        if self._expired.pop(interface, None) is not None:
            self._publish(interface, "resumed")
        await self._carry_out(self.rule.intake_done(interface, call_id))

    # events -------------------------------------------------------------------------
    async def _consume(self) -> None:
        assert self._subscription is not None  # set in start()
        while True:
            item = await self._subscription.get()
            if self._subscription.overflowed:  # events were lost: listen again, the next resync corrects
                log.error("wrapup.events_lost")
                self._subscription.close()
                self._subscription = self._hub.subscribe()
            try:
                await self.handle(item)
            except Exception:
                log.exception("wrapup.event_failed", item=type(item).__name__)

    async def handle(self, item: object) -> None:
        now = self._clock.now()
        decisions: list[Decision] = []
        if isinstance(item, CallConnected) and item.queue == self.queue:
            if self._expired.pop(item.interface, None) is not None:
                self._publish(item.interface, "resumed")
            decisions = self.rule.call_connected(item.call_id, item.interface)
        elif isinstance(item, OperatorLegEnded) and item.queue == self.queue:
            decisions = self.rule.call_ended(item.call_id, now)  # the operator's leg: the earliest sign
        elif isinstance(item, CallEnded):
            decisions = self.rule.call_ended(item.call_id, now)  # no AgentComplete seen (a resync, ...)
        elif isinstance(item, CallsResynced):
            decisions = self.rule.calls_live(item.live_call_ids, now)
        elif isinstance(item, MemberState) and item.queue == self.queue:
            decisions = self.rule.member(_fact(item), now)
        elif isinstance(item, MembersResynced):
            decisions = self.rule.resync([_fact(m) for m in item.members if m.queue == self.queue], now)
        else:
            return
        await self._carry_out(decisions)
        self._wake.set()

    async def _timer(self) -> None:
        while True:
            self._wake.clear()
            deadline = self.rule.next_deadline()
            if deadline is None:
                await self._wake.wait()
                continue
            wait = deadline - self._clock.now()
            if wait > 0:
                sleeper = asyncio.ensure_future(self._clock.sleep(wait))
                woken = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (sleeper, woken):
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                continue
            try:
                await self._carry_out(self.rule.due(self._clock.now()))
            except Exception:
                log.exception("wrapup.timer_failed")

    # actions --------------------------------------------------------------------
    async def _carry_out(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            async with self._lock:
                await self._send(decision)
            self.done.append(decision)
            if isinstance(decision, Pause):
                self._publish(decision.interface, "paused")
            elif decision.expired:
                self._expired[decision.interface] = utc(self._clock)
                self._publish(decision.interface, "expired")
            else:
                self._publish(decision.interface, "resumed")
        if decisions:
            self._wake.set()

    async def _send(self, decision: Decision) -> None:
        paused = isinstance(decision, Pause)
        action = actions.queue_pause(
            decision.interface, paused, queue=self.queue, reason=WRAPUP_REASON if paused else None
        )
        try:
            response = await self._link.send(action)
        except (AmiNotConnected, AmiActionTimeout) as exc:  # the resync after reconnect corrects
            log.warning(
                "wrapup.action_failed",
                interface=decision.interface,
                paused=paused,
                error=str(exc) or type(exc).__name__,
            )
            return
        if not response.ok:
            log.warning("wrapup.action_refused", interface=decision.interface, paused=paused, message=response.message)
            return
        kind = "wrapup.paused" if paused else "wrapup.resumed"
        log.info(
            kind,
            interface=decision.interface,
            expired=getattr(decision, "expired", False) if isinstance(decision, Resume) else None,
        )

    def _publish(self, interface: str, state: str) -> None:
        self._hub.publish(WrapUpChanged(interface, state, utc(self._clock)))
