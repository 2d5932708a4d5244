"""The dispatcher board's read model: open incidents, when each entered its states, their
dispatches, and the abandoned calls to call back. Each takes the sessionmaker and returns rows
or typed views; the panel (:mod:`ngcc112.panel.dispatch.board`) judges and formats them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.dispatch_models import Agency, Dispatch
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.states import State

#: Ticket states on the board as incidents the agencies work on (or reported, awaiting Close Ticket).
INCIDENT_STATES = (State.DISPATCHED.value, State.ON_SCENE.value, State.REPORTED.value)
#: How far back the board looks for abandoned calls to call back.
CALLBACK_WINDOW = timedelta(hours=24)
BOARD_LIMIT = 200


async def entered_states(
    sessions: async_sessionmaker[AsyncSession], ticket_ids: list[int]
) -> dict[int, dict[str, datetime]]:
    """When each ticket first entered each state (from its audit rows)."""
    if not ticket_ids:
        return {}
    async with sessions() as session:
        rows = (
            await session.execute(
                select(AuditEntry.ticket_id, AuditEntry.to_state, func.min(AuditEntry.at))
                .where(
                    AuditEntry.ticket_id.in_(ticket_ids),
                    AuditEntry.to_state.is_not(None),
                    (AuditEntry.from_state.is_(None)) | (AuditEntry.from_state != AuditEntry.to_state),
                )
                .group_by(AuditEntry.ticket_id, AuditEntry.to_state)
            )
        ).all()
    out: dict[int, dict[str, datetime]] = {}
    for ticket_id, to_state, at in rows:
        if to_state is not None:  # the query asks for moves into a state only
            out.setdefault(ticket_id, {})[to_state] = at
    return out


async def dispatches_on(
    sessions: async_sessionmaker[AsyncSession], states: dict[int, str]
) -> dict[int, list[dispatching.DispatchView]]:
    """Every dispatch on these tickets (staff see all), in one query: the board's incidents."""
    if not states:
        return {}
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Dispatch, Agency)
                .join(Agency, Agency.id == Dispatch.agency_id)
                .where(Dispatch.ticket_id.in_(states))
                .order_by(Dispatch.id)
            )
        ).all()
    out: dict[int, list[dispatching.DispatchView]] = {}
    for item, agency in rows:
        out.setdefault(item.ticket_id, []).append(
            dispatching.DispatchView(
                id=item.id,
                ticket_id=item.ticket_id,
                ticket_state=states[item.ticket_id],
                agency_code=agency.code,
                agency_name=agency.name,
                status=item.status,
                instructions=item.instructions,
                sent_at=item.sent_at,
                sent_by=item.sent_by,
                acknowledged_at=item.acknowledged_at,
                acknowledged_by=item.acknowledged_by,
                en_route_at=item.en_route_at,
                on_scene_at=item.on_scene_at,
                finished_at=item.finished_at,
                reason=item.reason,
                report=item.report,
                reported_at=item.reported_at,
                reported_by=item.reported_by,
            )
        )
    return out


async def known_sites(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """Every site a ticket was taken at, by name (one, ``main``, on a single node)."""
    async with sessions() as session:
        return list((await session.scalars(select(Ticket.site).distinct().order_by(Ticket.site))).all())


def _at_site(site: str | None) -> ColumnElement[bool]:
    return true() if site is None else Ticket.site == site


async def open_incidents(sessions: async_sessionmaker[AsyncSession], site: str | None = None) -> list[Ticket]:
    """Escalated tickets and incidents the agencies work on, oldest first (at most :data:`BOARD_LIMIT`);
    only ``site``'s when given."""
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(Ticket)
                    .where(Ticket.state.in_((State.ESCALATED.value, *INCIDENT_STATES)), _at_site(site))
                    .order_by(Ticket.arrived_at, Ticket.id)
                    .limit(BOARD_LIMIT)
                )
            ).all()
        )


async def abandoned_calls(
    sessions: async_sessionmaker[AsyncSession], now: datetime, site: str | None = None
) -> list[Ticket]:
    """Calls that hung up before an operator answered, not yet dealt with: callback candidates
    (only ``site``'s when given)."""
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(Ticket)
                    .where(
                        Ticket.abandoned.is_(True),
                        Ticket.answered_at.is_(None),
                        Ticket.state == State.NEW.value,
                        Ticket.arrived_at >= now - CALLBACK_WINDOW,
                        _at_site(site),
                    )
                    .order_by(Ticket.arrived_at.desc(), Ticket.id.desc())
                    .limit(BOARD_LIMIT)
                )
            ).all()
        )


async def tickets_by_id(sessions: async_sessionmaker[AsyncSession], ticket_ids: set[int]) -> dict[int, Ticket]:
    """These tickets, by id (an agency's dispatches name them)."""
    async with sessions() as session:
        return {t.id: t for t in (await session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)))).all()}
