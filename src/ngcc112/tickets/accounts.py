"""The admin's use cases on accounts: list them, change a role, an interface, an agency or the
active flag, reset a password. Each is admin only, re-reads the actor, and writes one admin-log row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.dispatch_models import Agency, AgencyMember
from ngcc112.tickets.models import User
from ngcc112.tickets.panel_sessions import end_user_sessions
from ngcc112.tickets.states import Role
from ngcc112.tickets.users import (
    INTERFACE_PATTERN,
    USER_ROLES,
    UserError,
    change_password,
    check_account_links,
    check_agency_link,
    check_operator_interface,
)

from ngcc112.tickets.agencies import AgencyError, agency_by_code, record_admin_change, require_admin

log = structlog.get_logger(__name__)


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
        await require_admin(session, actor)
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
        admin = await require_admin(session, actor)
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
                joined = await agency_by_code(session, agency_code or "")
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
        record_admin_change(session, admin, "role_changed", "user", user.id, changes)
    log.info("user.role_changed", user=user.username, role=role, actor=admin.username)
    return user


async def set_active(sessions: async_sessionmaker[AsyncSession], actor: User, user_id: int, active: bool) -> User:
    """Deactivate (no more logins, no more actions, open sessions ended) or reactivate an
    account (admin only)."""
    async with sessions.begin() as session:
        admin = await require_admin(session, actor)
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
        record_admin_change(session, admin, "activated" if active else "deactivated", "user", user.id, changes)
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
        admin = await require_admin(session, actor)
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
        record_admin_change(
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
        admin = await require_admin(session, actor)
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
                agency = await agency_by_code(session, agency_code)
            except AgencyError as exc:
                raise UserError("agency", exc.message, msgid="Choose an agency from the list") from None
            if member is None:
                session.add(AgencyMember(user_id=user.id, agency_id=agency.id))
            else:
                member.agency_id = agency.id
        if before != agency_code:
            record_admin_change(
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
        admin = await require_admin(session, actor)
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
