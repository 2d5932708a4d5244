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
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

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
        """One transaction, a handful of statements whatever the batch's size: one SELECT
        for every ticket it touches, one INSERT for the calls it opens, one UPDATE per set
        of changed columns, one INSERT for the audit rows. The tickets are plain rows
        (:class:`_Draft`), not ORM objects: the unit of work's per-object bookkeeping was
        most of a surge's ticket-store time."""
        async with self._sessions.begin() as session:
            # Core statements on the session's connection: the ORM's execute path is not needed
            conn = await session.connection()
            call_ids = list({event.call_id: None for event in events})
            rows = await conn.execute(_BY_LINKEDIDS, {"ids": call_ids})
            tickets = {row.linkedid: _Draft(row._asdict()) for row in rows}
            before = {linkedid: dict(vars(draft)) for linkedid, draft in tickets.items()}
            opened: list[_Draft] = []
            applied: list[_Applied] = []
            for event in events:
                draft = tickets.get(event.call_id)
                if draft is None:
                    draft = tickets[event.call_id] = _Draft.new(event, self.site)
                    opened.append(draft)
                    done = self._apply(draft, event, opening=True)
                else:
                    done = self._apply(draft, event, opening=False)
                if done is not None:
                    applied.append(done)
            if opened:
                await self._insert(conn, opened)
            await self._update(conn, [(draft, before[key]) for key, draft in tickets.items() if key in before])
            out = [done.change() for done in applied]
            if applied:
                await conn.execute(_INSERT_AUDIT, [done.audit_row() for done in applied])
        for draft in opened:
            log.info("ticket.opened", ticket_id=draft.id, call_id=draft.linkedid, caller=draft.caller_number)
        for done in applied:
            done.log()
        return out

    @staticmethod
    async def _insert(conn: AsyncConnection, opened: list[_Draft]) -> None:
        """INSERT the opened tickets (one executemany) and learn their ids."""
        values = [{k: v for k, v in vars(draft).items() if v is not None and k != "id"} for draft in opened]
        keys = {k for row in values for k in row}
        result = await conn.execute(_INSERT_TICKETS, [{k: row.get(k) for k in keys} for row in values])
        ids = {linkedid: ticket_id for ticket_id, linkedid in result}
        for draft in opened:
            draft.id = ids[draft.linkedid]

    @staticmethod
    async def _update(conn: AsyncConnection, loaded: list[tuple[_Draft, dict[str, Any]]]) -> None:
        """UPDATE the columns the batch changed on tickets that existed (one executemany per set of columns)."""
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for draft, was in loaded:
            now = vars(draft)
            changed = tuple(sorted(k for k, v in now.items() if was.get(k) != v))
            if changed:
                by_columns.setdefault(changed, []).append({"_id": draft.id, **{k: now[k] for k in changed}})
        for columns, params in by_columns.items():
            statement = _UPDATES.get(columns)
            if statement is None:
                statement = _UPDATES[columns] = (
                    update(TICKETS).where(TICKETS.c.id == bindparam("_id")).values({k: bindparam(k) for k in columns})
                )
            await conn.execute(statement, params)

    def _apply(self, ticket: _Draft, event: CallEvent, *, opening: bool) -> _Applied | None:
        before = None if opening else ticket.state
        if opening:
            changes = {
                "caller_number": ticket.caller_number,
                "caller_name": ticket.caller_name,
                "channel": ticket.channel,
                "arrived_at": ticket.arrived_at,
            }
            changes.update(calls.apply(_as_ticket(ticket), event) if not isinstance(event, CallArrived) else {})
        else:
            changes = calls.apply(_as_ticket(ticket), event)
            if not changes:
                return None
            if ticket.state != before:
                changes["state"] = ticket.state
        return _Applied(
            ticket, event, "call_arrived" if opening else event.kind, before, ticket.state, changes, opening
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


TICKETS = cast(Table, Ticket.__table__)
#: Every ticket a batch touches, by Linkedid (an expanding IN, built once), locked in id order
#: (PostgreSQL; SQLite locks the whole file): another batched writer of tickets (triage's
#: scores) locks in the same order, so two batches never wait on each other in a cycle.
_BY_LINKEDIDS = (
    select(TICKETS)
    .where(TICKETS.c.linkedid.in_(bindparam("ids", expanding=True)))
    .order_by(TICKETS.c.id)
    .with_for_update()
)
_INSERT_TICKETS = insert(TICKETS).returning(TICKETS.c.id, TICKETS.c.linkedid)
_INSERT_AUDIT = insert(AUDIT_TABLE)
#: One UPDATE statement per set of changed columns, built once (a surge has a handful of sets).
_UPDATES: dict[tuple[str, ...], Update] = {}


class _Draft:
    """A ticket row as plain attributes: :func:`calls.apply` changes it, the store writes what changed."""

    id: int
    linkedid: str
    state: str
    caller_number: str | None
    caller_name: str | None
    channel: str | None
    arrived_at: datetime
    abandoned: bool

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    @classmethod
    def new(cls, event: CallEvent, site: str) -> _Draft:
        """The row :func:`calls.new_ticket` makes for a call first seen through ``event``; every
        column present (None when unset), the id once it is inserted."""
        ticket = calls.new_ticket(event, site)
        values: dict[str, Any] = dict.fromkeys(TICKETS.c.keys())
        values.update({k: v for k, v in vars(ticket).items() if not k.startswith("_")})
        return cls(values)


def _as_ticket(draft: _Draft) -> Ticket:
    """:func:`calls.apply` reads and sets a ticket's column attributes, nothing else."""
    return cast(Ticket, draft)


@dataclass(slots=True)
class _Applied:
    """One event applied to its ticket: its audit row and its published change, once the ids are known."""

    ticket: _Draft
    event: CallEvent
    action: str
    from_state: str | None
    to_state: str
    changes: dict[str, Any]
    opening: bool

    def __post_init__(self) -> None:
        self.changes = jsonable(self.changes)

    def audit_row(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket.id,
            "at": self.event.at,
            "actor": SYSTEM_ACTOR,
            "action": self.action,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "changes": self.changes,
        }

    def change(self) -> TicketChanged:
        return TicketChanged(
            ticket_id=self.ticket.id,
            linkedid=self.ticket.linkedid,
            action=self.action,
            at=self.event.at,
            state=self.to_state,
            changes=self.changes,
            opened=self.opening,
        )

    def log(self) -> None:
        event = self.event
        if isinstance(event, CallEnded):
            log.info(
                "ticket.call_ended",
                ticket_id=self.ticket.id,
                call_id=event.call_id,
                abandoned=self.changes.get("abandoned", self.ticket.abandoned),
                unobserved=event.unobserved,
            )
        elif not self.opening:
            log.debug(
                "ticket.updated",
                ticket_id=self.ticket.id,
                call_id=event.call_id,
                action=self.action,
                fields=sorted(self.changes),
            )


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
