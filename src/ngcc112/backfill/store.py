"""The backfill's database: its read marks, which calls have a ticket, and the recovered tickets it writes.

A recovered ticket is the one the live path would have made from the call's events,
marked ``recovered``, inserted "unless the Linkedid exists" (``ON CONFLICT DO NOTHING``)
with an audit row naming the source, and published as a :class:`TicketChanged`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112 import names
from ngcc112.backfill.cel import CelCall, call_events
from ngcc112.backfill.models import ORIGIN, BackfillMark
from ngcc112.clock import Clock, utc
from ngcc112.tickets import calls as ticket_calls
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.store import TicketChanged, jsonable

log = structlog.get_logger(__name__)

#: Who the audit row names.
ACTOR = "asterisk-cel"
ACTION = "recovered"


class BackfillStore:
    """The backfill's reads and writes, for the source named ``source_key``."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        source_key: str | None,
        *,
        clock: Clock,
        publish: Callable[[TicketChanged], None],
        site: str = names.DEFAULT_SITE,
    ) -> None:
        self._sessions = sessions
        #: The site of the Asterisk whose CEL this reads: stamped on the tickets it recovers.
        self._site = site
        self._source_key = source_key
        self._clock = clock
        self._publish = publish

    async def marks(self) -> tuple[datetime, BackfillMark | None]:
        assert self._source_key is not None
        async with self._sessions.begin() as session:
            origin = await session.get(BackfillMark, ORIGIN)
            if origin is None:  # a database made without migration 0005's row: start now
                since = utc(self._clock)
                await session.execute(
                    _insert(session)(BackfillMark)
                    .values(source=ORIGIN, position=None, since=since, recovered=0)
                    .on_conflict_do_nothing()
                )
                return since, await session.get(BackfillMark, self._source_key)
            return origin.since, await session.get(BackfillMark, self._source_key)

    async def save_mark(self, position: str, now: datetime, recovered: int) -> None:
        """Upsert: another daemon on the same database (the standby) may save at the same moment."""
        assert self._source_key is not None
        async with self._sessions.begin() as session:
            insert = _insert(session)(BackfillMark).values(
                source=self._source_key, position=position, since=now, scanned_at=now, recovered=recovered
            )
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=["source"],
                    set_={
                        "position": insert.excluded.position,
                        "scanned_at": insert.excluded.scanned_at,
                        "recovered": BackfillMark.recovered + insert.excluded.recovered,
                    },
                )
            )

    async def without_ticket(self, calls: dict[str, int]) -> dict[str, int]:
        missing = dict(calls)
        ids = list(calls)
        async with self._sessions() as session:
            for i in range(0, len(ids), 500):
                for linkedid in (
                    await session.scalars(select(Ticket.linkedid).where(Ticket.linkedid.in_(ids[i : i + 500])))
                ).all():
                    missing.pop(linkedid, None)
        return missing

    async def write(self, batch: list[tuple[str, CelCall]], now: datetime) -> tuple[list[str], int]:
        """A recovered ticket for each call of ``batch`` without one: the call ids opened, how many had one."""
        recovered: list[str] = []
        existing_count = 0
        changes: list[TicketChanged] = []
        async with self._sessions.begin() as session:
            existing = set(
                (
                    await session.scalars(select(Ticket.linkedid).where(Ticket.linkedid.in_([cid for cid, _ in batch])))
                ).all()
            )
            for call_id, call in batch:
                if call_id in existing:
                    existing_count += 1
                    continue
                ticket = recovered_ticket(call, call_id, now=now, site=self._site)
                values = _row(ticket)
                insert = _insert(session)(Ticket)
                ticket_id = await session.scalar(
                    insert.values(**values).on_conflict_do_nothing(index_elements=["linkedid"]).returning(Ticket.id)
                )
                if ticket_id is None:  # a live writer opened it a moment ago
                    existing_count += 1
                    continue
                facts = {key: values.get(key) for key in _AUDITED}
                session.add(
                    AuditEntry(
                        ticket_id=ticket_id,
                        at=now,
                        actor=ACTOR,
                        action=ACTION,
                        from_state=None,
                        to_state=ticket.state,
                        changes=jsonable({**facts, "source": self._source_key}),
                    )
                )
                recovered.append(call_id)
                changes.append(
                    TicketChanged(
                        ticket_id=ticket_id,
                        linkedid=call_id,
                        action=ACTION,
                        at=now,
                        state=ticket.state,
                        changes=jsonable(facts),
                        opened=True,
                    )
                )
        for change in changes:
            log.info(
                "ticket.recovered",
                ticket_id=change.ticket_id,
                call_id=change.linkedid,
                caller=change.changes.get("caller_number"),
                answered=change.changes.get("answered_at") is not None,
            )
            self._publish(change)
        return recovered, existing_count


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL alike)."""
    return pg_insert if session.bind is not None and session.bind.dialect.name == "postgresql" else sqlite_insert


#: The facts the audit row of a recovered ticket records.
_AUDITED = (
    "caller_number",
    "caller_name",
    "channel",
    "exten",
    "category",
    "arrived_at",
    "queued_at",
    "queue",
    "ringing_at",
    "ringing_interface",
    "answered_at",
    "operator_interface",
    "waited_seconds",
    "abandoned",
    "abandoned_at",
    "ended_at",
    "hangup_cause",
    "hangup_cause_text",
    "ended_unobserved",
    "recovered",
)


def recovered_ticket(call: CelCall, call_id: str, *, now: datetime, site: str = names.DEFAULT_SITE) -> Ticket:
    """The ticket the live path would have made from this call's events, marked recovered."""
    events = call_events(call, call_id, now=now)
    ticket = ticket_calls.new_ticket(events[0], site)
    for event in events[1:]:
        ticket_calls.apply(ticket, event)
    ticket.recovered = True
    return ticket


def _row(ticket: Ticket) -> dict[str, Any]:
    """Column values of a not-yet-inserted ticket (None left to the column defaults)."""
    values = {}
    for column in Ticket.__table__.columns:
        if column.key == "id":
            continue
        value = getattr(ticket, column.key)
        if value is not None:
            values[column.key] = value
    return values
