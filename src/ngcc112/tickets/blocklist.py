"""The misuse list: numbers known to misuse 112, kept by the dispatchers.

It never refuses a call: scoring reads an entry as prank evidence, which at most lowers
the call's queue priority. Entries are never deleted, only lifted (for the record).
"""

from __future__ import annotations

from datetime import datetime, timezone

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.location.numbers import canonical_number
from ngcc112.routing.facts import is_missing_number
from ngcc112.tickets.location_models import BlocklistRow

log = structlog.get_logger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class BlocklistError(ValueError):
    """A misuse-list change cannot be made as asked; the message says why."""


async def add_to_blocklist(
    sessions: async_sessionmaker[AsyncSession],
    number: str,
    reason: str,
    actor: str,
    *,
    expires_at: datetime | None = None,
    at: datetime | None = None,
) -> BlocklistRow:
    """Note that ``number`` misuses 112. It never refuses a call: the score reads it as
    prank evidence, which at most lowers the call's queue priority."""
    canonical = canonical_number(number)
    if not canonical or is_missing_number(number):
        raise BlocklistError(f"number: {number!r} is not a usable phone number")
    if not (reason or "").strip():
        raise BlocklistError("reason: say why the number is on the misuse list")
    if not actor:
        raise BlocklistError("actor: who adds the number must be known")
    added = at or _now()
    if expires_at is not None and (expires_at.utcoffset() is None or expires_at <= added):
        raise BlocklistError("expires_at must be a timezone-aware time after now")
    async with sessions.begin() as session:
        row = BlocklistRow(
            number=canonical, reason=reason.strip()[:1000], added_by=actor, added_at=added, expires_at=expires_at
        )
        session.add(row)
    log.info("blocklist.added", number=canonical, actor=actor, expires_at=expires_at)
    return row


async def lift_blocklist_entry(
    sessions: async_sessionmaker[AsyncSession], entry_id: int, actor: str, *, at: datetime | None = None
) -> BlocklistRow:
    """End a misuse-list entry now (it stays in the table, for the record)."""
    async with sessions.begin() as session:
        row = await session.get(BlocklistRow, entry_id)
        if row is None:
            raise BlocklistError(f"no misuse-list entry {entry_id}")
        if row.lifted_at is None:
            row.lifted_at, row.lifted_by = at or _now(), actor
    log.info("blocklist.lifted", entry_id=entry_id, actor=actor)
    return row


async def blocklist_for(sessions: async_sessionmaker[AsyncSession], number: str) -> list[BlocklistRow]:
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(BlocklistRow)
                    .where(BlocklistRow.number == canonical_number(number))
                    .order_by(BlocklistRow.id)
                )
            ).all()
        )
