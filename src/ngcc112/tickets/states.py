"""Ticket states and the one table of allowed transitions, with who may make each.

Every state change anywhere goes through :func:`check_transition`; anything
not in :data:`TRANSITIONS` is refused with a reason a person can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    NEW = "new"  # the call arrived; nobody has answered yet
    IN_CALL = "in_call"  # an operator answered
    CLASSIFIED = "classified"  # the operator gave the verdict
    ESCALATED = "escalated"  # a normal call handed to the dispatchers
    DISPATCHED = "dispatched"  # forwarded to one or more agencies
    ON_SCENE = "on_scene"  # an agency reports being on scene
    REPORTED = "reported"  # the agencies reported their field handling
    CLOSED = "closed"  # Close Ticket


class Role(StrEnum):
    SYSTEM = "system"  # the daemon itself, from what Asterisk reports
    OPERATOR = "operator"
    DISPATCHER = "dispatcher"
    AGENCY = "agency"
    ADMIN = "admin"


class Verdict(StrEnum):
    NORMAL = "normal"
    GHOST = "ghost"
    PRANK = "prank"
    INFORMATION = "information"


@dataclass(frozen=True, slots=True)
class Transition:
    source: State
    target: State
    roles: frozenset[Role]
    name: str


def _t(source: State, target: State, name: str, *roles: Role) -> Transition:
    return Transition(source, target, frozenset(roles), name)


S, R = State, Role
#: The whole state machine. Ghost, prank and information calls go classified → closed.
#:
#: Who moves each: the call pipeline (store.py, calls.py) answers; the intake
#: (intake.py) classifies, escalates and closes classified calls; dispatch.py
#: dispatches, follows the agencies (on scene at the first agency on scene,
#: reported once every dispatch is finished and has its field report — the
#: agency's own user, or a dispatcher recording it on the agency's behalf) and
#: closes: from ``reported`` as Close Ticket, from ``escalated``, ``dispatched``
#: or ``on_scene`` only with an override reason, which is audited.
TRANSITIONS: tuple[Transition, ...] = (
    _t(S.NEW, S.IN_CALL, "answer", R.SYSTEM, R.OPERATOR),
    _t(S.NEW, S.CLASSIFIED, "classify", R.OPERATOR, R.DISPATCHER),  # abandoned / callback calls
    _t(S.IN_CALL, S.CLASSIFIED, "classify", R.OPERATOR, R.DISPATCHER),
    _t(S.CLASSIFIED, S.ESCALATED, "escalate", R.OPERATOR, R.DISPATCHER),
    _t(S.CLASSIFIED, S.CLOSED, "close", R.OPERATOR, R.DISPATCHER),
    _t(S.ESCALATED, S.DISPATCHED, "dispatch", R.DISPATCHER),
    _t(S.ESCALATED, S.CLOSED, "close", R.DISPATCHER),  # override reason required
    _t(S.DISPATCHED, S.ON_SCENE, "on_scene", R.AGENCY, R.DISPATCHER),
    _t(S.DISPATCHED, S.REPORTED, "report", R.AGENCY, R.DISPATCHER),
    _t(S.ON_SCENE, S.REPORTED, "report", R.AGENCY, R.DISPATCHER),
    _t(S.DISPATCHED, S.CLOSED, "close", R.DISPATCHER),  # override reason required
    _t(S.ON_SCENE, S.CLOSED, "close", R.DISPATCHER),  # override reason required
    _t(S.REPORTED, S.CLOSED, "close", R.DISPATCHER),
)

_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


class TransitionRefused(Exception):
    """A state change that the table does not allow, or not for this role."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_transition(source: State | str, target: State | str, role: Role | str) -> Transition:
    """The transition, or :class:`TransitionRefused` saying why not."""
    source, target, role = State(source), State(target), Role(role)
    transition = _BY_PAIR.get((source, target))
    if transition is None:
        allowed = sorted(t.target.value for t in TRANSITIONS if t.source == source)
        raise TransitionRefused(
            f"a ticket in state '{source}' cannot go to '{target}'"
            + (f"; it can go to: {', '.join(allowed)}" if allowed else "; it is final")
        )
    if role not in transition.roles:
        who = ", ".join(sorted(r.value for r in transition.roles))
        raise TransitionRefused(f"'{transition.name}' ({source} → {target}) is for: {who}; not for {role}")
    return transition


def allowed_targets(source: State | str, role: Role | str) -> list[State]:
    source, role = State(source), Role(role)
    return [t.target for t in TRANSITIONS if t.source == source and role in t.roles]
