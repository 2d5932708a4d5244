"""The operator's intake of a call: save, classify, escalate or close.

Every use case here loads the ticket, checks the state transition and the
actor's role with :func:`check_transition`, writes the ticket's fields, its new
state and one :class:`AuditEntry` per step in ONE transaction, and only after
the commit publishes :class:`TicketChanged` on the hub. A refused or invalid
request changes nothing: a ticket is never half-saved. The form itself (fields,
limits, :func:`~ngcc112.tickets.intake_form.validate_intake`) is in
:mod:`ngcc112.tickets.intake_form`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.intake_form import LIMITS, IntakeData, IntakeInvalid, N_
from ngcc112.tickets.models import AuditEntry, Ticket, User, utcnow
from ngcc112.tickets.states import TRANSITIONS, Role, State, TransitionRefused, Verdict, check_transition
from ngcc112.tickets.store import TicketChanged, jsonable


#: Roles that may take a call's intake.
INTAKE_ROLES = frozenset({Role.OPERATOR, Role.DISPATCHER})

Publish = Callable[[TicketChanged], None]


class IntakeRefused(Exception):
    """The request is not allowed: ``kind`` is ``not_found``, ``forbidden`` or ``conflict``."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


# -- use cases ------------------------------------------------------------------------


def _role(actor: User) -> Role:
    try:
        return Role(actor.role)
    except ValueError:
        raise IntakeRefused("forbidden", f"unknown role {actor.role!r}") from None


def _check(ticket: Ticket, target: State, actor: User) -> None:
    """check_transition, with a refusal split into forbidden (role) and conflict (state)."""
    role = _role(actor)
    try:
        check_transition(ticket.state, target, role)
    except TransitionRefused as exc:
        exists = any(t.source == ticket.state and t.target == target for t in TRANSITIONS)
        raise IntakeRefused("forbidden" if exists else "conflict", exc.reason) from None


def caller_waiting(ticket: Ticket) -> bool:
    """The call is live and nobody has answered it yet (in the prompt, the queue, or ringing)."""
    return ticket.ended_at is None and ticket.answered_at is None and not ticket.recovered


def _check_owner(ticket: Ticket, actor: User) -> None:
    """Whose intake this is: the operator who answered; anyone's once the call ended unanswered.

    While the caller still waits, no operator may classify or close the ticket: only the
    one who answers will have heard the caller. A dispatcher may (a supervisor's
    override), and the audit entry records that the caller was waiting.
    """
    role = _role(actor)
    if role not in INTAKE_ROLES:
        raise IntakeRefused("forbidden", f"the intake is for operators and dispatchers; not for {role}")
    if role is not Role.OPERATOR:
        return
    if caller_waiting(ticket):
        raise IntakeRefused(
            "forbidden",
            f"the caller of ticket #{ticket.id} is still waiting for an "
            "operator; the operator who answers takes the intake",
        )
    if ticket.operator_interface not in (None, actor.interface):
        raise IntakeRefused(
            "forbidden", f"ticket #{ticket.id} was answered by another operator ({ticket.operator_interface})"
        )


async def _load(session: AsyncSession, ticket_id: int) -> Ticket:
    """The ticket, locked for this transaction.

    A no-op UPDATE first takes the write lock (SQLite has no row locks and ignores
    FOR UPDATE): a second submit of the same ticket (a double click, two tabs) waits,
    then reads the state the first one committed and is refused instead of applied twice.
    """
    await session.execute(
        update(Ticket).where(Ticket.id == ticket_id).values(id=Ticket.id).execution_options(synchronize_session=False)
    )
    ticket = await session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket is None:
        raise IntakeRefused("not_found", f"there is no ticket #{ticket_id}")
    return ticket


def _set(ticket: Ticket, changes: dict[str, Any], **values: Any) -> None:
    for key, value in values.items():
        if getattr(ticket, key) != value:
            setattr(ticket, key, value)
            changes[key] = value


