"""Session, language, presence and health: the models of the operator's own side of the API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ngcc112.panel.api_models.fields import Answer, Body, Storable, checked_later
from ngcc112.panel.api_models.tickets import Ticket
from ngcc112.routing.presence import BREAK_REASONS
from ngcc112.tickets.intake_form import N_
from ngcc112.tickets.users import MAX_PASSWORD, MIN_PASSWORD

Role = Literal["operator", "dispatcher", "agency", "admin"]
PresenceName = Literal["ready", "break", "logged_out"]


# -- requests ------------------------------------------------------------------------------


class Login(Body):
    messages = {"username": N_("Enter your username"), "password": N_("Enter your password")}
    secret = frozenset({"password"})

    username: Storable
    password: Storable


class LanguageChoice(Body):
    messages = {"language": N_("Choose a language from the list")}

    language: Literal["id", "en"]


class PresenceChange(Body):
    messages = {
        "presence": N_("Choose ready, break or logged out"),
        "reason": N_("Choose a break reason from the list"),
    }

    presence: PresenceName
    reason: Storable = Field(
        default="", description="Read only with break, and then one of: " + ", ".join(BREAK_REASONS)
    )


class PasswordChange(Body):
    """My own new password; the current one proves it is me and not someone at an unlocked desk."""

    messages = {
        "current_password": N_("Enter your current password"),
        "new_password": N_("Enter a new password"),
    }
    secret = frozenset({"current_password", "new_password"})

    current_password: Storable
    new_password: Storable = checked_later(minLength=MIN_PASSWORD, maxLength=MAX_PASSWORD)


# -- answers -------------------------------------------------------------------------------


class User(Answer):
    id: int
    username: str
    display_name: str
    role: Role
    interface: str | None


class Session(Answer):
    user: User | None
    csrf_token: str
    language: str


class PasswordChanged(Answer):
    message: str
    csrf_token: str = Field(description="This session's new CSRF token (every other session of mine ended)")


class LanguageSet(Answer):
    language: str


class Presence(Answer):
    interface: str
    member_name: str
    presence: PresenceName
    label: str
    pause_reason: str
    device_status: int | None
    at: str


class PresenceAnswer(Answer):
    presence: Presence | None = Field(description="What Asterisk now reports")


class PresenceBoard(Answer):
    queue: str
    synced: bool
    members: list[Presence]


class Call(Answer):
    call_id: str
    phase: Literal["ringing", "connected"]
    since: str
    ended: bool
    caller_number: str | None
    caller_name: str | None
    ticket: Ticket | None


class PendingCall(Answer):
    id: int
    caller_number: str | None
    caller_name: str | None
    answered_at: str | None
    ended: bool
    drafted: bool


class Desk(Answer):
    ringing: Call | None
    active: Call | None
    live: Call | None = Field(
        description="The call the operator is on when another ticket's form is on screen (?ticket=); "
        "the page shows it in its call bar"
    )
    followup: Call | None = Field(
        description="The call still on the line after its ticket went to the dispatchers "
        "(notes: POST /tickets/{id}/note)"
    )
    pending: list[PendingCall] = Field(
        description="Calls this operator answered whose intake is not submitted yet, newest first"
    )


class MyState(Answer):
    user: User
    presence: Presence | None
    desk: Desk | None
    ami_connected: bool
    server_time: str


class Health(Answer):
    status: Literal["ok", "degraded"]
    ami: dict[str, Any]
    database: dict[str, Any]
    live_calls: int
    websocket_clients: int


class MetricsRefused(Answer):
    promised = ("error",)

    error: str
