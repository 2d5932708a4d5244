"""What the dispatcher and the agencies may read: their dispatches, a ticket's, the fellow agencies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.dispatch_models import Agency, Dispatch
from ngcc112.tickets.models import AuditEntry, Ticket, User
from ngcc112.tickets.states import Role, State, TransitionRefused
from ngcc112.tickets.store import jsonable
from ngcc112.tickets.dispatch.rules import (
    DISPATCH_STEPS,
    DispatchError,
    DispatchStatus,
    DispatchView,
    NoReportAfterCannotHandle,
    NotFoundOrForbidden,
    RoleRefused,
    TicketDispatches,
    view_of,
)
from ngcc112.tickets.dispatch.locks import actor_of, reader_of
from ngcc112.tickets.dispatch.use_cases import acknowledge, close, dispatch, file_report, update_status


async def visible_dispatches(
    sessions: async_sessionmaker[AsyncSession],
    actor: User,
    *,
    open_only: bool = False,
    ticket_id: int | None = None,
    limit: int = 500,
) -> list[DispatchView]:
    """The dispatches this actor may see, newest first.

    An agency user: their agency's only (none without an agency). Staff: all.
    ``open_only`` leaves out dispatches on closed tickets and finished, reported ones.
    """
    async with sessions() as session:
        try:
            who = await actor_of(session, actor)
        except TransitionRefused:
            return []
        query = (
            select(Dispatch, Agency, Ticket.state)
            .join(Agency, Agency.id == Dispatch.agency_id)
            .join(Ticket, Ticket.id == Dispatch.ticket_id)
            .order_by(Dispatch.sent_at.desc(), Dispatch.id.desc())
            .limit(limit)
        )
        if who.role is Role.AGENCY:
            if who.agency_id is None:
                return []
            query = query.where(Dispatch.agency_id == who.agency_id)
        if ticket_id is not None:
            query = query.where(Dispatch.ticket_id == ticket_id)
        rows = (await session.execute(query)).all()
    views = [view_of(d, a, state) for d, a, state in rows]
    if open_only:
        views = [v for v in views if v.ticket_state != State.CLOSED.value and not (v.finished and v.reported)]
    return views


async def get_dispatch_for(sessions: async_sessionmaker[AsyncSession], actor: User, dispatch_id: int) -> DispatchView:
    """One dispatch, if this actor may see it; else :class:`NotFoundOrForbidden`."""
    async with sessions() as session:
        who = await reader_of(session, actor)
        row = (
            await session.execute(
                select(Dispatch, Agency, Ticket.state)
                .join(Agency, Agency.id == Dispatch.agency_id)
                .join(Ticket, Ticket.id == Dispatch.ticket_id)
                .where(Dispatch.id == dispatch_id)
            )
        ).first()
    if row is None:
        raise NotFoundOrForbidden(f"there is no dispatch #{dispatch_id}")
    item, agency, state = row
    if who.role is Role.AGENCY and (who.agency_id is None or item.agency_id != who.agency_id):
        raise NotFoundOrForbidden(f"there is no dispatch #{dispatch_id}")
    return view_of(item, agency, state)


async def get_ticket_for(sessions: async_sessionmaker[AsyncSession], actor: User, ticket_id: int) -> TicketDispatches:
    """A ticket with the dispatches the actor may see on it.

    An agency user gets only tickets dispatched to their agency, with only
    their own dispatch on it; any other ticket is :class:`NotFoundOrForbidden`.
    """
    async with sessions() as session:
        who = await reader_of(session, actor)
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFoundOrForbidden(f"there is no ticket #{ticket_id}")
        query = (
            select(Dispatch, Agency)
            .join(Agency, Agency.id == Dispatch.agency_id)
            .where(Dispatch.ticket_id == ticket_id)
            .order_by(Dispatch.id)
        )
        if who.role is Role.AGENCY:
            query = query.where(Dispatch.agency_id == who.agency_id)
        rows = (await session.execute(query)).all()
    if who.role is Role.AGENCY and (who.agency_id is None or not rows):
        raise NotFoundOrForbidden(f"there is no ticket #{ticket_id}")
    return TicketDispatches(ticket, tuple(view_of(d, a, ticket.state) for d, a in rows))


@dataclass(frozen=True, slots=True)
class FellowAgency:
    """Another agency on the same incident, as an agency user may see it: its name and stage only."""

    agency_code: str
    agency_name: str
    status: str


async def fellow_agencies(
    sessions: async_sessionmaker[AsyncSession], actor: User, ticket_id: int
) -> list[FellowAgency]:
    """The other agencies dispatched on a ticket: name and status, nothing else.

    For an agency user only on a ticket dispatched to their agency (else
    :class:`NotFoundOrForbidden`); their own agency is left out. Instructions,
    reasons, reports and who did what stay with each agency and the 112 center.
    """
    async with sessions() as session:
        who = await reader_of(session, actor)
        rows = (
            await session.execute(
                select(Dispatch.agency_id, Agency.code, Agency.name, Dispatch.status)
                .join(Agency, Agency.id == Dispatch.agency_id)
                .where(Dispatch.ticket_id == ticket_id)
                .order_by(Dispatch.id)
            )
        ).all()
    if who.role is Role.AGENCY and (who.agency_id is None or all(r[0] != who.agency_id for r in rows)):
        raise NotFoundOrForbidden(f"there is no ticket #{ticket_id}")
    return [FellowAgency(code, name, status) for agency_id, code, name, status in rows if agency_id != who.agency_id]


async def closing_of(sessions: async_sessionmaker[AsyncSession], ticket_id: int) -> dict[str, Any] | None:
    """When the ticket was closed and the dispatcher's reason (None: closed after every report)."""
    async with sessions() as session:
        row = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.ticket_id == ticket_id, AuditEntry.action == "close")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    if row is None:
        return None
    return {"at": row.at, "reason": (row.changes or {}).get("override_reason")}


