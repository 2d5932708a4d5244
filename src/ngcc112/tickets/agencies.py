"""Agencies (OPD / Instansi) and the admin's use cases on agencies and accounts.

Anyone logged in may read the agency list (the dispatcher picks from it);
every change is the admin's: create or edit an agency, deactivate it, put an
agency user in their agency, change a user's role, deactivate an account, map
an operator to their softphone's queue member interface. Each change checks the
actor is an active admin (re-read from the database, so a role taken away a
minute ago counts), validates every value (:class:`AgencyError`, or the panel's
:class:`~ngcc112.tickets.users.UserError` for accounts), and writes the change
and its ``admin_log`` row in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.dispatch_models import AdminLogEntry, Agency, AgencyMember
from ngcc112.tickets.models import User, utcnow
from ngcc112.tickets.panel_sessions import end_user_sessions
from ngcc112.tickets.states import Role
from ngcc112.tickets.store import jsonable
from ngcc112.tickets.users import (
    INTERFACE_PATTERN,
    USER_ROLES,
    UserError,
    change_password,
    check_account_links,
    check_agency_link,
    check_operator_interface,
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


@dataclass(frozen=True, slots=True)
class Account:
    """A user as the admin's page lists it (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    interface: str | None
    active: bool
    agency_code: str | None


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
        agency = await _agency_by_code(session, agency_code)
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


async def _require_admin(session: AsyncSession, actor: User) -> User:
    """The actor as the database has it now, when that is an active admin."""
    current = await session.get(User, actor.id, populate_existing=True)
    if current is None or not current.active:
        raise NotPermitted(f"the account {actor.username!r} is not active")
    if current.role != Role.ADMIN.value:
        raise NotPermitted(f"this is for admins; not for {current.role}")
    return current


def _admin_log(
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


async def _agency_by_code(session: AsyncSession, code: str) -> Agency:
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
        admin = await _require_admin(session, actor)
        if await session.scalar(select(func.count()).select_from(Agency).where(Agency.code == code)):
            raise AgencyError(
                "code", f"{code!r} already exists", msgid="'{code}' already exists", params={"code": code}
            )
        agency = Agency(code=code, name=name, kind=kind, active=True)
        session.add(agency)
        await session.flush()
        _admin_log(
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
        admin = await _require_admin(session, actor)
        agency = await _agency_by_code(session, code)
        changes = {
            key: {"from": getattr(agency, key), "to": value}
            for key, value in wanted.items()
            if getattr(agency, key) != value
        }
        for key, change in changes.items():
            setattr(agency, key, change["to"])
        if changes:
            _admin_log(session, admin, "agency_updated", "agency", agency.id, {"code": code, **changes})
    if changes:
        log.info("agency.updated", code=code, fields=sorted(changes), actor=admin.username)
    return agency


# admin: accounts -------------------------------------------------------------------


async def _target_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id, populate_existing=True)
    if user is None:
        raise UserError("user", f"there is no user #{user_id}")
    return user


async def _other_active_admins(session: AsyncSession, user: User) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.active.is_(True), User.id != user.id)
        )
        or 0
    )


async def list_accounts(sessions: async_sessionmaker[AsyncSession], actor: User) -> list[Account]:
    """Every account with its agency (admin only)."""
    async with sessions() as session:
        await _require_admin(session, actor)
        rows = (
            await session.execute(
                select(User, Agency.code)
                .outerjoin(AgencyMember, AgencyMember.user_id == User.id)
                .outerjoin(Agency, Agency.id == AgencyMember.agency_id)
                .order_by(User.username)
            )
        ).all()
    return [
        Account(
            id=u.id,
            username=u.username,
            display_name=u.display_name,
            role=u.role,
            interface=u.interface,
            active=u.active,
            agency_code=code,
        )
        for u, code in rows
    ]


async def change_role(
    sessions: async_sessionmaker[AsyncSession], actor: User, user_id: int, role: str, *, agency_code: str | None = None
) -> User:
    """Give a user another role (admin only). Leaving the agency role ends agency membership;
    the user's panel sessions end (they log in again, with the new role's rights).

    Becoming an operator needs a softphone interface already mapped (:func:`set_interface`
    first); becoming an agency user needs ``agency_code``, the agency they join in the
    same step (:func:`~ngcc112.tickets.users.check_account_links`)."""
    if role not in USER_ROLES:
        raise UserError("role", f"unknown role {role!r}; choose one of {', '.join(USER_ROLES)}")
    async with sessions.begin() as session:
        admin = await _require_admin(session, actor)
        user = await _target_user(session, user_id)
        if user.role == role:
            return user
        if user.role == Role.ADMIN.value and user.active and not await _other_active_admins(session, user):
            raise UserError(
                "role",
                "this is the last active admin; make another admin first",
                msgid="This is the last active admin; make another admin first",
            )
        check_account_links(role, user.interface, agency_code)
        joined = None
        if role == Role.AGENCY.value:
            try:
                joined = await _agency_by_code(session, agency_code or "")
            except AgencyError as exc:
                raise UserError("agency", exc.message, msgid="Choose an agency from the list") from None
        changes: dict[str, Any] = {"username": user.username, "role": {"from": user.role, "to": role}}
        if user.role == Role.AGENCY.value:
            left = await session.scalar(
                select(Agency.code)
                .join(AgencyMember, AgencyMember.agency_id == Agency.id)
                .where(AgencyMember.user_id == user.id)
            )
            if left is not None:
                await session.execute(delete(AgencyMember).where(AgencyMember.user_id == user.id))
                changes["agency"] = {"from": left, "to": None}
        user.role = role
        if joined is not None:
            session.add(AgencyMember(user_id=user.id, agency_id=joined.id))
            changes["agency"] = {"from": None, "to": joined.code}
        # whoever is logged in as this user starts again with the new role's rights
        ended = await end_user_sessions(session, user.id, "role")
        if ended:
            changes["sessions_ended"] = ended
        _admin_log(session, admin, "role_changed", "user", user.id, changes)
    log.info("user.role_changed", user=user.username, role=role, actor=admin.username)
    return user


