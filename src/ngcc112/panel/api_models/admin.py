"""Accounts and agencies: the models of the administrator's API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

from pydantic import Field

from ngcc112.panel.api_models.fields import Answer, Body, Storable, checked_later, unsent
from ngcc112.tickets.agencies import AGENCY_CODE_PATTERN, AGENCY_KINDS
from ngcc112.tickets.intake_form import N_
from ngcc112.tickets.users import MIN_PASSWORD, USER_ROLES

if TYPE_CHECKING:  # the names below, as text (a Literal built from the tuples is for pydantic)
    RoleName: TypeAlias = str
    KindName: TypeAlias = str
else:
    RoleName = Literal[USER_ROLES]
    KindName = Literal[AGENCY_KINDS]
TOO_SHORT = N_("At least 8 characters")


# -- requests ------------------------------------------------------------------------------


class NewAccount(Body):
    """An agency user needs ``agency``, an operator ``interface``."""

    messages = {
        "username": N_("2-40 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter"),
        "role": N_("Choose a role from the list"),
        "password": TOO_SHORT,
    }
    secret = frozenset({"password"})

    username: Storable
    display_name: Storable = ""
    role: Storable = checked_later(enum=list(USER_ROLES))
    password: Storable = checked_later(minLength=MIN_PASSWORD)
    interface: Storable = Field(default="", description="e.g. PJSIP/op1; empty: none")
    agency: Storable = Field(default="", description="Agency code (agency users)")


class AccountChange(Body):
    """Any subset of role, interface (empty: none), agency (empty: none) and active."""

    messages = {"role": N_("Choose a role from the list")}

    role: Storable | None = checked_later(None, enum=[*USER_ROLES, None])
    interface: Storable | None = None
    agency: Storable | None = None
    active: bool = unsent(False, strict=True)


class PasswordReset(Body):
    messages = {"password": TOO_SHORT}
    secret = frozenset({"password"})

    password: Storable = Field(min_length=MIN_PASSWORD)


class NewAgency(Body):
    messages = {
        "code": N_("2-32 characters: lower-case letters, digits, '_' or '-', starting with a letter"),
        "name": N_("Enter a name"),
        "kind": N_("Choose OPD or Instansi"),
    }

    code: Storable = checked_later(pattern=f"^{AGENCY_CODE_PATTERN.pattern}$")
    name: Storable
    kind: Storable = checked_later(enum=list(AGENCY_KINDS))


class AgencyChange(Body):
    """Any subset of name, kind and active; the code never changes."""

    messages = {"kind": N_("Choose OPD or Instansi")}

    name: Storable = unsent("")
    kind: Storable = unsent("", enum=list(AGENCY_KINDS))
    active: bool = unsent(True, strict=True)


# -- answers -------------------------------------------------------------------------------


class Account(Answer):
    id: int
    username: str
    display_name: str
    role: RoleName
    interface: str | None
    active: bool
    agency: str | None


class AccountAnswer(Answer):
    user: Account


class AccountList(Answer):
    users: list[Account]


class Agency(Answer):
    code: str
    name: str
    kind: KindName
    active: bool


class AgencyAnswer(Answer):
    agency: Agency


class AgencyList(Answer):
    agencies: list[Agency]