async def ticket_agencies(sessions: async_sessionmaker[AsyncSession], ticket_id: int) -> frozenset[int]:
    """The ids of the agencies a ticket is dispatched to: who may hear of its changes.

    The live boards forward a :class:`TicketChanged` to an agency user's
    socket only when their agency is in this set.
    """
    async with sessions() as session:
        return frozenset(
            (await session.scalars(select(Dispatch.agency_id).where(Dispatch.ticket_id == ticket_id))).all()
        )


async def actor_agency(sessions: async_sessionmaker[AsyncSession], actor: User) -> int | None:
    """The agency id of an active agency user (None for anyone else): to match :func:`ticket_agencies`."""
    async with sessions() as session:
        try:
            return (await actor_of(session, actor)).agency_id
        except TransitionRefused:
            return None


def dispatch_summary(view: DispatchView) -> dict[str, Any]:
    """A dispatch as plain JSON-able data (API, websocket)."""
    return jsonable(
        {
            "id": view.id,
            "ticket_id": view.ticket_id,
            "ticket_state": view.ticket_state,
            "agency": view.agency_code,
            "agency_name": view.agency_name,
            "status": view.status,
            "instructions": view.instructions,
            "sent_at": view.sent_at,
            "sent_by": view.sent_by,
            "acknowledged_at": view.acknowledged_at,
            "acknowledged_by": view.acknowledged_by,
            "en_route_at": view.en_route_at,
            "on_scene_at": view.on_scene_at,
            "finished_at": view.finished_at,
            "reason": view.reason,
            "report": view.report,
            "reported_at": view.reported_at,
            "reported_by": view.reported_by,
        }
    )


__all__: Sequence[str] = (
    "DISPATCH_STEPS",
    "DispatchError",
    "DispatchStatus",
    "DispatchView",
    "FellowAgency",
    "NoReportAfterCannotHandle",
    "NotFoundOrForbidden",
    "RoleRefused",
    "TicketDispatches",
    "acknowledge",
    "actor_agency",
    "close",
    "closing_of",
    "dispatch",
    "dispatch_summary",
    "fellow_agencies",
    "file_report",
    "get_dispatch_for",
    "get_ticket_for",
    "ticket_agencies",
    "update_status",
    "visible_dispatches",
)
