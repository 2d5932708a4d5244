"""The operator's intake of a call: validate, classify, escalate or close.

Every use case here loads the ticket, checks the state transition and the
actor's role with :func:`check_transition`, writes the ticket's fields, its new
state and one :class:`AuditEntry` per step in ONE transaction, and only after
the commit publishes :class:`TicketChanged` on the hub. A refused or invalid
request changes nothing: a ticket is never half-saved.

Validation messages are plain English and double as the msgids of the panel's
translation catalogs (marked with :func:`N_` so they can be extracted).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.models import AuditEntry, Ticket, User, utcnow
from ngcc112.tickets.states import TRANSITIONS, Role, State, TransitionRefused, Verdict, check_transition
from ngcc112.tickets.store import TicketChanged, jsonable


def N_(message: str) -> str:
    """Mark a message for translation; it is translated where it is shown."""
    return message


#: Incident categories, in the order the form offers them.
CATEGORIES: tuple[str, ...] = (
    "fire",
    "traffic_accident",
    "medical",
    "crime",
    "disaster",
    "public_order",
    "utility",
    "other",
)
VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)
#: Fields of the intake form, in form order.
FIELDS: tuple[str, ...] = (
    "caller_name",
    "callback_number",
    "address",
    "latitude",
    "longitude",
    "category",
    "description",
    "verdict",
    "note",
)
#: What goes into ``Ticket.intake`` (category, verdict and note have their own columns).
INTAKE_KEYS: tuple[str, ...] = ("caller_name", "callback_number", "address", "latitude", "longitude", "description")
LIMITS = {"caller_name": 160, "callback_number": 32, "address": 300, "description": 2000, "note": 1000}
_PHONE = re.compile(r"\+?[0-9]{3,20}")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
#: Roles that may take a call's intake.
INTAKE_ROLES = frozenset({Role.OPERATOR, Role.DISPATCHER})

Publish = Callable[[TicketChanged], None]


@dataclass(frozen=True, slots=True)
class IntakeData:
    caller_name: str = ""
    callback_number: str = ""
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    category: str = ""
    description: str = ""
    verdict: str = ""
    note: str = ""
    #: The fields that were sent: one left out keeps its saved value (a partial API update).
    provided: frozenset[str] = frozenset(FIELDS)

    def intake(self) -> dict[str, Any]:
        values = asdict(self)
        return {key: values[key] for key in INTAKE_KEYS if key in self.provided}


class IntakeInvalid(ValueError):
    """Some fields are wrong: ``errors`` maps field → message, ``values`` keeps what was typed."""

    def __init__(self, errors: dict[str, str], values: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.values = values


class IntakeRefused(Exception):
    """The request is not allowed: ``kind`` is ``not_found``, ``forbidden`` or ``conflict``."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def _text(raw: Mapping[str, object], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return str(value).strip()


def _coordinate(text: str, low: float, high: float, errors: dict[str, str], key: str, message: str) -> float | None:
    if not text:
        return None
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        errors[key] = N_("Enter a number, e.g. -6.2000")
        return None
    if not math.isfinite(number) or not low <= number <= high:
        errors[key] = message
        return None
    return number


def validate_intake(raw: Mapping[str, object], *, final: bool = True) -> IntakeData:
    """Check the form; raise :class:`IntakeInvalid` with every problem at once.

    ``final``: the verdict is being given (classify); without it (a draft
    save) only the values that were typed are checked.
    """
    values = {key: _text(raw, key) for key in FIELDS}
    errors: dict[str, str] = {}
    for key, limit in LIMITS.items():
        if len(values[key]) > limit:
            errors[key] = N_("Too long")
        elif "\x00" in values[key]:
            errors[key] = N_("Contains a character that is not allowed")
    for key in ("caller_name", "callback_number", "address"):
        if key not in errors and any(c in values[key] for c in "\r\n"):
            errors[key] = N_("Must be on one line")
    number = _PHONE_SEPARATORS.sub("", values["callback_number"])
    if number and "callback_number" not in errors and not _PHONE.fullmatch(number):
        errors["callback_number"] = N_("Enter a phone number: digits only, optionally starting with +")
    latitude = _coordinate(
        values["latitude"], -90.0, 90.0, errors, "latitude", N_("Latitude must be between -90 and 90")
    )
    longitude = _coordinate(
        values["longitude"], -180.0, 180.0, errors, "longitude", N_("Longitude must be between -180 and 180")
    )
    if (latitude is None) != (longitude is None) and not ({"latitude", "longitude"} & errors.keys()):
        missing = "longitude" if longitude is None else "latitude"
        errors[missing] = N_("Give both latitude and longitude, or neither")
    category, verdict = values["category"], values["verdict"]
    if category and category not in CATEGORIES:
        errors["category"] = N_("Choose a category from the list")
    if verdict and verdict not in VERDICTS:
        errors["verdict"] = N_("Choose normal, ghost, prank or information")
    if final:
        if not verdict:
            errors["verdict"] = N_("Choose the call type")
        elif verdict == Verdict.NORMAL.value:
            if not category and "category" not in errors:
                errors["category"] = N_("Choose the incident category")
            if not values["address"] and latitude is None and "address" not in errors and "latitude" not in errors:
                errors["address"] = N_("Give the incident location: an address or coordinates")
            if not values["description"] and "description" not in errors:
                errors["description"] = N_("Describe what happened")
        elif verdict in VERDICTS and not values["note"] and "note" not in errors:
            errors["note"] = N_("Write a short closing note")
    if errors:
        raise IntakeInvalid(errors, values)
    provided = frozenset(key for key in FIELDS if key in raw)
    if "latitude" in provided or "longitude" in provided:
        provided |= {"latitude", "longitude"}  # a position is both or neither
    return IntakeData(
        caller_name=values["caller_name"],
        callback_number=number,
        address=values["address"],
        latitude=latitude,
        longitude=longitude,
        category=category,
        description=values["description"],
        verdict=verdict,
        note=values["note"],
        provided=provided,
    )


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
