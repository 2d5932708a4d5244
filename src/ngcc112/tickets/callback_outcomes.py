"""How a callback went: who may call back, the outcomes, recording one, and the callback trail.

The person who called an abandoned caller back records how it went
(:func:`record_outcome`): ``reached``, ``no_answer`` (it may be tried again) or
``dismissed``; audited as ``callback_outcome``. After ``reached`` or ``dismissed``
the ticket takes no further callback (:class:`~ngcc112.tickets.callbacks.Callbacks`
asks :func:`last_outcome`); after ``no_answer`` or ``dismissed`` the intake is released.
:func:`callback_history` reads the attempts, results and outcomes back for the panel.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.models import AuditEntry, Ticket, User, utcnow
from ngcc112.tickets.states import Role
from ngcc112.tickets.store import TicketChanged, jsonable

log = structlog.get_logger(__name__)

Publish = Callable[[TicketChanged], None]
Clock = Callable[[], datetime]

#: Roles that may call a caller back (they have a softphone).
CALLBACK_ROLES = frozenset({Role.OPERATOR.value, Role.DISPATCHER.value})
#: How a callback went, as the person who made it records it.
OUTCOMES = ("reached", "no_answer", "dismissed")
#: Outcomes that close the loop: no further callback on the ticket.
FINAL_OUTCOMES = frozenset({"reached", "dismissed"})


class OutcomeRefused(Exception):
    """The outcome cannot be recorded; ``status`` is the HTTP answer, ``field`` the culprit (or None)."""

    def __init__(
        self, status: int, reason: str, code: str, *, msgid: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code
        self.msgid = msgid
        self.field = field


async def last_outcome(sessions: async_sessionmaker[AsyncSession], ticket_id: int) -> str | None:
    """The latest recorded outcome of the callbacks on a ticket, or None."""
    async with sessions() as session:
        row = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.ticket_id == ticket_id, AuditEntry.action == "callback_outcome")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    return None if row is None else (row.changes or {}).get("outcome")


async def record_outcome(
    sessions: async_sessionmaker[AsyncSession],
    publish: Publish | None,
    ticket_id: int,
    actor: User,
    outcome: str,
    *,
    clock: Clock = utcnow,
) -> TicketChanged:
    """Record how calling back an abandoned caller went: ``reached``, ``no_answer`` or ``dismissed``.

    For operators and dispatchers (active accounts), on an abandoned call nobody answered;
    audited as ``callback_outcome`` in one transaction with the checks. ``no_answer`` may be
    followed by another callback and another outcome; after ``reached`` or ``dismissed``
    the loop is closed: a further outcome is refused (409), and so is a further callback.
    """
    if outcome not in OUTCOMES:
        raise OutcomeRefused(
            422,
            f"choose one of {', '.join(OUTCOMES)}",
            "outcome",
            msgid="Choose an outcome from the list",
            field="outcome",
        )
    at = clock()
    async with sessions.begin() as session:
        current = await session.get(User, actor.id, populate_existing=True)
        if current is None or not current.active:
            raise OutcomeRefused(403, f"the account {actor.username!r} is not active", "role")
        if current.role not in CALLBACK_ROLES:
            raise OutcomeRefused(403, f"callbacks are for operators and dispatchers; not for {current.role}", "role")
        # the write first: the ticket's row lock (PostgreSQL) / the write lock (SQLite) before reading
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(updated_at=at)
            .execution_options(synchronize_session=False)
        )
        ticket = await session.get(Ticket, ticket_id, populate_existing=True)
        if ticket is None:
            raise OutcomeRefused(404, f"there is no ticket #{ticket_id}", "not_found")
        if not ticket.abandoned or ticket.answered_at is not None:
            raise OutcomeRefused(
                409,
                f"ticket #{ticket_id} is not an abandoned call",
                "state",
                msgid="This call was not abandoned: there is no callback to record",
            )
        previous = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.ticket_id == ticket_id, AuditEntry.action == "callback_outcome")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
        before = None if previous is None else (previous.changes or {}).get("outcome")
        if before in FINAL_OUTCOMES:
            raise OutcomeRefused(
                409,
                f"ticket #{ticket_id} was already recorded as {before}",
                "outcome",
                msgid="The outcome of this callback is already recorded",
            )
        changes = jsonable({"outcome": outcome, **({"previous": before} if before else {})})
        if outcome != "reached" and ticket.operator_interface is not None:
            # nobody was reached: the intake is nobody's until a callback is answered again
            changes["intake_released"] = ticket.operator_interface
            ticket.operator_interface = None
        session.add(
            AuditEntry(
                ticket_id=ticket_id,
                at=at,
                actor=current.username,
                action="callback_outcome",
                from_state=ticket.state,
                to_state=ticket.state,
                changes=changes,
            )
        )
        change = TicketChanged(
            ticket_id=ticket_id,
            linkedid=ticket.linkedid,
            action="callback_outcome",
            at=at,
            state=ticket.state,
            changes=changes,
        )
    log.info("callback.outcome", ticket_id=ticket_id, outcome=outcome, actor=current.username)
    if publish is not None:
        publish(change)
    return change


async def callback_history(
    sessions: async_sessionmaker[AsyncSession], ticket_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    """The callback audit rows (attempts, results and recorded outcomes) per ticket, oldest first."""
    if not ticket_ids:
        return {}
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.ticket_id.in_(ticket_ids),
                    AuditEntry.action.in_(("callback", "callback_result", "callback_outcome")),
                )
                .order_by(AuditEntry.id)
            )
        ).all()
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.ticket_id, []).append(
            jsonable({"at": row.at, "actor": row.actor, "action": row.action, **(row.changes or {})})
        )
    return out
