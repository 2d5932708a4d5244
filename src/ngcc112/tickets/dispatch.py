"""The dispatcher's and the agencies' use cases: dispatch, acknowledge, progress, field report, close.

Every write here follows one pattern, in ONE transaction:

1. lock the ticket (an ``UPDATE`` of its row first: on PostgreSQL that is the
   row lock, on SQLite it takes the write lock before anything is read, so two
   agencies reporting at the same moment are serialised, not interleaved);
2. re-read the actor from the database (a deactivated account or a role taken
   away counts at once) and check the role — ticket state changes through
   :func:`~ngcc112.tickets.states.check_transition`, the one table;
3. write the dispatch rows, the ticket's new state and one ``audit_log`` row;

then, after the commit, publish a :class:`~ngcc112.tickets.store.TicketChanged`.
Anything refused changes nothing.

A dispatch moves forward only, along :data:`DISPATCH_STEPS`:
``sent → acknowledged → en_route → on_scene → handled | cannot_handle``
(steps may be skipped; any move out of ``sent`` also stamps the
acknowledgement). "Cannot handle" needs a reason, and that reason is the
agency's report back: it stamps the dispatch reported, and no field report
follows it (:class:`NoReportAfterCannotHandle`). The ticket follows its
dispatches: ``dispatched → on_scene`` when the first agency is on scene,
``→ reported`` when every dispatch is finished (handled or cannot handle) and
has reported back (its field report, or the reason it cannot handle). The dispatcher
closes a reported ticket; closing earlier needs an override reason, audited.

Refusals: :class:`NotFoundOrForbidden` (404), :class:`RoleRefused` (403: the
role, the agency or a deactivated account), any other
:class:`~ngcc112.tickets.states.TransitionRefused` (409: the ticket's or the
dispatch's state), :class:`DispatchError` (400: a value, with its field).

Who may do what:

- dispatch, close: the roles the table gives ``dispatch`` / ``close`` (dispatcher);
- acknowledge: only a user of the dispatched agency;
- status updates and field reports: a user of the dispatched agency, or a
  dispatcher recording what the agency reported by radio or phone (audited as
  the dispatcher, ``on_behalf_of`` the agency);
- reading: an agency user sees only their own agency's dispatches and the
  tickets dispatched to it; anything else is :class:`NotFoundOrForbidden`,
  the same answer as for something that does not exist. Operators,
  dispatchers and admins (the 112 center's staff) see every dispatch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.db import affected
from ngcc112.tickets.dispatch_models import Agency, AgencyMember, Dispatch
from ngcc112.tickets.models import AuditEntry, Ticket, User, utcnow
from ngcc112.tickets.states import TRANSITIONS, Role, State, TransitionRefused, check_transition
from ngcc112.tickets.store import TicketChanged, jsonable

log = structlog.get_logger(__name__)

Publish = Callable[[TicketChanged], None]
Clock = Callable[[], datetime]

MAX_INSTRUCTIONS = 4000
MAX_REASON = 2000
MAX_REPORT = 10000


class DispatchStatus(StrEnum):
    SENT = "sent"  # forwarded; the agency has not reacted yet
    ACKNOWLEDGED = "acknowledged"  # the agency received it
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    HANDLED = "handled"  # final
    CANNOT_HANDLE = "cannot_handle"  # final; a reason is required


D = DispatchStatus
#: Where a dispatch may go from each status: forward only, steps may be skipped.
DISPATCH_STEPS: dict[DispatchStatus, frozenset[DispatchStatus]] = {
    D.SENT: frozenset({D.ACKNOWLEDGED, D.EN_ROUTE, D.ON_SCENE, D.HANDLED, D.CANNOT_HANDLE}),
    D.ACKNOWLEDGED: frozenset({D.EN_ROUTE, D.ON_SCENE, D.HANDLED, D.CANNOT_HANDLE}),
    D.EN_ROUTE: frozenset({D.ON_SCENE, D.HANDLED, D.CANNOT_HANDLE}),
    D.ON_SCENE: frozenset({D.HANDLED, D.CANNOT_HANDLE}),
    D.HANDLED: frozenset(),
    D.CANNOT_HANDLE: frozenset(),
}
FINISHED: frozenset[DispatchStatus] = frozenset({D.HANDLED, D.CANNOT_HANDLE})
#: What :func:`update_status` accepts (acknowledging has its own use case).
STATUS_UPDATES: tuple[DispatchStatus, ...] = (D.EN_ROUTE, D.ON_SCENE, D.HANDLED, D.CANNOT_HANDLE)
#: Ticket states in which agencies are working on it: more agencies may be added.
WORKING_STATES: frozenset[State] = frozenset({State.DISPATCHED, State.ON_SCENE})
#: Ticket states the dispatcher's Close Ticket applies to (classified calls close at intake).
CLOSABLE_STATES: frozenset[State] = frozenset({State.ESCALATED, State.DISPATCHED, State.ON_SCENE, State.REPORTED})


def _roles_for(name: str) -> frozenset[Role]:
    """Every role the transition table allows for transitions named ``name``."""
    return frozenset(role for t in TRANSITIONS if t.name == name for role in t.roles)


class NotFoundOrForbidden(LookupError):
    """No such dispatch or ticket — or not one this actor may see (the panel answers 404)."""


class RoleRefused(TransitionRefused):
    """Refused for who the actor is (role, agency, deactivated account), not for the ticket's state.

    A :class:`TransitionRefused`, so one handler catches both; the panel may
    answer this one 403 and the others 409.
    """


class NoReportAfterCannotHandle(TransitionRefused):
    """A field report on a dispatch the agency said it cannot handle: its reason is its report.

    ``msgid`` / ``params`` give the panel the message to translate (409)."""

    msgid = "The agency said it cannot handle this dispatch: its reason is the report, no field report follows"

    def __init__(self, dispatch_id: int) -> None:
        super().__init__(
            f"dispatch #{dispatch_id} is cannot_handle: the agency's reason is its report; "
            "no field report after 'cannot handle'"
        )
        self.params: dict[str, object] = {"dispatch": dispatch_id}


class DispatchError(ValueError):
    """A value the use case cannot accept; ``field`` names the culprit (the panel answers 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def translated(self, translate: Callable[[str], str]) -> str:
        """As :meth:`UserError.translated <ngcc112.tickets.users.UserError.translated>`: the panel's
        own checks catch these values first in the user's language; what reaches here is told as is."""
        return self.message


@dataclass(frozen=True, slots=True)
class DispatchView:
    """One dispatch as the boards show it."""

    id: int
    ticket_id: int
    ticket_state: str
    agency_code: str
    agency_name: str
    status: str
    instructions: str
    sent_at: datetime
    sent_by: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    finished_at: datetime | None
    reason: str | None
    report: str | None
    reported_at: datetime | None
    reported_by: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def reported(self) -> bool:
        return self.reported_at is not None


@dataclass(frozen=True, slots=True)
class TicketDispatches:
    """A ticket and the dispatches on it that the actor may see."""

    ticket: Ticket
    dispatches: tuple[DispatchView, ...]


@dataclass(frozen=True, slots=True)
class _Actor:
    user: User
    role: Role
    agency_id: int | None


def _view(dispatch: Dispatch, agency: Agency, ticket_state: str) -> DispatchView:
    return DispatchView(
        id=dispatch.id,
        ticket_id=dispatch.ticket_id,
        ticket_state=ticket_state,
        agency_code=agency.code,
        agency_name=agency.name,
        status=dispatch.status,
        instructions=dispatch.instructions,
        sent_at=dispatch.sent_at,
        sent_by=dispatch.sent_by,
        acknowledged_at=dispatch.acknowledged_at,
        acknowledged_by=dispatch.acknowledged_by,
        en_route_at=dispatch.en_route_at,
        on_scene_at=dispatch.on_scene_at,
        finished_at=dispatch.finished_at,
        reason=dispatch.reason,
        report=dispatch.report,
        reported_at=dispatch.reported_at,
        reported_by=dispatch.reported_by,
    )


def _id(value: int | Ticket | Dispatch) -> int:
    return value.id if isinstance(value, (Ticket, Dispatch)) else int(value)


async def _actor(session: AsyncSession, actor: User) -> _Actor:
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
    return _Actor(current, role, agency_id)


async def _reader(session: AsyncSession, actor: User) -> _Actor:
    """Like :func:`_actor`, for reads: an inactive account simply sees nothing."""
    try:
        return await _actor(session, actor)
    except TransitionRefused:
        raise NotFoundOrForbidden("no such dispatch") from None


async def _lock_ticket(session: AsyncSession, ticket_id: int, now: datetime) -> Ticket:
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


async def _lock_dispatch(session: AsyncSession, dispatch_id: int, now: datetime) -> tuple[Ticket, Dispatch, Agency]:
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


def _audit(
    session: AsyncSession,
    ticket: Ticket,
    actor: _Actor,
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


def _check(source: State | str, target: State, role: Role) -> None:
    """:func:`check_transition`, with a refusal for the role raised as :class:`RoleRefused`."""
    try:
        check_transition(source, target, role)
    except TransitionRefused as exc:
        if any(t.source == source and t.target == target for t in TRANSITIONS):
            raise RoleRefused(exc.reason) from None
        raise


def _move_ticket(ticket: Ticket, target: State, actor: _Actor) -> None:
    _check(ticket.state, target, actor.role)
    ticket.state = target.value


def _text(field: str, value: str | None, limit: int, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DispatchError(field, "must not be empty")
    if len(value) > limit or "\x00" in value:
        raise DispatchError(field, f"at most {limit} characters")
    return value


def _check_open(ticket: Ticket) -> None:
    if ticket.state == State.CLOSED.value:
        raise TransitionRefused(f"ticket #{ticket.id} is closed")


def _check_agency_side(
    actor: _Actor, dispatch: Dispatch, agency: Agency, *, dispatcher_may: bool, what: str
) -> dict[str, Any]:
    """Refuse anyone but the dispatched agency's users (and dispatchers, when allowed).

    Returns what the audit row records about on whose behalf it was done.
    """
    if actor.role is Role.AGENCY:
        if actor.agency_id != dispatch.agency_id:
            raise NotFoundOrForbidden(f"there is no dispatch #{dispatch.id}")
        return {}
    if dispatcher_may and actor.role in _roles_for("dispatch"):
        return {"on_behalf_of": agency.code}
    who = "a user of the dispatched agency" + (" or a dispatcher" if dispatcher_may else "")
    raise RoleRefused(f"{what} is for {who}; not for {actor.role}")


async def _dispatches_of(session: AsyncSession, ticket_id: int) -> list[Dispatch]:
    return list(
        (await session.scalars(select(Dispatch).where(Dispatch.ticket_id == ticket_id).order_by(Dispatch.id))).all()
    )


async def _follow_dispatches(session: AsyncSession, ticket: Ticket, actor: _Actor) -> None:
    """Move the ticket as its dispatches say: on scene at the first, reported at the last report."""
    state = State(ticket.state)
    dispatches = await _dispatches_of(session, ticket.id)
    if state is State.DISPATCHED and any(d.on_scene_at is not None for d in dispatches):
        _move_ticket(ticket, State.ON_SCENE, actor)
        state = State.ON_SCENE
    if (
        state in WORKING_STATES
        and dispatches
        and all(d.status in FINISHED and d.reported_at is not None for d in dispatches)
    ):
        _move_ticket(ticket, State.REPORTED, actor)


def _acknowledge_fields(dispatch: Dispatch, actor: _Actor, now: datetime) -> dict[str, Any]:
    if dispatch.acknowledged_at is not None:
        return {}
    dispatch.acknowledged_at, dispatch.acknowledged_by = now, actor.user.username
    if dispatch.status == D.SENT.value:
        dispatch.status = D.ACKNOWLEDGED.value
    return {"acknowledged_at": now}


# use cases ---------------------------------------------------------------------------


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
    instructions = _text("instructions", instructions, MAX_INSTRUCTIONS, required=False)
    now = clock()
    async with sessions.begin() as session:
        row = await _lock_ticket(session, _id(ticket), now)
        who = await _actor(session, actor)
        _check_open(row)
        before = row.state
        if State(before) in WORKING_STATES:
            if who.role not in _roles_for("dispatch"):
                _check(State.ESCALATED, State.DISPATCHED, who.role)  # raises, with the reason
        else:
            _move_ticket(row, State.DISPATCHED, who)
        found = {a.code: a for a in (await session.scalars(select(Agency).where(Agency.code.in_(codes)))).all()}
        unknown = [c for c in codes if c not in found]
        if unknown:
            raise DispatchError("agencies", f"unknown agency: {', '.join(unknown)}")
        inactive = [c for c in codes if not found[c].active]
        if inactive:
            raise DispatchError("agencies", f"not active: {', '.join(inactive)}")
        already = {d.agency_id for d in await _dispatches_of(session, row.id)}
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
        change = _audit(
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
        views = [_view(d, found[code], row.state) for d, code in zip(created, codes)]
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
        ticket, item, agency = await _lock_dispatch(session, _id(dispatch_id), now)
        who = await _actor(session, actor)
        _check_agency_side(who, item, agency, dispatcher_may=False, what="acknowledging a dispatch")
        _check_open(ticket)
        if item.status != D.SENT.value:
            raise TransitionRefused(f"dispatch #{item.id} is already {item.status}")
        before = ticket.state
        fields = _acknowledge_fields(item, who, now)
        item.status_at = now
        change = _audit(
            session,
            ticket,
            who,
            "acknowledge",
            before,
            now,
            {"dispatch": item.id, "agency": agency.code, "status": item.status, **fields},
        )
        view = _view(item, agency, ticket.state)
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
    reason = _text("reason", reason, MAX_REASON, required=target is D.CANNOT_HANDLE)
    now = clock()
    async with sessions.begin() as session:
        ticket, item, agency = await _lock_dispatch(session, _id(dispatch_id), now)
        who = await _actor(session, actor)
        behalf = _check_agency_side(who, item, agency, dispatcher_may=True, what="updating a dispatch")
        _check_open(ticket)
        current = DispatchStatus(item.status)
        if target not in DISPATCH_STEPS[current]:
            raise TransitionRefused(
                f"dispatch #{item.id} is {current}; it cannot go to {target}"
                + ("" if DISPATCH_STEPS[current] else " (it is finished)")
            )
        before = ticket.state
        fields = _acknowledge_fields(item, who, now)
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
        await _follow_dispatches(session, ticket, who)
        change = _audit(
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
        view = _view(item, agency, ticket.state)
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
    text = _text("report", text, MAX_REPORT, required=True)
    now = clock()
    async with sessions.begin() as session:
        ticket, item, agency = await _lock_dispatch(session, _id(dispatch_id), now)
        who = await _actor(session, actor)
        behalf = _check_agency_side(who, item, agency, dispatcher_may=True, what="filing a field report")
        _check_open(ticket)
        if item.status == D.CANNOT_HANDLE.value:
            raise NoReportAfterCannotHandle(item.id)
        if item.reported_at is not None:
            raise TransitionRefused(f"dispatch #{item.id} already has its field report (filed by {item.reported_by})")
        before = ticket.state
        fields = _acknowledge_fields(item, who, now)
        item.report, item.reported_at, item.reported_by = text, now, who.user.username
        await session.flush()
        await _follow_dispatches(session, ticket, who)
        change = _audit(
            session,
            ticket,
            who,
            "field_report",
            before,
            now,
            {"dispatch": item.id, "agency": agency.code, "report": text, **fields, **behalf},
        )
        view = _view(item, agency, ticket.state)
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
    override_reason = _text("override_reason", override_reason, MAX_REASON, required=False) or None
    now = clock()
    async with sessions.begin() as session:
        row = await _lock_ticket(session, _id(ticket), now)
        who = await _actor(session, actor)
        before = State(row.state)
        if before not in CLOSABLE_STATES:
            _check(before, State.CLOSED, who.role)  # refuses closed, new, in_call …
            raise TransitionRefused(f"ticket #{row.id} is {before}: it is closed at intake, not by Close Ticket")
        _check(before, State.CLOSED, who.role)
        changes: dict[str, Any] = {"closed_at": now}
        if before is not State.REPORTED:
            if override_reason is None:
                raise DispatchError(
                    "override_reason",
                    f"ticket #{row.id} is {before}: not every agency has reported; give the reason for closing now",
                )
            pending = [
                (d, await session.get_one(Agency, d.agency_id))
                for d in await _dispatches_of(session, row.id)
                if not (d.status in FINISHED and d.reported_at is not None)
            ]
            changes["override_reason"] = override_reason
            changes["unreported"] = [{"dispatch": d.id, "agency": a.code, "status": d.status} for d, a in pending]
        row.state, row.closed_at = State.CLOSED.value, now
        change = _audit(session, row, who, "close", before.value, now, changes)
    log.info("ticket.closed", ticket_id=row.id, actor=who.user.username, override=override_reason is not None)
    if publish is not None:
        publish(change)
    return change


# reads -------------------------------------------------------------------------------


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
            who = await _actor(session, actor)
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
    views = [_view(d, a, state) for d, a, state in rows]
    if open_only:
        views = [v for v in views if v.ticket_state != State.CLOSED.value and not (v.finished and v.reported)]
    return views


async def get_dispatch_for(sessions: async_sessionmaker[AsyncSession], actor: User, dispatch_id: int) -> DispatchView:
    """One dispatch, if this actor may see it; else :class:`NotFoundOrForbidden`."""
    async with sessions() as session:
        who = await _reader(session, actor)
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
    return _view(item, agency, state)


async def get_ticket_for(sessions: async_sessionmaker[AsyncSession], actor: User, ticket_id: int) -> TicketDispatches:
    """A ticket with the dispatches the actor may see on it.

    An agency user gets only tickets dispatched to their agency, with only
    their own dispatch on it; any other ticket is :class:`NotFoundOrForbidden`.
    """
    async with sessions() as session:
        who = await _reader(session, actor)
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
    return TicketDispatches(ticket, tuple(_view(d, a, ticket.state) for d, a in rows))


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
        who = await _reader(session, actor)
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
            return (await _actor(session, actor)).agency_id
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