async def set_active(sessions: async_sessionmaker[AsyncSession], actor: User, user_id: int, active: bool) -> User:
    """Deactivate (no more logins, no more actions, open sessions ended) or reactivate an
    account (admin only)."""
    async with sessions.begin() as session:
        admin = await _require_admin(session, actor)
        user = await _target_user(session, user_id)
        if user.active == active:
            return user
        if not active and user.role == Role.ADMIN.value and not await _other_active_admins(session, user):
            raise UserError(
                "active",
                "this is the last active admin; it cannot be deactivated",
                msgid="This is the last active admin; it cannot be deactivated",
            )
        user.active = active
        changes: dict[str, Any] = {"username": user.username, "active": {"from": not active, "to": active}}
        ended = 0 if active else await end_user_sessions(session, user.id, "disabled")
        if ended:  # a disabled account's open sessions end now, copied cookies included
            changes["sessions_ended"] = ended
        _admin_log(session, admin, "activated" if active else "deactivated", "user", user.id, changes)
    log.info("user.active_changed", user=user.username, active=active, actor=admin.username)
    return user


async def set_interface(
    sessions: async_sessionmaker[AsyncSession], actor: User, user_id: int, interface: str | None
) -> User:
    """Map a user to their softphone's queue member interface (``PJSIP/op1``), or unmap (admin only).

    An interface belongs to one user at most: the screen pop finds the operator by it.
    """
    interface = (interface or "").strip() or None
    if interface is not None and not INTERFACE_PATTERN.fullmatch(interface):
        raise UserError("interface", f"{interface!r} is not a queue member interface like PJSIP/op1")
    async with sessions.begin() as session:
        admin = await _require_admin(session, actor)
        user = await _target_user(session, user_id)
        if user.interface == interface:
            return user
        if interface is None:
            check_operator_interface(user.role, None)  # an operator keeps an interface
        if interface is not None:
            holder = await session.scalar(select(User.username).where(User.interface == interface, User.id != user.id))
            if holder is not None:
                raise UserError(
                    "interface",
                    f"{interface} already belongs to {holder!r}",
                    msgid="{interface} already belongs to '{holder}'",
                    params={"interface": interface, "holder": holder},
                )
        _admin_log(
            session,
            admin,
            "interface_changed",
            "user",
            user.id,
            {"username": user.username, "interface": {"from": user.interface, "to": interface}},
        )
        user.interface = interface
    log.info("user.interface_changed", user=user.username, interface=interface, actor=admin.username)
    return user


async def set_user_agency(
    sessions: async_sessionmaker[AsyncSession], actor: User, user_id: int, agency_code: str | None
) -> User:
    """Put an agency user in an agency (or in none with ``None``) (admin only)."""
    async with sessions.begin() as session:
        admin = await _require_admin(session, actor)
        user = await _target_user(session, user_id)
        member = await session.get(AgencyMember, user.id)
        before = None if member is None else (await session.get_one(Agency, member.agency_id)).code
        if agency_code is None:
            check_agency_link(user.role, None)  # an agency user keeps an agency
            if member is not None:
                await session.delete(member)
        else:
            if user.role != Role.AGENCY.value:
                raise UserError(
                    "agency",
                    f"{user.username!r} is {user.role}; only agency users belong to an agency",
                    msgid="Only agency users belong to an agency",
                )
            try:
                agency = await _agency_by_code(session, agency_code)
            except AgencyError as exc:
                raise UserError("agency", exc.message, msgid="Choose an agency from the list") from None
            if member is None:
                session.add(AgencyMember(user_id=user.id, agency_id=agency.id))
            else:
                member.agency_id = agency.id
        if before != agency_code:
            _admin_log(
                session,
                admin,
                "agency_membership",
                "user",
                user.id,
                {"username": user.username, "agency": {"from": before, "to": agency_code}},
            )
    log.info("user.agency_set", user=user.username, agency=agency_code, actor=admin.username)
    return user


async def reset_password(sessions: async_sessionmaker[AsyncSession], actor: User, user_id: int, password: str) -> int:
    """Give another user a new (temporary) password (admin only); how many of their sessions ended.

    Every panel session of the user ends, copied cookies included, and the ``admin_log``
    row (``password_changed``) names the admin (:func:`~ngcc112.tickets.users.change_password`).
    An admin's own password is changed on the account page, with the current password.
    """
    async with sessions() as session:
        admin = await _require_admin(session, actor)
        user = await _target_user(session, user_id)
    if user.id == admin.id:
        raise UserError(
            "password",
            "change your own password on the account page",
            msgid="Change your own password on the account page",
        )
    ended = await change_password(sessions, user.username, password, actor=admin.username)
    log.info("user.password_reset", user=user.username, actor=admin.username, sessions_ended=ended)
    return ended


async def admin_log(
    sessions: async_sessionmaker[AsyncSession], actor: User, limit: int = 200
) -> Sequence[AdminLogEntry]:
    """The newest admin changes first (admin only)."""
    async with sessions() as session:
        await _require_admin(session, actor)
        return (
            await session.scalars(
                select(AdminLogEntry).order_by(AdminLogEntry.at.desc(), AdminLogEntry.id.desc()).limit(limit)
            )
        ).all()