def _write_intake(ticket: Ticket, data: IntakeData, changes: dict[str, Any], *, drafts: bool = False) -> None:
    """Merge the form into ``Ticket.intake``; ``drafts`` also keeps the verdict and note
    chosen so far (they become the ticket's own columns only when it is classified)."""
    fresh = data.intake()
    if drafts:
        fresh.update({f"draft_{key}": getattr(data, key) for key in ("verdict", "note") if key in data.provided})
    merged = {**(ticket.intake or {}), **fresh}
    if not drafts:  # classified: the verdict and note now live in their own columns
        merged.pop("draft_verdict", None)
        merged.pop("draft_note", None)
    if merged != (ticket.intake or {}):
        changes["intake"] = {k: v for k, v in fresh.items() if (ticket.intake or {}).get(k) != v}
        ticket.intake = merged
    if data.category:
        _set(ticket, changes, category=data.category)


class _Step:
    """One audited change of one ticket inside the current transaction."""

    def __init__(self, session: AsyncSession, ticket: Ticket, actor: User, action: str) -> None:
        self.session, self.ticket, self.actor, self.action = session, ticket, actor, action
        self.before = ticket.state
        self.changes: dict[str, Any] = {}
        if caller_waiting(ticket):  # only a dispatcher gets here: the override is on record
            self.changes["caller_waiting"] = True
        self.at = utcnow()

    def done(self) -> TicketChanged:
        ticket = self.ticket
        if ticket.state != self.before:
            self.changes["state"] = ticket.state
        changes = jsonable(self.changes)
        self.session.add(
            AuditEntry(
                ticket_id=ticket.id,
                at=self.at,
                actor=self.actor.username,
                action=self.action,
                from_state=self.before,
                to_state=ticket.state,
                changes=changes,
            )
        )
        return TicketChanged(
            ticket_id=ticket.id,
            linkedid=ticket.linkedid,
            action=self.action,
            at=self.at,
            state=ticket.state,
            changes=changes,
        )


def _classify_step(session: AsyncSession, ticket: Ticket, actor: User, data: IntakeData) -> TicketChanged:
    _check(ticket, State.CLASSIFIED, actor)
    step = _Step(session, ticket, actor, "classify")
    _write_intake(ticket, data, step.changes)
    _set(ticket, step.changes, verdict=data.verdict, classified_at=step.at, state=State.CLASSIFIED.value)
    if data.note:
        _set(ticket, step.changes, note=data.note)
    return step.done()


def _escalate_step(session: AsyncSession, ticket: Ticket, actor: User) -> TicketChanged:
    if ticket.verdict != Verdict.NORMAL.value:
        raise IntakeRefused(
            "conflict", f"only a normal call is escalated; ticket #{ticket.id} is {ticket.verdict or 'not classified'}"
        )
    _check(ticket, State.ESCALATED, actor)
    step = _Step(session, ticket, actor, "escalate")
    _set(ticket, step.changes, state=State.ESCALATED.value)
    return step.done()


def _close_step(session: AsyncSession, ticket: Ticket, actor: User, note: str) -> TicketChanged:
    if _role(actor) is Role.OPERATOR and ticket.verdict == Verdict.NORMAL.value:
        raise IntakeRefused(
            "conflict", f"ticket #{ticket.id} is a normal call: escalate it to the dispatchers instead of closing it"
        )
    note = (note or "").strip()
    if not note:
        raise IntakeInvalid({"note": N_("Write a short closing note")}, {"note": ""})
    if len(note) > LIMITS["note"]:
        raise IntakeInvalid({"note": N_("Too long")}, {"note": note})
    _check(ticket, State.CLOSED, actor)
    step = _Step(session, ticket, actor, "close")
    _set(ticket, step.changes, state=State.CLOSED.value, closed_at=step.at, note=note)
    return step.done()


async def _run(
    sessions: async_sessionmaker[AsyncSession],
    publish: Publish | None,
    ticket_id: int,
    actor: User,
    steps: Callable[[AsyncSession, Ticket], list[TicketChanged]],
) -> list[TicketChanged]:
    async with sessions.begin() as session:
        ticket = await _load(session, ticket_id)
        _check_owner(ticket, actor)
        changed = steps(session, ticket)
    for change in changed:
        if publish is not None:
            publish(change)
    return changed


