"""Agencies (OPD / Instansi), the admin's use cases on them, and the admin log.

Anyone logged in may read the agency list (the dispatcher picks from it);
every change is the admin's: create or edit an agency, deactivate it (the admin's
use cases on accounts are in :mod:`ngcc112.tickets.accounts`). Each change checks the
actor is an active admin (re-read from the database, so a role taken away a
minute ago counts), validates every value (:class:`AgencyError`, or the panel's
:class:`~ngcc112.tickets.users.UserError` for accounts), and writes the change
and its ``admin_log`` row in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.dispatch_models import AdminLogEntry, Agency, AgencyMember
from ngcc112.tickets.models import User, utcnow
from ngcc112.tickets.states import Role
from ngcc112.tickets.store import jsonable
from ngcc112.tickets.users import (
    UserError,
)

log = structlog.get_logger(__name__)

#: OPD: a regional government work unit; Instansi: another agency (SOP glossary).
AGENCY_KINDS: tuple[str, ...] = ("OPD", "Instansi")
#: Whole-string only (``fullmatch``): ``$`` would let a trailing newline through.
AGENCY_CODE_PATTERN = re.compile(r"[a-z][a-z0-9_-]{1,31}")
MAX_AGENCY_NAME = 120

#: The agencies a fresh database starts with: code, name, kind. The admin edits them freely.
DEFAULT_AGENCIES: tuple[tuple[str, str, str], ...] = (
    ("damkar", "Damkar (Pemadam Kebakaran dan Penyelamatan)", "OPD"),
    ("psc119", "Ambulans / PSC 119", "OPD"),
    ("polisi", "Polisi (Polres / Polsek)", "Instansi"),
    ("bpbd", "BPBD (Badan Penanggulangan Bencana Daerah)", "OPD"),
    ("satpolpp", "Satpol PP", "OPD"),
    ("dishub", "Dishub (Dinas Perhubungan)", "OPD"),
    ("pln", "PLN", "Instansi"),
    ("pdam", "PDAM", "Instansi"),
    ("basarnas", "Basarnas", "Instansi"),
)


class AgencyError(UserError):
    """An agency cannot be written as asked; ``field`` names the culprit.

    ``msgid``, ``params`` and :meth:`translated` as in :class:`~ngcc112.tickets.users.UserError`
    (the panel translates, then formats)."""


class NotPermitted(PermissionError):
    """The actor may not do this (the panel answers 403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# reads -----------------------------------------------------------------------------


async def list_agencies(sessions: async_sessionmaker[AsyncSession], *, active_only: bool = False) -> Sequence[Agency]:
    """The agencies by name (only active ones when ``active_only``: the dispatch form)."""
    query = select(Agency).order_by(Agency.name, Agency.code)
    if active_only:
        query = query.where(Agency.active.is_(True))
    async with sessions() as session:
        return (await session.scalars(query)).all()


async def get_agency(sessions: async_sessionmaker[AsyncSession], code: str) -> Agency | None:
    async with sessions() as session:
        return await session.scalar(select(Agency).where(Agency.code == code))


async def agency_of(sessions: async_sessionmaker[AsyncSession], user_id: int) -> Agency | None:
    """The agency an agency user belongs to, or None."""
    async with sessions() as session:
        return await session.scalar(
            select(Agency)
            .join(AgencyMember, AgencyMember.agency_id == Agency.id)
            .where(AgencyMember.user_id == user_id)
        )


async def interface_map(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Softphone queue member interface → username, for active users that have one."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(User.interface, User.username).where(User.interface.is_not(None), User.active.is_(True))
            )
        ).all()
    return {interface: username for interface, username in rows if interface is not None}


# seeding ---------------------------------------------------------------------------


