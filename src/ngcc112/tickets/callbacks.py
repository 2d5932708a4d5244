"""Calling an abandoned caller back through Asterisk.

A dispatcher or operator clicks "call back" on a ticket: the daemon sends ONE
``Originate`` (``Async: true``) that rings the clicker's own softphone
(``User.interface``, e.g. ``PJSIP/op1``) and, once answered, dials the caller's
number in the operators' dialplan context (:data:`ngcc112.names.OPERATOR_CONTEXT`).

* One click, one Originate: the action is never re-sent — not by us, and not
  by the link after a reconnect (see :mod:`ngcc112.ami.protocol`). A click id
  (the form's hidden ``click_id``, the API's ``request_id``) that was already
  used is refused, and so is a second callback on a ticket while the first one
  has no ``OriginateResponse`` yet.
* The attempt is audited on the ticket (action ``callback``: who, when, the
  number, the interface, the Originate's ActionID, and whether Asterisk queued
  it). The ``OriginateResponse`` event carrying that ActionID is audited as
  ``callback_result`` (success or failure, with Asterisk's reason code).
* :class:`~ngcc112.ami.link.AmiNotConnected`: nothing was sent and nothing is
  audited; the caller of :meth:`Callbacks.call_back` answers 503.

* An answered callback (``OriginateResponse`` Success: the placer's softphone answered and
  Asterisk dials the caller) opens the abandoned call's intake for the one who placed it:
  the ticket is put on their interface (``operator_interface``; never ``answered_at``: the
  112 call itself stayed unanswered, the reports keep it so) and the ``callback_result``
  audit row names that interface, which the operator's desk pops (:mod:`ngcc112.panel.operator.calls`).
* The person records how the callback went
  (:func:`~ngcc112.tickets.callback_outcomes.record_outcome`): ``reached``,
  ``no_answer`` (it may be tried again) or ``dismissed``; audited as ``callback_outcome``.
  After ``reached`` or ``dismissed`` the ticket takes no further callback; after
  ``no_answer`` or ``dismissed`` the intake is released (nobody's until a callback is answered).

``OriginateResponse`` events are not call events, so the tracker does not
report them on the hub. :meth:`Callbacks.attach` tees the AMI link's event
sink (synchronous, never blocking, the daemon's own sink still gets every item
first) and :meth:`Callbacks.observe` also accepts such messages from the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112 import names
from ngcc112.ami import actions
from ngcc112.ami.actions import AmiAction
from ngcc112.ami.link import AmiActionTimeout, AmiNotConnected
from ngcc112.ami.message import AmiMessage
from ngcc112.tickets.callback_outcomes import CALLBACK_ROLES, FINAL_OUTCOMES, last_outcome
from ngcc112.tickets.models import AuditEntry, Ticket, User, utcnow
from ngcc112.tickets.states import State
from ngcc112.tickets.store import SYSTEM_ACTOR, TicketChanged, jsonable

log = structlog.get_logger(__name__)

Publish = Callable[[TicketChanged], None]
Clock = Callable[[], datetime]

#: A number Asterisk may dial: digits, an optional leading +.
DIALLABLE = re.compile(r"\+?[0-9]{3,20}")
#: How long the softphone rings before Asterisk gives up (Originate Timeout).
RING_MS = 30_000
#: After this long without an OriginateResponse, a pending callback no longer blocks a new one.
PENDING_SECONDS = 90.0
#: Click ids remembered (a double click or a resent form is refused, not placed twice).
CLICK_MEMORY = 2000
#: Asterisk's OriginateResponse Reason codes (AST_CONTROL_*).
REASONS = {
    "0": "no such channel / not registered",
    "1": "hung up",
    "3": "no answer",
    "4": "answered",
    "5": "busy",
    "8": "congestion",
}


class CallbackRefused(Exception):
    """The callback is not possible; ``status`` is the HTTP status the panel answers with."""

    def __init__(self, status: int, reason: str, code: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code


class _Link(Protocol):
    @property
    def connected(self) -> bool: ...

    async def send(self, action: AmiAction, timeout: float | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class CallbackAttempt:
    """One callback as recorded on the ticket."""

    ticket_id: int
    action_id: str
    number: str
    interface: str
    actor: str
    at: datetime
    #: ``queued`` (Asterisk accepted the Originate), ``refused`` (it answered an error) or
    #: ``unknown`` (no answer in time or the link dropped: it may or may not ring; never re-sent).
    outcome: str
    message: str = ""


@dataclass(slots=True)
class _Pending:
    ticket_id: int
    at: datetime
    interface: str = ""
    actor: str = ""


def callback_number(ticket: Ticket) -> str | None:
    """The number to call back: the intake's callback number, else the caller ID, when diallable."""
    for candidate in ((ticket.intake or {}).get("callback_number"), ticket.caller_number):
        text = re.sub(r"[\s\-().]", "", str(candidate or ""))
        if DIALLABLE.fullmatch(text):
            return text
    return None


