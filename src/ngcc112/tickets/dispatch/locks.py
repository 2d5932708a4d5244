"""The one write pattern every dispatch use case follows: lock the ticket row first, re-read the
actor, check the role and the state table, write one audit row (see :mod:`ngcc112.tickets.dispatch`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ngcc112.tickets.db import affected
from ngcc112.tickets.dispatch_models import Agency, AgencyMember, Dispatch
from ngcc112.tickets.models import AuditEntry, Ticket, User
from ngcc112.tickets.states import TRANSITIONS, Role, State, TransitionRefused, check_transition
from ngcc112.tickets.store import TicketChanged, jsonable
from ngcc112.tickets.dispatch.rules import (
    D,
    DispatchError,
    FINISHED,
    NotFoundOrForbidden,
    RoleRefused,
    WORKING_STATES,
    roles_for,
)


@dataclass(frozen=True, slots=True)
class Actor:
    user: User
    role: Role
    agency_id: int | None


async def actor_of(session: AsyncSession, actor: User) -> Actor:
    """The actor as the database has it now; refused when deactivated or gone."""
    current = await session.get(User, actor.id, populate_existing=True)
    if current is None or not current.active:
        raise RoleRefused(f"the account {actor.username!r} is not active")
    try:
        role = Role(current.role)
    except ValueError:
        raise RoleRefused(f"unknown role {current.role!r}") from None
    agency_id = None
    if role is Role.AGENCY:
        agency_id = await session.scalar(select(AgencyMember.agency_id).where(AgencyMember.user_id == current.id))
    return Actor(current, role, agency_id)


async def reader_of(session: AsyncSession, actor: User) -> Actor:
    """Like :func:`actor_of`, for reads: an inactive account simply sees nothing."""
    try:
        return await actor_of(session, actor)
    except TransitionRefused:
        raise NotFoundOrForbidden("no such dispatch") from None


async def lock_ticket(session: AsyncSession, ticket_id: int, now: datetime) -> Ticket:
    """Take the ticket's row lock (write first), then read it fresh."""
    result = await session.execute(
        update(Ticket).where(Ticket.id == ticket_id).values(updated_at=now).execution_options(synchronize_session=False)
    )
    if affected(result) == 0:
        raise NotFoundOrForbidden(f"there is no ticket #{ticket_id}")
    ticket = await session.get(Ticket, ticket_id, populate_existing=True)
    if ticket is None:  # deleted between the two statements: impossible under the lock
        raise NotFoundOrForbidden(f"there is no ticket #{ticket_id}")
    return ticket


async def lock_dispatch(session: AsyncSession, dispatch_id: int, now: datetime) -> tuple[Ticket, Dispatch, Agency]:
    """Lock the dispatch's ticket (by a subquery, so the write still comes first) and load both."""
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id == select(Dispatch.ticket_id).where(Dispatch.id == dispatch_id).scalar_subquery())
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if affected(result) == 0:
        raise NotFoundOrForbidden(f"there is no dispatch #{dispatch_id}")
    row = (
        await session.execute(
            select(Dispatch, Ticket, Agency)
            .join(Ticket, Ticket.id == Dispatch.ticket_id)
            .join(Agency, Agency.id == Dispatch.agency_id)
            .where(Dispatch.id == dispatch_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:  # deleted between the two statements: impossible under the lock
        raise NotFoundOrForbidden(f"there is no dispatch #{dispatch_id}")
    dispatch, ticket, agency = row
    return ticket, dispatch, agency


def audit(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    action: str,
    before: str,
    at: datetime,
    changes: dict[str, Any],
) -> TicketChanged:
    changes = jsonable(changes)
    if ticket.state != before:
        changes["state"] = ticket.state
    session.add(
        AuditEntry(
            ticket_id=ticket.id,
            at=at,
            actor=actor.user.username,
            action=action,
            from_state=before,
            to_state=ticket.state,
            changes=changes,
        )
    )
    return TicketChanged(
        ticket_id=ticket.id, linkedid=ticket.linkedid, action=action, at=at, state=ticket.state, changes=changes
    )


def check(source: State | str, target: State, role: Role) -> None:
    """:func:`check_transition`, with a refusal for the role raised as :class:`RoleRefused`."""
    try:
        check_transition(source, target, role)
    except TransitionRefused as exc:
        if any(t.source == source and t.target == target for t in TRANSITIONS):
            raise RoleRefused(exc.reason) from None
        raise


def move_ticket(ticket: Ticket, target: State, actor: Actor) -> None:
    check(ticket.state, target, actor.role)
    ticket.state = target.value


def text_field(field: str, value: str | None, limit: int, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DispatchError(field, "must not be empty")
    if len(value) > limit or "\x00" in value:
        raise DispatchError(field, f"at most {limit} characters")
    return value


def check_open(ticket: Ticket) -> None:
    if ticket.state == State.CLOSED.value:
        raise TransitionRefused(f"ticket #{ticket.id} is closed")


def check_agency_side(
    actor: Actor, dispatch: Dispatch, agency: Agency, *, dispatcher_may: bool, what: str
) -> dict[str, Any]:
    """Refuse anyone but the dispatched agency's users (and dispatchers, when allowed).

    Returns what the audit row records about on whose behalf it was done.
    """
    if actor.role is Role.AGENCY:
        if actor.agency_id != dispatch.agency_id:
            raise NotFoundOrForbidden(f"there is no dispatch #{dispatch.id}")
        return {}
    if dispatcher_may and actor.role in roles_for("dispatch"):
        return {"on_behalf_of": agency.code}
    who = "a user of the dispatched agency" + (" or a dispatcher" if dispatcher_may else "")
    raise RoleRefused(f"{what} is for {who}; not for {actor.role}")


async def dispatches_of(session: AsyncSession, ticket_id: int) -> list[Dispatch]:
    return list(
        (await session.scalars(select(Dispatch).where(Dispatch.ticket_id == ticket_id).order_by(Dispatch.id))).all()
    )


async def follow_dispatches(session: AsyncSession, ticket: Ticket, actor: Actor) -> None:
    """Move the ticket as its dispatches say: on scene at the first, reported at the last report."""
    state = State(ticket.state)
    dispatches = await dispatches_of(session, ticket.id)
    if state is State.DISPATCHED and any(d.on_scene_at is not None for d in dispatches):
        move_ticket(ticket, State.ON_SCENE, actor)
        state = State.ON_SCENE
    if (
        state in WORKING_STATES
        and dispatches
        and all(d.status in FINISHED and d.reported_at is not None for d in dispatches)
    ):
        move_ticket(ticket, State.REPORTED, actor)


def acknowledge_fields(dispatch: Dispatch, actor: Actor, now: datetime) -> dict[str, Any]:
    if dispatch.acknowledged_at is not None:
        return {}
    dispatch.acknowledged_at, dispatch.acknowledged_by = now, actor.user.username
    if dispatch.status == D.SENT.value:
        dispatch.status = D.ACKNOWLEDGED.value
    return {"acknowledged_at": now}


# use cases ---------------------------------------------------------------------------
