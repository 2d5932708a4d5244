"""Intake drafts: what an operator typed into a ticket's form, kept as typed until submitted.

A draft accepts any text, valid or not yet (a half-typed number, an empty verdict):
it is a copy of the screen, never a ticket change, so it writes no audit row and
needs no state transition. Only the intake form's fields are kept, each cut to a
bound, so a draft can never grow without limit. Submitting the intake deletes the
ticket's drafts (:func:`clear_drafts`).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.intake_form import FIELDS, LIMITS
from ngcc112.tickets.intake import NOTE_STATES
from ngcc112.tickets.models import IntakeDraft, Ticket, utcnow
from ngcc112.tickets.states import State

#: Ticket states whose intake form is still open.
DRAFT_STATES = (State.NEW.value, State.IN_CALL.value, State.CLASSIFIED.value)

#: The longest text kept for a field without a limit of its own (latitude, verdict, …).
OTHER_LIMIT = 64
#: The notes field added after escalation, kept with the intake fields.
NOTE_FIELDS = ("call_note",)
CALL_NOTE_LIMIT = 1000


def clean(values: Mapping[str, object]) -> dict[str, str]:
    """The draftable fields of ``values`` as text, each cut to its bound; the rest dropped."""
    out: dict[str, str] = {}
    for key in (*FIELDS, *NOTE_FIELDS):
        if key not in values or values[key] is None:
            continue
        text = str(values[key]).replace("\x00", "")
        limit = CALL_NOTE_LIMIT if key in NOTE_FIELDS else LIMITS.get(key, OTHER_LIMIT)
        out[key] = text[:limit]
    return out


async def draftable(sessions: async_sessionmaker[AsyncSession], ticket_id: int, interface: str | None) -> bool:
    """May the operator on ``interface`` keep a draft of this ticket? Only of a call they
    answered, while its intake is open or (the notes field) while it is with the dispatchers."""
    if not interface:
        return False
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
    return (
        ticket is not None and ticket.operator_interface == interface and ticket.state in (*DRAFT_STATES, *NOTE_STATES)
    )


async def save_draft(
    sessions: async_sessionmaker[AsyncSession], ticket_id: int, user_id: int, values: Mapping[str, object]
) -> dict[str, str]:
    """Merge ``values`` into the user's draft of the ticket; return the whole draft."""
    fresh = clean(values)
    for attempt in (1, 2):
        try:
            async with sessions() as session, session.begin():
                draft = await session.get(IntakeDraft, (ticket_id, user_id), with_for_update=True)
                if draft is None:
                    draft = IntakeDraft(ticket_id=ticket_id, user_id=user_id, values=fresh)
                    session.add(draft)
                else:
                    draft.values = {**(draft.values or {}), **fresh}
                    draft.updated_at = utcnow()
                return dict(draft.values)
        except IntegrityError:
            if attempt == 2:
                raise
            # two saves of a new draft at once (the page's autosave and a form post): the
            # other one created the row; merge into it
    raise AssertionError("unreachable")


async def load_draft(sessions: async_sessionmaker[AsyncSession], ticket_id: int, user_id: int) -> dict[str, str] | None:
    async with sessions() as session:
        draft = await session.get(IntakeDraft, (ticket_id, user_id))
        return dict(draft.values) if draft is not None else None


async def drafted_tickets(sessions: async_sessionmaker[AsyncSession], user_id: int, ticket_ids: list[int]) -> set[int]:
    """Which of ``ticket_ids`` the user has a draft of."""
    if not ticket_ids:
        return set()
    async with sessions() as session:
        rows = await session.scalars(
            select(IntakeDraft.ticket_id).where(IntakeDraft.user_id == user_id, IntakeDraft.ticket_id.in_(ticket_ids))
        )
        return set(rows.all())


async def clear_drafts(
    sessions: async_sessionmaker[AsyncSession], ticket_id: int, fields: tuple[str, ...] | None = None
) -> None:
    """Forget the ticket's drafts (every user's): all of them, or only ``fields`` of each."""
    async with sessions() as session, session.begin():
        if fields is None:
            await session.execute(delete(IntakeDraft).where(IntakeDraft.ticket_id == ticket_id))
            return
        for draft in (await session.scalars(select(IntakeDraft).where(IntakeDraft.ticket_id == ticket_id))).all():
            kept = {k: v for k, v in (draft.values or {}).items() if k not in fields}
            if kept:
                draft.values = kept
            else:
                await session.delete(draft)
