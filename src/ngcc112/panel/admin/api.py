"""The admin's JSON API (see :mod:`ngcc112.panel.dispatch_openapi`): accounts and agencies. The
refusals are :mod:`ngcc112.panel.dispatch.answers`'."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ngcc112.panel.admin.accounts import change_account, create_account, reset_account_password
from ngcc112.panel.admin.validate import validate_agency
from ngcc112.panel.api import _invalid
from ngcc112.panel.api_models import admin
from ngcc112.panel.api_models.read import read_model
from ngcc112.panel.auth import require
from ngcc112.panel.bodies import BodyRefused
from ngcc112.panel.bodies import refusal as body_refusal
from ngcc112.panel.dispatch.answers import not_found
from ngcc112.panel.refusals import field_error
from ngcc112.panel.roles import ADMIN
from ngcc112.panel.state import PANEL, USER
from ngcc112.tickets import agencies as agency_admin
from ngcc112.tickets import accounts as accounts_admin

routes = web.RouteTableDef()


def _account(account: accounts_admin.Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "username": account.username,
        "display_name": account.display_name,
        "role": account.role,
        "interface": account.interface,
        "active": account.active,
        "agency": account.agency_code,
    }


def _agency(agency: Any) -> dict[str, Any]:
    return {"code": agency.code, "name": agency.name, "kind": agency.kind, "active": agency.active}


async def _accounts(request: web.Request) -> list[dict[str, Any]]:
    return [
        _account(a) for a in await accounts_admin.list_accounts(request.app[PANEL].services.sessions, request[USER])
    ]


@routes.get("/api/admin/users")
@require(ADMIN)
async def users(request: web.Request) -> web.Response:
    return web.json_response({"users": await _accounts(request)})


@routes.post("/api/admin/users")
@require(ADMIN)
async def users_add(request: web.Request) -> web.Response:
    try:
        new = await read_model(request, admin.NewAccount)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    values: dict[str, str] = new.model_dump()
    user, errors = await create_account(request, values)
    if errors or user is None:
        return await _invalid(request, errors, {**values, "password": ""})
    account = next(a for a in await _accounts(request) if a["id"] == user.id)
    return web.json_response({"user": account}, status=201)


@routes.post("/api/admin/users/{user_id:\\d+}")
@require(ADMIN)
async def users_change(request: web.Request) -> web.Response:
    """Change any of: role, interface (empty: none), agency (empty: none), active."""
    user_id = int(request.match_info["user_id"])
    try:
        change = await read_model(request, admin.AccountChange)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    values: dict[str, Any] = {}
    for key in ("role", "interface", "agency"):
        if key in change.model_fields_set:
            values[key] = (getattr(change, key) or "").strip()
    if "active" in change.model_fields_set:
        values["active"] = change.active
    if "agency" in values and "role" not in values:
        current = next((a for a in await _accounts(request) if a["id"] == user_id), None)
        if current is None:
            return await not_found(request)
        values["role"] = current["role"]
    errors = await change_account(request, user_id, values)
    if errors:
        if "user" in errors:
            return await not_found(request)
        return await _invalid(request, errors, values)
    account = next((a for a in await _accounts(request) if a["id"] == user_id), None)
    if account is None:
        return await not_found(request)
    return web.json_response({"user": account})


@routes.post("/api/admin/users/{user_id:\\d+}/password")
@require(ADMIN)
async def users_reset_password(request: web.Request) -> web.Response:
    """Give another user a temporary password; every session of theirs ends."""
    user_id = int(request.match_info["user_id"])
    try:
        password = (await read_model(request, admin.PasswordReset)).password
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    errors = await reset_account_password(request, user_id, password)
    if errors:
        if "user" in errors:
            return await not_found(request)
        return await _invalid(request, errors, {"password": ""})
    account = next((a for a in await _accounts(request) if a["id"] == user_id), None)
    if account is None:
        return await not_found(request)
    return web.json_response({"user": account})


@routes.get("/api/admin/agencies")
@require(ADMIN)
async def agencies(request: web.Request) -> web.Response:
    found = await agency_admin.list_agencies(request.app[PANEL].services.sessions)
    return web.json_response({"agencies": [_agency(a) for a in found]})


@routes.post("/api/admin/agencies")
@require(ADMIN)
async def agencies_add(request: web.Request) -> web.Response:
    try:
        new_agency = await read_model(request, admin.NewAgency)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    values = {key: value.strip() for key, value in new_agency.model_dump().items()}
    errors = validate_agency(values, new=True)
    if errors:
        return await _invalid(request, errors, values)
    try:
        agency = await agency_admin.create_agency(request.app[PANEL].services.sessions, request[USER], **values)
    except agency_admin.AgencyError as exc:
        return await _invalid(request, field_error(request, exc), values)
    return web.json_response({"agency": _agency(agency)}, status=201)


@routes.post("/api/admin/agencies/{code}")
@require(ADMIN)
async def agencies_change(request: web.Request) -> web.Response:
    """Change any of: name, kind, active (the code never changes)."""
    code = request.match_info["code"]
    try:
        change = await read_model(request, admin.AgencyChange)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    sessions = request.app[PANEL].services.sessions
    current = await agency_admin.get_agency(sessions, code)
    if current is None:
        return await not_found(request)
    sent = change.model_fields_set
    values = {key: (getattr(change, key) if key in sent else getattr(current, key)).strip() for key in ("name", "kind")}
    active = change.active if "active" in sent else current.active
    errors = validate_agency(values, new=False)
    if errors:
        return await _invalid(request, errors, {**values, "active": active})
    try:
        agency = await agency_admin.update_agency(
            sessions, request[USER], code, name=values["name"], kind=values["kind"], active=active
        )
    except agency_admin.AgencyError as exc:
        return await _invalid(request, field_error(request, exc), {**values, "active": active})
    return web.json_response({"agency": _agency(agency)})