async def save_intake(
    sessions: async_sessionmaker[AsyncSession], publish: Publish | None, ticket_id: int, actor: User, data: IntakeData
) -> TicketChanged:
    """Save what the operator typed so far (no state change); allowed until the ticket is classified."""

    def steps(session: AsyncSession, ticket: Ticket) -> list[TicketChanged]:
        if ticket.state not in (State.NEW, State.IN_CALL, State.CLASSIFIED):
            raise IntakeRefused("conflict", f"ticket #{ticket.id} is {ticket.state}; its intake can no longer change")
        step = _Step(session, ticket, actor, "intake_saved")
        _write_intake(ticket, data, step.changes, drafts=True)
        return [step.done()]

    return (await _run(sessions, publish, ticket_id, actor, steps))[0]


async def classify(
    sessions: async_sessionmaker[AsyncSession], publish: Publish | None, ticket_id: int, actor: User, data: IntakeData
) -> TicketChanged:
    """Give the verdict with the intake (→ classified)."""
    return (await _run(sessions, publish, ticket_id, actor, lambda s, t: [_classify_step(s, t, actor, data)]))[0]


async def escalate(
    sessions: async_sessionmaker[AsyncSession], publish: Publish | None, ticket_id: int, actor: User
) -> TicketChanged:
    """Hand a classified normal call to the dispatchers (classified → escalated)."""
    return (await _run(sessions, publish, ticket_id, actor, lambda s, t: [_escalate_step(s, t, actor)]))[0]


async def close_by_operator(
    sessions: async_sessionmaker[AsyncSession], publish: Publish | None, ticket_id: int, actor: User, note: str
) -> TicketChanged:
    """Close a classified ghost / prank / information call with a note (classified → closed)."""
    return (await _run(sessions, publish, ticket_id, actor, lambda s, t: [_close_step(s, t, actor, note)]))[0]


async def complete_intake(
    sessions: async_sessionmaker[AsyncSession], publish: Publish | None, ticket_id: int, actor: User, data: IntakeData
) -> list[TicketChanged]:
    """The form's submit: classify, then escalate (normal) or close (the others), atomically."""

    def steps(session: AsyncSession, ticket: Ticket) -> list[TicketChanged]:
        first = _classify_step(session, ticket, actor, data)
        if data.verdict == Verdict.NORMAL.value:
            return [first, _escalate_step(session, ticket, actor)]
        return [first, _close_step(session, ticket, actor, data.note)]

    return await _run(sessions, publish, ticket_id, actor, steps)


#: States in which the operator who took the call may still add what the caller says.
NOTE_STATES = frozenset({State.ESCALATED.value, State.DISPATCHED.value, State.ON_SCENE.value, State.REPORTED.value})


async def add_call_note(
    sessions: async_sessionmaker[AsyncSession], publish: Publish | None, ticket_id: int, actor: User, text: str
) -> TicketChanged:
    """What the caller still says after the ticket went to the dispatchers: one audit row
    (``call_note``, no state change) that the dispatcher's ticket page shows in its trail."""
    note = (text or "").strip()
    if not note:
        raise IntakeInvalid({"call_note": N_("Write the note first")}, {"call_note": ""})
    if len(note) > LIMITS["note"]:
        raise IntakeInvalid({"call_note": N_("Too long")}, {"call_note": note})

    def steps(session: AsyncSession, ticket: Ticket) -> list[TicketChanged]:
        if ticket.state not in NOTE_STATES:
            raise IntakeRefused(
                "conflict", f"ticket #{ticket.id} is {ticket.state}; notes are added once it went to the dispatchers"
            )
        step = _Step(session, ticket, actor, "call_note")
        step.changes["note"] = note
        return [step.done()]

    return (await _run(sessions, publish, ticket_id, actor, steps))[0]
