"""The caller's position as the panel reads it: one ticket, the board map's accepted positions,
and the rule that a closed ticket's position no longer changes. Each read takes the sessionmaker
and returns rows or typed data; the panel (:mod:`ngcc112.panel.location`) formats them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.location_models import LocationFixRow
from ngcc112.tickets.models import Ticket
from ngcc112.tickets.states import State

#: Incidents the board map shows (escalated to the end of field handling).
BOARD_STATES = (State.ESCALATED.value, State.DISPATCHED.value, State.ON_SCENE.value, State.REPORTED.value)
BOARD_LIMIT = 200


@dataclass(frozen=True, slots=True)
class BoardPosition:
    """An open incident's accepted position."""

    ticket_id: int
    state: str
    category: str | None
    source: str
    latitude: float
    longitude: float
    radius_m: float | None
    time: datetime


def position_may_change(ticket: Ticket) -> bool:
    """A closed ticket is the record of what was done: its position no longer changes."""
    return ticket.state != State.CLOSED.value


async def find_ticket(sessions: async_sessionmaker[AsyncSession], ticket_id: int) -> Ticket | None:
    async with sessions() as session:
        return await session.get(Ticket, ticket_id)


async def board_positions(sessions: async_sessionmaker[AsyncSession]) -> list[BoardPosition]:
    """The accepted position of every open incident (:data:`BOARD_STATES`), newest call first."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Ticket, LocationFixRow)
                .join(LocationFixRow, (LocationFixRow.ticket_id == Ticket.id) & LocationFixRow.accepted)
                .where(Ticket.state.in_(BOARD_STATES))
                .order_by(Ticket.arrived_at.desc())
                .limit(BOARD_LIMIT)
            )
        ).all()
    return [
        BoardPosition(
            ticket_id=ticket.id,
            state=ticket.state,
            category=ticket.category,
            source=row.source,
            latitude=row.latitude,
            longitude=row.longitude,
            radius_m=row.radius_m,
            time=row.time,
        )
        for ticket, row in rows
    ]


__all__ = ["BOARD_LIMIT", "BOARD_STATES", "BoardPosition", "board_positions", "find_ticket", "position_may_change"]