class Callbacks:
    """Places callbacks and records their outcome; one per process (the panel makes it)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        link: _Link,
        publish: Publish | None,
        *,
        clock: Clock = utcnow,
        context: str = names.OPERATOR_CONTEXT,
    ) -> None:
        self._sessions = sessions
        self._link = link
        self._publish = publish
        self._clock = clock
        self._context = context
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._clicks: OrderedDict[str, str] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._attached: Callable[[], None] | None = None
        self._locks: dict[int, asyncio.Lock] = {}

    # the OriginateResponse feed ------------------------------------------------------------
    def attach(self, link: Any) -> bool:
        """Listen to the link's events so ``OriginateResponse`` reaches :meth:`observe`. Idempotent."""
        if self._attached is not None:
            return False
        self._attached = link.listen(self.observe)
        return True

    def detach(self) -> None:
        if self._attached is not None:
            self._attached()
            self._attached = None

    def observe(self, item: object) -> None:
        """Take an ``OriginateResponse`` for one of our callbacks (anything else is ignored)."""
        if not isinstance(item, AmiMessage) or item.name != "OriginateResponse":
            return
        pending = self._pending.pop(item.action_id, None)
        if pending is None:
            return
        ok = item.get("Response") == "Success"
        reason = item.get("Reason")
        task = asyncio.get_running_loop().create_task(self._record_result(pending, item.action_id, ok, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self.detach()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 2.0)

    def pending_for(self, ticket_id: int) -> str | None:
        """The ActionID of a callback on this ticket still waiting for its OriginateResponse."""
        self._expire()
        return next((aid for aid, p in self._pending.items() if p.ticket_id == ticket_id), None)

    def _expire(self) -> None:
        cutoff = self._clock() - timedelta(seconds=PENDING_SECONDS)
        while self._pending:
            action_id, first = next(iter(self._pending.items()))
            if first.at >= cutoff:
                break
            self._pending.pop(action_id)

    def _remember_click(self, click_id: str, action_id: str) -> None:
        self._clicks[click_id] = action_id
        while len(self._clicks) > CLICK_MEMORY:
            self._clicks.popitem(last=False)

    # the use case --------------------------------------------------------------------------
    async def call_back(self, ticket_id: int, actor: User, click_id: str | None = None) -> CallbackAttempt:
        """Ring ``actor``'s softphone and dial the ticket's caller; see the module docstring."""
        click_id = (click_id or "").strip()[:100] or None
        if click_id is not None and click_id in self._clicks:
            raise CallbackRefused(
                409, f"this callback was already placed (Originate {self._clicks[click_id]})", "duplicate"
            )
        lock = self._locks.setdefault(ticket_id, asyncio.Lock())
        try:
            async with lock:
                return await self._call_back(ticket_id, actor, click_id)
        finally:
            if not lock.locked():
                self._locks.pop(ticket_id, None)

    async def _call_back(self, ticket_id: int, actor: User, click_id: str | None) -> CallbackAttempt:
        async with self._sessions() as session:
            current = await session.get(User, actor.id, populate_existing=True)
            ticket = await session.get(Ticket, ticket_id)
        if current is None or not current.active:
            raise CallbackRefused(403, f"the account {actor.username!r} is not active", "role")
        if current.role not in CALLBACK_ROLES:
            raise CallbackRefused(403, f"callbacks are for operators and dispatchers; not for {current.role}", "role")
        if ticket is None:
            raise CallbackRefused(404, f"there is no ticket #{ticket_id}", "not_found")
        if not current.interface:
            raise CallbackRefused(409, "this account has no softphone interface; ask an administrator", "interface")
        final = await last_outcome(self._sessions, ticket_id)
        if final in FINAL_OUTCOMES:
            raise CallbackRefused(409, f"ticket #{ticket_id} needs no callback: it was recorded as {final}", "outcome")
        number = callback_number(ticket)
        if number is None:
            raise CallbackRefused(409, f"ticket #{ticket_id} has no number that can be dialled", "number")
        busy = self.pending_for(ticket_id)
        if busy is not None:
            raise CallbackRefused(
                409, f"a callback on ticket #{ticket_id} is already ringing (Originate {busy})", "pending"
            )
        if not self._link.connected:
            raise AmiNotConnected("AMI link is down; Originate not sent")
        action_id = f"ngcc112-callback-{ticket_id}-{secrets.token_hex(6)}"
        action = actions.originate(
            current.interface,
            context=self._context,
            exten=number,
            caller_id=f'"112 callback" <{number}>',
            timeout_ms=RING_MS,
        )
        action = replace(action, headers=(*action.headers, ("ActionID", action_id)))
        at = self._clock()
        # Registered before sending: the OriginateResponse may arrive before send() returns.
        self._pending[action_id] = _Pending(ticket_id, at, current.interface, current.username)
        if click_id is not None:
            self._remember_click(click_id, action_id)
        outcome, message = "queued", ""
        try:
            response = await self._link.send(action)
        except AmiNotConnected:
            self._pending.pop(action_id, None)
            if click_id is not None:
                self._clicks.pop(click_id, None)
            raise
        except (AmiActionTimeout, ConnectionError, asyncio.TimeoutError) as exc:
            outcome, message = "unknown", str(exc) or type(exc).__name__
        else:
            if not response.ok:
                self._pending.pop(action_id, None)
                outcome, message = "refused", response.message or "Asterisk refused the Originate"
        attempt = CallbackAttempt(
            ticket_id=ticket_id,
            action_id=action_id,
            number=number,
            interface=current.interface,
            actor=current.username,
            at=at,
            outcome=outcome,
            message=message,
        )
        await self._audit(
            ticket_id,
            current.username,
            "callback",
            at,
            {
                "number": number,
                "interface": current.interface,
                "action_id": action_id,
                "context": self._context,
                "outcome": outcome,
                **({"message": message} if message else {}),
            },
        )
        log.info(
            "callback.placed",
            ticket_id=ticket_id,
            action_id=action_id,
            interface=current.interface,
            outcome=outcome,
            actor=current.username,
        )
        return attempt

    async def _record_result(self, pending: _Pending, action_id: str, ok: bool, reason: str) -> None:
        ticket_id = pending.ticket_id
        changes: dict[str, Any] = {
            "action_id": action_id,
            "result": "success" if ok else "failure",
            "reason": reason,
            "reason_text": REASONS.get(reason, ""),
        }
        if ok and pending.interface:
            # Answered: the abandoned call's intake opens for the one who called back.
            changes.update(interface=pending.interface, placed_by=pending.actor)
        try:
            await self._audit(
                ticket_id,
                SYSTEM_ACTOR,
                "callback_result",
                self._clock(),
                changes,
                take_for=pending.interface if ok else None,
            )
        except Exception:
            log.exception("callback.result_not_recorded", ticket_id=ticket_id, action_id=action_id)
            return
        log.info("callback.result", ticket_id=ticket_id, action_id=action_id, ok=ok, reason=reason)

    async def _audit(
        self,
        ticket_id: int,
        actor: str,
        action: str,
        at: datetime,
        changes: dict[str, Any],
        *,
        take_for: str | None = None,
    ) -> None:
        changes = jsonable(changes)
        async with self._sessions.begin() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                return
            if take_for and ticket.state == State.NEW.value and ticket.answered_at is None:
                if ticket.operator_interface not in (None, take_for):
                    changes["intake_taken_from"] = ticket.operator_interface
                ticket.operator_interface = take_for
                changes["intake_opened"] = True
            session.add(
                AuditEntry(
                    ticket_id=ticket_id,
                    at=at,
                    actor=actor,
                    action=action,
                    from_state=ticket.state,
                    to_state=ticket.state,
                    changes=changes,
                )
            )
            change = TicketChanged(
                ticket_id=ticket_id, linkedid=ticket.linkedid, action=action, at=at, state=ticket.state, changes=changes
            )
        if self._publish is not None:
            self._publish(change)
