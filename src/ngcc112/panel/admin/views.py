"""``/admin/users`` and ``/admin/agencies``: the lists and their forms (post/redirect/get; a refused
form comes back with its errors, never with a password)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ngcc112.panel.admin.accounts import change_account, create_account, reset_account_password
from ngcc112.panel.admin.validate import validate_agency
from ngcc112.panel.auth import error_response, require
from ngcc112.panel.form_memory import recall, remember
from ngcc112.panel.forms import translate_errors
from ngcc112.panel.pages import page_values
from ngcc112.panel.refusals import field_error
from ngcc112.panel.rendering import flash, render, render_error
from ngcc112.panel.roles import ADMIN
from ngcc112.panel.state import GETTEXT, PANEL, USER
from ngcc112.tickets import agencies as agency_admin
from ngcc112.tickets import accounts as accounts_admin
from ngcc112.tickets.users import (
    USER_ROLES,
)

routes = web.RouteTableDef()


def refuse_admin_form(
    request: web.Request, page: str, form: str, errors: dict[str, str], values: dict[str, Any] | None = None
) -> web.HTTPSeeOther:
    """A refused admin form: remembered (never a password) and answered 303 to its page."""
    remember(
        request,
        page,
        {"form": form, **{k: str(v) for k, v in (values or {}).items()}},
        translate_errors(request, errors),
    )
    return web.HTTPSeeOther(page)


def recalled_form(request: web.Request, page: str) -> tuple[str | None, dict[str, str], dict[str, str]]:
    """(the refused form's name, its errors, its values) after the redirect; (None, {}, {}) else."""
    refused = recall(request, page)
    if refused is None:
        return None, {}, {}
    values = dict(refused.values)
    return values.pop("form", None), dict(refused.errors), values


async def users_page(request: web.Request) -> web.Response:
    sessions = request.app[PANEL].services.sessions
    accounts = await accounts_admin.list_accounts(sessions, request[USER])
    agencies = await agency_admin.list_agencies(sessions)
    form, errors, values = recalled_form(request, "/admin/users")
    return await render(
        request,
        "dispatch/admin_users.html",
        page_values(
            request,
            accounts=accounts,
            agencies=agencies,
            roles=USER_ROLES,
            form=form,
            errors=errors,
            values=values,
            flash=await flash(request),
        ),
    )


async def agencies_page(request: web.Request) -> web.Response:
    agencies = await agency_admin.list_agencies(request.app[PANEL].services.sessions)
    form, errors, values = recalled_form(request, "/admin/agencies")
    return await render(
        request,
        "dispatch/admin_agencies.html",
        page_values(
            request,
            agencies=agencies,
            kinds=agency_admin.AGENCY_KINDS,
            form=form,
            errors=errors,
            values=values,
            flash=await flash(request),
        ),
    )


@routes.get("/admin/users", name="admin_users")
@require(ADMIN)
async def users_get(request: web.Request) -> web.StreamResponse:
    return await users_page(request)


@routes.post("/admin/users")
@require(ADMIN)
async def users_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {
        key: str(form.get(key, "")) for key in ("username", "display_name", "role", "password", "interface", "agency")
    }
    _user, errors = await create_account(request, values)
    if errors:
        raise refuse_admin_form(request, "/admin/users", "new", errors, {**values, "password": ""})
    await flash(request, "User added")
    raise web.HTTPSeeOther("/admin/users")


@routes.post("/admin/users/{user_id:\\d+}")
@require(ADMIN)
async def users_change(request: web.Request) -> web.StreamResponse:
    user_id = int(request.match_info["user_id"])
    form = await request.post()
    values: dict[str, Any] = {key: str(form.get(key, "")).strip() for key in ("role", "interface", "agency")}
    values["active"] = form.get("active") == "on"
    errors = await change_account(request, user_id, values)
    if errors:
        raise refuse_admin_form(request, "/admin/users", f"user-{user_id}", errors, values)
    await flash(request, "User updated")
    raise web.HTTPSeeOther("/admin/users")


@routes.post("/admin/users/{user_id:\\d+}/password")
@require(ADMIN)
async def users_reset_password(request: web.Request) -> web.StreamResponse:
    user_id = int(request.match_info["user_id"])
    form = await request.post()
    errors = await reset_account_password(request, user_id, str(form.get("password", "")))
    if errors:
        if "user" in errors:
            return await error_response(request, 404, "Not found", code="not_found")
        raise refuse_admin_form(request, "/admin/users", f"password-{user_id}", errors)
    await flash(request, "Password reset; the user's sessions have ended")
    raise web.HTTPSeeOther("/admin/users")


@routes.get("/admin/agencies", name="admin_agencies")
@require(ADMIN)
async def agencies_get(request: web.Request) -> web.StreamResponse:
    return await agencies_page(request)


@routes.post("/admin/agencies")
@require(ADMIN)
async def agencies_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {key: str(form.get(key, "")).strip() for key in ("code", "name", "kind")}
    errors = validate_agency(values, new=True)
    if not errors:
        try:
            await agency_admin.create_agency(request.app[PANEL].services.sessions, request[USER], **values)
        except agency_admin.AgencyError as exc:
            errors = field_error(request, exc)
    if errors:
        raise refuse_admin_form(request, "/admin/agencies", "new", errors, values)
    await flash(request, "Agency added")
    raise web.HTTPSeeOther("/admin/agencies")


@routes.post("/admin/agencies/{code}")
@require(ADMIN)
async def agencies_change(request: web.Request) -> web.StreamResponse:
    code = request.match_info["code"]
    form = await request.post()
    values = {key: str(form.get(key, "")).strip() for key in ("name", "kind")}
    active = form.get("active") == "on"
    errors = validate_agency(values, new=False)
    if not errors:
        try:
            await agency_admin.update_agency(
                request.app[PANEL].services.sessions,
                request[USER],
                code,
                name=values["name"],
                kind=values["kind"],
                active=active,
            )
        except agency_admin.AgencyError as exc:
            if exc.field == "code":
                return await render_error(request, 404, request[GETTEXT]("Not found"))
            errors = field_error(request, exc)
    if errors:
        raise refuse_admin_form(
            request, "/admin/agencies", f"agency-{code}", errors, {**values, "active": "on" if active else ""}
        )
    await flash(request, "Agency updated")
    raise web.HTTPSeeOther("/admin/agencies")
