"""Who the audit trail's actors are: the role of each actor who is a user (an automatic actor —
Asterisk, triage, AML — has none). The panel's audit reader and the position page label rows by it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.models import User


async def actor_roles(sessions: async_sessionmaker[AsyncSession], actors: set[str]) -> dict[str, str]:
    """The role of each actor who is a user (automatic actors — Asterisk, triage, AML — are not)."""
    if not actors:
        return {}
    async with sessions() as session:
        rows = await session.execute(select(User.username, User.role).where(User.username.in_(actors)))
        return {username: role for username, role in rows}