async def seed_agencies(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """Add the default agencies that are missing; return the codes added.

    Idempotent, and it never touches an agency that exists: an agency the
    admin renamed or deactivated stays as the admin left it.
    """
    async with sessions.begin() as session:
        existing = set((await session.scalars(select(Agency.code))).all())
        added = []
        for code, name, kind in DEFAULT_AGENCIES:
            if code not in existing:
                session.add(Agency(code=code, name=name, kind=kind, active=True))
                added.append(code)
    if added:
        log.info("agencies.seeded", added=added)
    return added


async def seed_agency_member(sessions: async_sessionmaker[AsyncSession], username: str, agency_code: str) -> bool:
    """Put an agency user without an agency into ``agency_code``; True when it did.

    For seeding (the demo's ``agency`` account) and the command line, where no
    admin is logged in: idempotent, and it never moves a user who already has an
    agency. Refuses (:class:`AgencyError`) a user who is missing or not an agency user.
    """
    async with sessions.begin() as session:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None or user.role != Role.AGENCY.value:
            raise AgencyError("username", f"{username!r} is not an agency user")
        if await session.get(AgencyMember, user.id) is not None:
            return False
        agency = await agency_by_code(session, agency_code)
        session.add(AgencyMember(user_id=user.id, agency_id=agency.id))
    log.info("agency.member_seeded", user=username, agency=agency_code)
    return True


# admin: agencies ---------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise AgencyError("name", "must not be empty", msgid="Enter a name")
    if len(name) > MAX_AGENCY_NAME or any(c in name for c in "\r\n\x00"):
        raise AgencyError("name", f"at most {MAX_AGENCY_NAME} characters, on one line", msgid="Too long")
    return name


def _check_kind(kind: str) -> str:
    if kind not in AGENCY_KINDS:
        raise AgencyError(
            "kind", f"unknown kind {kind!r}; choose one of {', '.join(AGENCY_KINDS)}", msgid="Choose OPD or Instansi"
        )
    return kind


async def require_admin(session: AsyncSession, actor: User) -> User:
    """The actor as the database has it now, when that is an active admin."""
    current = await session.get(User, actor.id, populate_existing=True)
    if current is None or not current.active:
        raise NotPermitted(f"the account {actor.username!r} is not active")
    if current.role != Role.ADMIN.value:
        raise NotPermitted(f"this is for admins; not for {current.role}")
    return current


def record_admin_change(
    session: AsyncSession, admin: User, action: str, subject: str, subject_id: int, changes: dict[str, Any]
) -> None:
    session.add(
        AdminLogEntry(
            at=utcnow(),
            actor=admin.username,
            action=action,
            subject=subject,
            subject_id=subject_id,
            changes=jsonable(changes),
        )
    )


async def agency_by_code(session: AsyncSession, code: str) -> Agency:
    agency = await session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise AgencyError("code", f"there is no agency {code!r}")
    return agency


async def create_agency(
    sessions: async_sessionmaker[AsyncSession], actor: User, *, code: str, name: str, kind: str
) -> Agency:
    """Add an agency (admin only)."""
    if not AGENCY_CODE_PATTERN.fullmatch(code or ""):
        raise AgencyError(
            "code",
            "2-32 characters: lower-case letters, digits, '_' or '-', starting with a letter",
            msgid="2-32 characters: lower-case letters, digits, '_' or '-', starting with a letter",
        )
    name, kind = _clean_name(name), _check_kind(kind)
    async with sessions.begin() as session:
        admin = await require_admin(session, actor)
        if await session.scalar(select(func.count()).select_from(Agency).where(Agency.code == code)):
            raise AgencyError(
                "code", f"{code!r} already exists", msgid="'{code}' already exists", params={"code": code}
            )
        agency = Agency(code=code, name=name, kind=kind, active=True)
        session.add(agency)
        await session.flush()
        record_admin_change(
            session,
            admin,
            "agency_created",
            "agency",
            agency.id,
            {"code": code, "name": name, "kind": kind, "active": True},
        )
    log.info("agency.created", code=code, actor=admin.username)
    return agency


async def update_agency(
    sessions: async_sessionmaker[AsyncSession],
    actor: User,
    code: str,
    *,
    name: str | None = None,
    kind: str | None = None,
    active: bool | None = None,
) -> Agency:
    """Rename, re-kind, deactivate or reactivate an agency (admin only); the code never changes.

    A deactivated agency is no longer offered for new dispatches; its past and
    open dispatches stay as they are.
    """
    wanted: dict[str, Any] = {}
    if name is not None:
        wanted["name"] = _clean_name(name)
    if kind is not None:
        wanted["kind"] = _check_kind(kind)
    if active is not None:
        wanted["active"] = bool(active)
    async with sessions.begin() as session:
        admin = await require_admin(session, actor)
        agency = await agency_by_code(session, code)
        changes = {
            key: {"from": getattr(agency, key), "to": value}
            for key, value in wanted.items()
            if getattr(agency, key) != value
        }
        for key, change in changes.items():
            setattr(agency, key, change["to"])
        if changes:
            record_admin_change(session, admin, "agency_updated", "agency", agency.id, {"code": code, **changes})
    if changes:
        log.info("agency.updated", code=code, fields=sorted(changes), actor=admin.username)
    return agency


# the admin log ---------------------------------------------------------------------


async def admin_log(
    sessions: async_sessionmaker[AsyncSession], actor: User, limit: int = 200
) -> Sequence[AdminLogEntry]:
    """The newest admin changes first (admin only)."""
    async with sessions() as session:
        await require_admin(session, actor)
        return (
            await session.scalars(
                select(AdminLogEntry).order_by(AdminLogEntry.at.desc(), AdminLogEntry.id.desc()).limit(limit)
            )
        ).all()
