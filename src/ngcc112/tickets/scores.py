"""Triage's scores on the ticket: the values, their reasons and an audit row, in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.store import TicketChanged, jsonable

#: The actor written in the audit trail for scores.
TRIAGE_ACTOR = "triage"


async def ticket_id_of(sessions: async_sessionmaker[AsyncSession], linkedid: str) -> int | None:
    """The call's ticket id, or None while the ticket store has not written it yet."""
    async with sessions() as session:
        return await session.scalar(select(Ticket.id).where(Ticket.linkedid == linkedid))


async def store_score(
    sessions: async_sessionmaker[AsyncSession],
    ticket_id: int,
    *,
    ghost: float,
    prank: float,
    reasons: list[dict[str, Any]],
    likely_real: bool,
    queue_priority: int,
    at: datetime,
) -> TicketChanged | None:
    """Write a score on the ticket with its ``scored`` audit row; the change to publish, or
    None when there is no such ticket. Database errors are raised (the caller retries)."""
    changes = {
        "ghost_score": ghost,
        "prank_score": prank,
        "score_reasons": reasons,
        "likely_real": likely_real,
        "queue_priority": queue_priority,
    }
    async with sessions.begin() as session:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            return None
        ticket.ghost_score, ticket.prank_score = ghost, prank
        ticket.score_reasons = reasons
        session.add(
            AuditEntry(
                ticket_id=ticket_id,
                at=at,
                actor=TRIAGE_ACTOR,
                action="scored",
                from_state=ticket.state,
                to_state=ticket.state,
                changes=jsonable(changes),
            )
        )
        return TicketChanged(
            ticket_id=ticket_id,
            linkedid=ticket.linkedid,
            action="scored",
            at=at,
            state=ticket.state,
            changes=jsonable(changes),
        )
