"""Panel logins kept on the server (``panel_sessions``), so ending one takes effect at once.

The browser's cookie carries a random session id; the database keeps only its SHA-256,
so a copy of the table opens nothing. Every panel request looks the row up (one primary
key lookup joined to its user): a session counts while it is neither revoked nor expired
and its user is active. Logout ends one session; a password change, an admin's disable
and a role change end all of a user's sessions, in the same transaction as the change.
Ended and expired rows are kept :data:`KEEP_ENDED` (who was logged in from where) and
then purged.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.db import affected
from ngcc112.tickets.models import PanelSession, User, utcnow

#: A login lasts at most this long (a long shift), then the user logs in again.
SESSION_LIFETIME = timedelta(hours=14)
#: Ended and expired sessions stay this long, then :func:`purge_sessions` deletes them.
KEEP_ENDED = timedelta(days=7)
MAX_ADDRESS = 64
MAX_REASON = 40


def session_hash(session_id: str) -> str:
    """The stored form of a cookie's session id (SHA-256, hex)."""
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A session that counts now, with its user as the database has it."""

    user: User
    expires_at: datetime


async def open_session(
    sessions: async_sessionmaker[AsyncSession],
    user_id: int,
    address: str,
    *,
    now: datetime | None = None,
    lifetime: timedelta = SESSION_LIFETIME,
    end_first: Iterable[str] = (),
    purge: bool = False,
) -> str:
    """Start a session for ``user_id``; return the random id for the cookie (stored only hashed).

    ``end_first``: hashes of sessions ended while the database was away, written now.
    ``purge``: also delete sessions ended more than :data:`KEEP_ENDED` ago.
    """
    now = now or utcnow()
    session_id = secrets.token_urlsafe(32)
    async with sessions.begin() as session:
        pending = list(end_first)
        if pending:
            await session.execute(
                update(PanelSession)
                .where(PanelSession.id.in_(pending), PanelSession.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason="logout")
            )
        if purge:
            await purge_sessions(session, now)
        session.add(
            PanelSession(
                id=session_hash(session_id),
                user_id=user_id,
                created_at=now,
                expires_at=now + lifetime,
                address=(address or "")[:MAX_ADDRESS],
            )
        )
    return session_id


async def live_session(
    sessions: async_sessionmaker[AsyncSession], hashed: str, *, now: datetime | None = None
) -> LiveSession | None:
    """The session with this hash and its user, when it still counts; None otherwise."""
    now = now or utcnow()
    async with sessions() as session:
        row = (
            await session.execute(
                select(User, PanelSession.expires_at, PanelSession.revoked_at)
                .join(PanelSession, PanelSession.user_id == User.id)
                .where(PanelSession.id == hashed)
            )
        ).first()
    if row is None:
        return None
    user, expires_at, revoked_at = row
    if revoked_at is not None or expires_at <= now or not user.active:
        return None
    return LiveSession(user=user, expires_at=expires_at)


async def end_session(
    sessions: async_sessionmaker[AsyncSession], hashed: str, reason: str, *, now: datetime | None = None
) -> bool:
    """End one session (logout); True when it was still open."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(PanelSession)
            .where(PanelSession.id == hashed, PanelSession.revoked_at.is_(None))
            .values(revoked_at=now or utcnow(), revoked_reason=reason[:MAX_REASON])
        )
    return affected(result) > 0


async def end_user_sessions(session: AsyncSession, user_id: int, reason: str, *, now: datetime | None = None) -> int:
    """End every open session of ``user_id`` inside the caller's transaction; how many ended."""
    result = await session.execute(
        update(PanelSession)
        .where(PanelSession.user_id == user_id, PanelSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow(), revoked_reason=reason[:MAX_REASON])
    )
    return affected(result)


async def purge_sessions(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete sessions that ended or expired more than :data:`KEEP_ENDED` ago; how many."""
    before = (now or utcnow()) - KEEP_ENDED
    result = await session.execute(
        delete(PanelSession).where(or_(PanelSession.expires_at < before, PanelSession.revoked_at < before))
    )
    return affected(result)


async def open_sessions(
    sessions: async_sessionmaker[AsyncSession], user_id: int, *, now: datetime | None = None
) -> list[PanelSession]:
    """The user's sessions that still count, newest first."""
    now = now or utcnow()
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(PanelSession)
                    .where(
                        PanelSession.user_id == user_id,
                        PanelSession.revoked_at.is_(None),
                        PanelSession.expires_at > now,
                    )
                    .order_by(PanelSession.created_at.desc())
                )
            ).all()
        )


async def still_open(
    sessions: async_sessionmaker[AsyncSession], hashes: Iterable[str], *, now: datetime | None = None
) -> set[str]:
    """Which of these session hashes still count (not ended, not expired, user active): one query."""
    wanted = list(set(hashes))
    if not wanted:
        return set()
    now = now or utcnow()
    async with sessions() as session:
        rows = await session.scalars(
            select(PanelSession.id)
            .join(User, User.id == PanelSession.user_id)
            .where(
                PanelSession.id.in_(wanted),
                PanelSession.revoked_at.is_(None),
                PanelSession.expires_at > now,
                User.active.is_(True),
            )
        )
        return set(rows)
