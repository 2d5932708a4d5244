"""The ticket store: the only code that writes tickets and their audit rows.

Call events from the tracker arrive here in order, in batches; a batch is one
transaction that updates its tickets and writes every event's audit row together
(one bulk INSERT), then a :class:`TicketChanged` per change is published. Opening is idempotent on the
call's Linkedid: a replayed or resynced call never makes a second ticket.
"""

from __future__ import annotations


from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast, overload

import structlog
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112 import names
from ngcc112.ami.events import CallArrived, CallEnded, CallEvent, CallsResynced
from ngcc112.tickets import calls
from ngcc112.tickets.models import AuditEntry, Ticket

log = structlog.get_logger(__name__)

SYSTEM_ACTOR = "asterisk"
#: The audit rows a batch writes go in as one Core executemany.
AUDIT_TABLE = cast(Table, AuditEntry.__table__)


@dataclass(frozen=True, slots=True)
class TicketChanged:
    """Published after a ticket changed and the change is committed."""

    ticket_id: int
    linkedid: str
    action: str
    at: datetime
    state: str
    changes: dict[str, Any] = field(default_factory=dict)
    opened: bool = False


@overload
def jsonable(value: dict[str, Any]) -> dict[str, Any]: ...
@overload
def jsonable(value: Any) -> Any: ...
def jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class TicketStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publish: Callable[[TicketChanged], None] | None = None,
        *,
        site: str = names.DEFAULT_SITE,
    ) -> None:
        self._sessions = sessions
        self._publish = publish or (lambda change: None)
        #: Stamped on every ticket this store opens: the site whose Asterisk took the call.
        self.site = site

    async def answers(self, timeout: float = 5.0) -> bool:
        """Does the database answer ``SELECT 1`` within ``timeout`` seconds?"""
        from ngcc112.tickets.db import answers

        return await answers(self._sessions, timeout)

    async def record(self, event: CallEvent) -> TicketChanged | None:
        """Apply one call event to its ticket (opening it when needed)."""
        changes = await self.record_many([event])
        return changes[0] if changes else None

    async def record_many(self, events: Sequence[CallEvent]) -> list[TicketChanged]:
        """Apply events in order in one transaction (a surge costs one commit, not hundreds).

        When the batch hits a constraint (another writer opened the same call a
        moment ago) it is retried event by event, so one event can never sink
        the others.
        """
        try:
            changes = await self._record_batch(events)
        except IntegrityError:
            changes = []
            for event in events:
                changes.extend(await self._record_batch([event]))
        for change in changes:
            self._publish(change)
        return changes

    async def _record_batch(self, events: Sequence[CallEvent]) -> list[TicketChanged]:
        async with self._sessions.begin() as session:
            # One query for every ticket the batch touches, one flush for the new ones.
            call_ids = {event.call_id for event in events}
            tickets = {
                t.linkedid: t for t in await session.scalars(select(Ticket).where(Ticket.linkedid.in_(call_ids)))
            }
            opened: set[str] = set()
            for event in events:
                if event.call_id not in tickets:
                    tickets[event.call_id] = calls.new_ticket(event, self.site)
                    session.add(tickets[event.call_id])
                    opened.add(event.call_id)
            if opened:
                await session.flush()
            out = []
            audit: list[dict[str, Any]] = []
            for event in events:
                change = self._apply(audit, tickets[event.call_id], event, opening=event.call_id in opened)
                opened.discard(event.call_id)
                if change is not None:
                    out.append(change)
            # the audit rows as one executemany, not one ORM object (and INSERT) each: the
            # unit of work's per-object bookkeeping was most of a surge's ticket-store time
            await session.flush()
            if audit:
                await session.execute(insert(AUDIT_TABLE), audit)
            return out

    def _apply(
        self, audit: list[dict[str, Any]], ticket: Ticket, event: CallEvent, *, opening: bool
    ) -> TicketChanged | None:
        before = None if opening else ticket.state
        if opening:
            changes = {
                "caller_number": ticket.caller_number,
                "caller_name": ticket.caller_name,
                "channel": ticket.channel,
                "arrived_at": ticket.arrived_at,
            }
            changes.update(calls.apply(ticket, event) if not isinstance(event, CallArrived) else {})
            log.info("ticket.opened", ticket_id=ticket.id, call_id=event.call_id, caller=ticket.caller_number)
        else:
            changes = calls.apply(ticket, event)
            if not changes:
                return None
            if ticket.state != before:
                changes["state"] = ticket.state
        action = "call_arrived" if opening else event.kind
        changed = jsonable(changes)
        audit.append(
            {
                "ticket_id": ticket.id,
                "at": event.at,
                "actor": SYSTEM_ACTOR,
                "action": action,
                "from_state": before,
                "to_state": ticket.state,
                "changes": changed,
            }
        )
        if isinstance(event, CallEnded):
            log.info(
                "ticket.call_ended",
                ticket_id=ticket.id,
                call_id=event.call_id,
                abandoned=ticket.abandoned,
                unobserved=event.unobserved,
            )
        elif not opening:
            log.debug(
                "ticket.updated",
                ticket_id=ticket.id,
                call_id=event.call_id,
                action=action,
                fields=sorted(changes),
            )
        return TicketChanged(
            ticket_id=ticket.id,
            linkedid=ticket.linkedid,
            action=action,
            at=event.at,
            state=ticket.state,
            changes=changed,
            opened=opening,
        )

    async def reconcile(self, resynced: CallsResynced, prefix: str = "") -> list[TicketChanged]:
        """Close out tickets whose calls Asterisk no longer has (ended while we were away)."""
        async with self._sessions() as session:
            stale = (
                await session.scalars(
                    select(Ticket.linkedid).where(Ticket.ended_at.is_(None), Ticket.arrived_at <= resynced.at)
                )
            ).all()
        changed = []
        for linkedid in stale:
            if linkedid in resynced.live_call_ids or (prefix and not linkedid.startswith(prefix)):
                continue
            change = await self.record(
                CallEnded(
                    call_id=linkedid,
                    at=resynced.at,
                    cause=None,
                    cause_text="ended while the daemon was away",
                    unobserved=True,
                )
            )
            if change is not None:
                changed.append(change)
        return changed

    @staticmethod
    async def _by_linkedid(session: AsyncSession, linkedid: str) -> Ticket | None:
        return await session.scalar(select(Ticket).where(Ticket.linkedid == linkedid))

    # reads ---------------------------------------------------------------------
    async def get(self, ticket_id: int) -> Ticket | None:
        async with self._sessions() as session:
            return await session.get(Ticket, ticket_id)

    async def by_linkedid(self, linkedid: str) -> Ticket | None:
        async with self._sessions() as session:
            return await self._by_linkedid(session, linkedid)

    async def recent(self, limit: int = 50) -> Sequence[Ticket]:
        async with self._sessions() as session:
            return (
                await session.scalars(select(Ticket).order_by(Ticket.arrived_at.desc(), Ticket.id.desc()).limit(limit))
            ).all()

    async def audit(self, ticket_id: int) -> Sequence[AuditEntry]:
        async with self._sessions() as session:
            return (
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.ticket_id == ticket_id).order_by(AuditEntry.id)
                )
            ).all()


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    """The ticket as plain JSON-able data (CLI, API)."""
    return jsonable(
        {
            "id": ticket.id,
            "linkedid": ticket.linkedid,
            "site": ticket.site,
            "state": ticket.state,
            "caller_number": ticket.caller_number,
            "caller_name": ticket.caller_name,
            "caller_presentation": ticket.caller_presentation,
            "channel": ticket.channel,
            "exten": ticket.exten,
            "category": ticket.category,
            "arrived_at": ticket.arrived_at,
            "queued_at": ticket.queued_at,
            "queue": ticket.queue,
            "ringing_at": ticket.ringing_at,
            "answered_at": ticket.answered_at,
            "operator_interface": ticket.operator_interface,
            "waited_seconds": ticket.waited_seconds,
            "ended_at": ticket.ended_at,
            "hangup_cause": ticket.hangup_cause,
            "abandoned": ticket.abandoned,
            "abandoned_at": ticket.abandoned_at,
            "withdrawn": ticket.withdrawn,
            #: Opened from Asterisk's CEL: a call the daemon never saw live.
            "recovered": bool(getattr(ticket, "recovered", False)),
            "ended_unobserved": ticket.ended_unobserved,
            "silent_digit": ticket.silent_digit,
            "caller_talked_at": ticket.caller_talked_at,
            "verdict": ticket.verdict,
            "variables": ticket.variables,
        }
    )
