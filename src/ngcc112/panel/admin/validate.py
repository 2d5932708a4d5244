"""The admin forms' checks (pure): a new user, a change to one, an agency. Errors are msgids by field."""

from __future__ import annotations

from ngcc112.panel.roles import AGENCY
from ngcc112.tickets import agencies as agency_admin
from ngcc112.tickets.intake_form import N_
from ngcc112.tickets.users import (
    INTERFACE_PATTERN,
    MIN_PASSWORD,
    USER_ROLES,
    USERNAME_PATTERN,
    UserError,
    check_account_links,
)


def validate_new_user(values: dict[str, str], agency_codes: set[str]) -> dict[str, str]:
    errors = {}
    if not USERNAME_PATTERN.fullmatch(values["username"]):
        errors["username"] = N_("2-40 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter")
    if len(values["password"]) < MIN_PASSWORD:
        errors["password"] = N_("At least 8 characters")
    errors.update(validate_user_change(values, agency_codes))
    if len(values.get("display_name", "")) > 160 or any(c in values.get("display_name", "") for c in "\r\n\x00"):
        errors["display_name"] = N_("Too long")
    return errors


def validate_user_change(values: dict[str, str], agency_codes: set[str]) -> dict[str, str]:
    errors = {}
    if values.get("role") not in USER_ROLES:
        errors["role"] = N_("Choose a role from the list")
    interface = values.get("interface", "").strip()
    if interface and not INTERFACE_PATTERN.fullmatch(interface):
        errors["interface"] = N_("A softphone interface like PJSIP/op1, or empty")
    agency = values.get("agency", "")
    if agency and (agency not in agency_codes or values.get("role") != AGENCY):
        errors["agency"] = N_("Choose an agency from the list")
    try:
        check_account_links(values.get("role", ""), interface or None, agency or None)
    except UserError as exc:
        errors.setdefault(exc.field, exc.msgid or exc.message)
    return errors


def validate_agency(values: dict[str, str], *, new: bool) -> dict[str, str]:
    errors = {}
    if new and not agency_admin.AGENCY_CODE_PATTERN.fullmatch(values.get("code", "")):
        errors["code"] = N_("2-32 characters: lower-case letters, digits, '_' or '-', starting with a letter")
    name = values.get("name", "").strip()
    if not name:
        errors["name"] = N_("Enter a name")
    elif len(name) > agency_admin.MAX_AGENCY_NAME or any(c in name for c in "\r\n\x00"):
        errors["name"] = N_("Too long")
    if values.get("kind") not in agency_admin.AGENCY_KINDS:
        errors["kind"] = N_("Choose OPD or Instansi")
    return errors
