"""A caller's earlier calls and misuse-list entries as scoring reads them, from the tickets."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ngcc112.location.numbers import canonical_number
from ngcc112.routing.facts import NO_HISTORY, BlocklistEntry, CallerHistory, PastCall, is_missing_number
from ngcc112.routing.policy import Policy
from ngcc112.routing.progress import past_call
from ngcc112.tickets.location_models import BlocklistRow
from ngcc112.tickets.locations import number_variants
from ngcc112.tickets.models import Ticket

#: Most earlier calls read for one number.
HISTORY_LIMIT = 200


def past_call_from_ticket(ticket: Ticket) -> PastCall:
    return past_call(
        ticket.arrived_at, answered_at=ticket.answered_at, ended_at=ticket.ended_at, verdict=ticket.verdict
    )


def blocklist_entry(row: BlocklistRow) -> BlocklistEntry:
    expires = row.expires_at
    if row.lifted_at is not None and (expires is None or row.lifted_at < expires):
        expires = row.lifted_at
    if expires is not None and expires <= row.added_at:
        expires = row.added_at + timedelta(microseconds=1)
    return BlocklistEntry(reason=row.reason, added_by=row.added_by, added_at=row.added_at, expires_at=expires)


async def load_history(
    session: AsyncSession, number: str, *, before: datetime, policy: Policy, exclude_linkedid: str | None = None
) -> CallerHistory:
    """The number's earlier calls (within the policy's history window) and misuse-list entries."""
    if is_missing_number(number):
        return NO_HISTORY
    variants = number_variants(number)
    if not variants:
        return NO_HISTORY
    query = (
        select(Ticket)
        .where(
            Ticket.caller_number.in_(variants),
            Ticket.arrived_at >= before - policy.history_window,
            Ticket.arrived_at < before,
        )
        .order_by(Ticket.arrived_at.desc())
        .limit(HISTORY_LIMIT)
    )
    if exclude_linkedid is not None:
        query = query.where(Ticket.linkedid != exclude_linkedid)
    tickets = (await session.scalars(query)).all()
    rows = (
        await session.scalars(
            select(BlocklistRow).where(BlocklistRow.number == canonical_number(number)).order_by(BlocklistRow.id)
        )
    ).all()
    return CallerHistory(
        calls=tuple(past_call_from_ticket(t) for t in reversed(tickets)),
        blocklist=tuple(blocklist_entry(r) for r in rows),
    )
