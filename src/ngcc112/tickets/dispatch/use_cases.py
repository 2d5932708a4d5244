"""The dispatcher's and the agencies' writes: dispatch, acknowledge, progress, field report, close."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.dispatch_models import Agency, Dispatch
from ngcc112.tickets.models import Ticket, User, utcnow
from ngcc112.tickets.states import State, TransitionRefused
from ngcc112.tickets.store import TicketChanged
from ngcc112.tickets.dispatch.rules import (
    CLOSABLE_STATES,
    Clock,
    D,
    DISPATCH_STEPS,
    DispatchError,
    DispatchStatus,
    DispatchView,
    FINISHED,
    MAX_INSTRUCTIONS,
    MAX_REASON,
    MAX_REPORT,
    NoReportAfterCannotHandle,
    Publish,
    STATUS_UPDATES,
    WORKING_STATES,
    id_of,
    roles_for,
    view_of,
)
from ngcc112.tickets.dispatch.locks import (
    acknowledge_fields,
    actor_of,
    audit,
    check,
    check_agency_side,
    check_open,
    dispatches_of,
    follow_dispatches,
    lock_dispatch,
    lock_ticket,
    move_ticket,
    text_field,
)

log = structlog.get_logger(__name__)


async def dispatch(
    sessions: async_sessionmaker[AsyncSession],
    publish: Publish | None,
    ticket: int | Ticket,
    agencies: Iterable[str | Agency],
    instructions: str,
    actor: User,
    *,
    clock: Clock = utcnow,
) -> list[DispatchView]:
    """Forward a ticket to agencies: one ``sent`` dispatch per agency.

    An escalated ticket becomes ``dispatched``; on a ticket the agencies are
    already working on (dispatched, on scene) this adds agencies. Agencies are
    given by code; each must exist, be active and not already be on the ticket.
    """
    codes = list(dict.fromkeys(a.code if isinstance(a, Agency) else str(a) for a in agencies))
    if not codes:
        raise DispatchError("agencies", "choose at least one agency")
    instructions = text_field("instructions", instructions, MAX_INSTRUCTIONS, required=False)
    now = clock()
    async with sessions.begin() as session:
        row = await lock_ticket(session, id_of(ticket), now)
        who = await actor_of(session, actor)
        check_open(row)
        before = row.state
        if State(before) in WORKING_STATES:
            if who.role not in roles_for("dispatch"):
                check(State.ESCALATED, State.DISPATCHED, who.role)  # raises, with the reason
        else:
            move_ticket(row, State.DISPATCHED, who)
        found = {a.code: a for a in (await session.scalars(select(Agency).where(Agency.code.in_(codes)))).all()}
        unknown = [c for c in codes if c not in found]
        if unknown:
            raise DispatchError("agencies", f"unknown agency: {', '.join(unknown)}")
        inactive = [c for c in codes if not found[c].active]
        if inactive:
            raise DispatchError("agencies", f"not active: {', '.join(inactive)}")
        already = {d.agency_id for d in await dispatches_of(session, row.id)}
        again = [c for c in codes if found[c].id in already]
        if again:
            raise DispatchError("agencies", f"already dispatched on ticket #{row.id}: {', '.join(again)}")
        created = []
        for code in codes:
            item = Dispatch(
                ticket_id=row.id,
                agency_id=found[code].id,
                status=D.SENT.value,
                instructions=instructions,
                sent_at=now,
                sent_by=who.user.username,
                status_at=now,
            )
            session.add(item)
            created.append(item)
        await session.flush()
        change = audit(
            session,
            row,
            who,
            "dispatch",
            before,
            now,
            {
                "dispatches": [{"id": d.id, "agency": code, "status": d.status} for d, code in zip(created, codes)],
                "instructions": instructions,
            },
        )
        views = [view_of(d, found[code], row.state) for d, code in zip(created, codes)]
    log.info("ticket.dispatched", ticket_id=row.id, agencies=codes, actor=who.user.username)
    if publish is not None:
        publish(change)
    return views


async def acknowledge(
    sessions: async_sessionmaker[AsyncSession],
    publish: Publish | None,
    dispatch_id: int | Dispatch,
    actor: User,
    *,
    clock: Clock = utcnow,
) -> DispatchView:
    """The agency confirms it received the dispatch (a user of that agency only)."""
    now = clock()
    async with sessions.begin() as session:
        ticket, item, agency = await lock_dispatch(session, id_of(dispatch_id), now)
        who = await actor_of(session, actor)
        check_agency_side(who, item, agency, dispatcher_may=False, what="acknowledging a dispatch")
        check_open(ticket)
        if item.status != D.SENT.value:
            raise TransitionRefused(f"dispatch #{item.id} is already {item.status}")
        before = ticket.state
        fields = acknowledge_fields(item, who, now)
        item.status_at = now
        change = audit(
            session,
            ticket,
            who,
            "acknowledge",
            before,
            now,
            {"dispatch": item.id, "agency": agency.code, "status": item.status, **fields},
        )
        view = view_of(item, agency, ticket.state)
    log.info("dispatch.acknowledged", ticket_id=ticket.id, dispatch_id=item.id, agency=agency.code)
    if publish is not None:
        publish(change)
    return view


async def update_status(
    sessions: async_sessionmaker[AsyncSession],
    publish: Publish | None,
    dispatch_id: int | Dispatch,
    status: DispatchStatus | str,
    reason: str | None,
    actor: User,
    *,
    clock: Clock = utcnow,
) -> DispatchView:
    """The agency's progress: en route, on scene, handled, or cannot handle (with a reason).

    The first agency on scene puts the ticket ``on_scene``; the last dispatch to
    be both finished and reported puts it ``reported``.
    """
    try:
        target = DispatchStatus(status)
    except ValueError:
        raise DispatchError("status", f"unknown status {status!r}") from None
    if target not in STATUS_UPDATES:
        raise DispatchError("status", f"choose one of {', '.join(s.value for s in STATUS_UPDATES)}")
    reason = text_field("reason", reason, MAX_REASON, required=target is D.CANNOT_HANDLE)
    now = clock()
    async with sessions.begin() as session:
        ticket, item, agency = await lock_dispatch(session, id_of(dispatch_id), now)
        who = await actor_of(session, actor)
        behalf = check_agency_side(who, item, agency, dispatcher_may=True, what="updating a dispatch")
        check_open(ticket)
        current = DispatchStatus(item.status)
        if target not in DISPATCH_STEPS[current]:
            raise TransitionRefused(
                f"dispatch #{item.id} is {current}; it cannot go to {target}"
                + ("" if DISPATCH_STEPS[current] else " (it is finished)")
            )
        before = ticket.state
        fields = acknowledge_fields(item, who, now)
        item.status, item.status_at = target.value, now
        if target is D.EN_ROUTE:
            item.en_route_at = now
        elif target is D.ON_SCENE:
            item.on_scene_at = now
        else:
            item.finished_at = now
        if reason:
            item.reason = reason
            fields["reason"] = reason
        if target is D.CANNOT_HANDLE and item.reported_at is None:
            # The reason is the agency's report back: no field report follows "cannot handle".
            item.reported_at, item.reported_by = now, who.user.username
            fields["reported_at"] = now
        await session.flush()
        await follow_dispatches(session, ticket, who)
        change = audit(
            session,
            ticket,
            who,
            "dispatch_status",
            before,
            now,
            {
                "dispatch": item.id,
                "agency": agency.code,
                "status": {"from": current.value, "to": target.value},
                **fields,
                **behalf,
            },
        )
        view = view_of(item, agency, ticket.state)
    log.info(
        "dispatch.status",
        ticket_id=ticket.id,
        dispatch_id=item.id,
        agency=agency.code,
        status=target.value,
        ticket_state=ticket.state,
    )
    if publish is not None:
        publish(change)
    return view


async def file_report(
    sessions: async_sessionmaker[AsyncSession],
    publish: Publish | None,
    dispatch_id: int | Dispatch,
    text: str,
    actor: User,
    *,
    clock: Clock = utcnow,
) -> DispatchView:
    """The agency's field report (once per dispatch; it is final)."""
    text = text_field("report", text, MAX_REPORT, required=True)
    now = clock()
    async with sessions.begin() as session:
        ticket, item, agency = await lock_dispatch(session, id_of(dispatch_id), now)
        who = await actor_of(session, actor)
        behalf = check_agency_side(who, item, agency, dispatcher_may=True, what="filing a field report")
        check_open(ticket)
        if item.status == D.CANNOT_HANDLE.value:
            raise NoReportAfterCannotHandle(item.id)
        if item.reported_at is not None:
            raise TransitionRefused(f"dispatch #{item.id} already has its field report (filed by {item.reported_by})")
        before = ticket.state
        fields = acknowledge_fields(item, who, now)
        item.report, item.reported_at, item.reported_by = text, now, who.user.username
        await session.flush()
        await follow_dispatches(session, ticket, who)
        change = audit(
            session,
            ticket,
            who,
            "field_report",
            before,
            now,
            {"dispatch": item.id, "agency": agency.code, "report": text, **fields, **behalf},
        )
        view = view_of(item, agency, ticket.state)
    log.info(
        "dispatch.reported", ticket_id=ticket.id, dispatch_id=item.id, agency=agency.code, ticket_state=ticket.state
    )
    if publish is not None:
        publish(change)
    return view


