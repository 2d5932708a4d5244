"""The admin's account use cases shared by the pages and the JSON API: add a user, change one
(role, interface, agency, active), reset a password. Each answers per-field errors or ``{}``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ngcc112.panel.admin.validate import validate_new_user, validate_user_change
from ngcc112.panel.refusals import field_error
from ngcc112.panel.roles import AGENCY
from ngcc112.panel.session_sockets import sessions_changed
from ngcc112.panel.state import PANEL, USER
from ngcc112.tickets import agencies as agency_admin
from ngcc112.tickets import accounts as accounts_admin
from ngcc112.tickets.intake_form import N_
from ngcc112.tickets.models import User
from ngcc112.tickets.states import Role
from ngcc112.tickets.users import (
    MIN_PASSWORD,
    UserError,
    add_user,
)


async def create_account(request: web.Request, values: dict[str, str]) -> tuple[User | None, dict[str, str]]:
    """Add a user (and put an agency user in their agency); (user, {}) or (None, errors)."""
    sessions = request.app[PANEL].services.sessions
    codes = {a.code for a in await agency_admin.list_agencies(sessions)}
    errors = validate_new_user(values, codes)
    if errors:
        return None, errors
    try:
        user = await add_user(
            sessions,
            username=values["username"],
            role=values["role"],
            password=values["password"],
            display_name=values.get("display_name", "").strip(),
            interface=values.get("interface", "").strip() or None,
            agency=values.get("agency") or None,
        )
    except UserError as exc:
        return None, field_error(request, exc)
    return user, {}


async def change_account(request: web.Request, user_id: int, values: dict[str, Any]) -> dict[str, str]:
    """Apply the admin's changes to one account: role, interface, agency, active. Errors or {}.

    Role, interface and agency are checked together, as the account will be after the
    change (an agency user needs an agency, an operator an interface) — only when one of
    them changes, so disabling an account that predates the rule still works."""
    sessions = request.app[PANEL].services.sessions
    actor = request[USER]
    codes = {a.code for a in await agency_admin.list_agencies(sessions)}
    current = next((a for a in await accounts_admin.list_accounts(sessions, actor) if a.id == user_id), None)
    if current is None:
        return {"user": "Not found"}
    role = values.get("role", current.role)
    interface = values["interface"] if "interface" in values else (current.interface or "")
    agency = values["agency"] if "agency" in values else (current.agency_code or "")
    if role != AGENCY:
        agency = values.get("agency", "")
    wanted = {"role": role, "interface": interface, "agency": agency}
    if (role, interface or None, agency or None) != (current.role, current.interface, current.agency_code):
        errors = validate_user_change(wanted, codes)
        if errors:
            return errors
    try:
        if interface != (current.interface or "") and role == Role.OPERATOR.value:
            await accounts_admin.set_interface(sessions, actor, user_id, interface or None)
        if role != current.role:
            await accounts_admin.change_role(
                sessions, actor, user_id, role, agency_code=agency or None if role == AGENCY else None
            )
        if interface != (current.interface or "") and role != Role.OPERATOR.value:
            await accounts_admin.set_interface(sessions, actor, user_id, interface or None)
        if role == AGENCY and agency != (current.agency_code or "") and role == current.role:
            await accounts_admin.set_user_agency(sessions, actor, user_id, agency or None)
        if "active" in values:
            await accounts_admin.set_active(sessions, actor, user_id, bool(values["active"]))
    except UserError as exc:
        return field_error(request, exc)
    finally:
        if "role" in values or "active" in values:
            await sessions_changed(request)  # a disable or a new role ends the account's live channels
    return {}


async def reset_account_password(request: web.Request, user_id: int, password: str) -> dict[str, str]:
    """The admin gives another user a temporary password; their sessions end. Errors or {}."""
    if len(password) < MIN_PASSWORD:
        return {"password": N_("At least 8 characters")}
    try:
        await accounts_admin.reset_password(request.app[PANEL].services.sessions, request[USER], user_id, password)
    except UserError as exc:
        return field_error(request, exc)
    await sessions_changed(request)  # their live channels close with their sessions
    return {}