async def close(
    sessions: async_sessionmaker[AsyncSession],
    publish: Publish | None,
    ticket: int | Ticket,
    actor: User,
    override_reason: str | None = None,
    *,
    clock: Clock = utcnow,
) -> TicketChanged:
    """Close Ticket: once every agency has reported, or earlier with an override reason (audited)."""
    override_reason = text_field("override_reason", override_reason, MAX_REASON, required=False) or None
    now = clock()
    async with sessions.begin() as session:
        row = await lock_ticket(session, id_of(ticket), now)
        who = await actor_of(session, actor)
        before = State(row.state)
        if before not in CLOSABLE_STATES:
            check(before, State.CLOSED, who.role)  # refuses closed, new, in_call …
            raise TransitionRefused(f"ticket #{row.id} is {before}: it is closed at intake, not by Close Ticket")
        check(before, State.CLOSED, who.role)
        changes: dict[str, Any] = {"closed_at": now}
        if before is not State.REPORTED:
            if override_reason is None:
                raise DispatchError(
                    "override_reason",
                    f"ticket #{row.id} is {before}: not every agency has reported; give the reason for closing now",
                )
            pending = [
                (d, await session.get_one(Agency, d.agency_id))
                for d in await dispatches_of(session, row.id)
                if not (d.status in FINISHED and d.reported_at is not None)
            ]
            changes["override_reason"] = override_reason
            changes["unreported"] = [{"dispatch": d.id, "agency": a.code, "status": d.status} for d, a in pending]
        row.state, row.closed_at = State.CLOSED.value, now
        change = audit(session, row, who, "close", before.value, now, changes)
    log.info("ticket.closed", ticket_id=row.id, actor=who.user.username, override=override_reason is not None)
    if publish is not None:
        publish(change)
    return change


# reads -------------------------------------------------------------------------------
