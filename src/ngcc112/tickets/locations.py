"""Use cases for where a caller is: SIP fixes, the operator's own, acceptance, and the
choice of the position a ticket shows.

Every change is one transaction that writes the fix rows and an audit row
together, then a :class:`~ngcc112.tickets.store.TicketChanged` is published
so the panel can refresh the ticket. An automatic fix (SIP, AML) never
silently replaces a position an operator accepted: the decision is
:func:`ngcc112.location.matching.decide_fix` / ``accept_candidate``.

AML messages are :mod:`ngcc112.tickets.aml_locations`' (stored, parsed, matched to a
call); their fixes are placed here, by :meth:`Locations.decide`, in its transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, cast

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.location.fix import FixSource, InvalidFix, LocationFix
from ngcc112.location.matching import accept_candidate, decide_fix
from ngcc112.location.numbers import canonical_number
from ngcc112.location.sip import parse_sip_geolocation
from ngcc112.location.trust import TRUSTED, FixTrust
from ngcc112.tickets.location_models import LocationFixRow
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.store import TicketChanged, jsonable

log = structlog.get_logger(__name__)

#: The actor written in the audit trail for SIP fixes.
SIP_ACTOR = "asterisk"
#: The most bytes of one AML request body stored (the parser reads at most
#: :data:`~ngcc112.location.aml.MAX_AML_BYTES`; more is kept for the audit trail),
#: and of the text a fix was parsed from.
MAX_STORED_BYTES = 64 * 1024
#: An address typed by an operator is cut at this length.
MAX_ADDRESS_CHARS = 500


class LocationError(ValueError):
    """A location request cannot be done as asked; the message says why."""


def number_variants(number: str) -> tuple[str, ...]:
    """The spellings a number may be stored in on a ticket (``+62…``, ``62…``, ``0…``).

    Caller IDs are stored as Asterisk reported them; this lets one query find
    every ticket of a canonical number. Empty when there is no usable number.
    """
    canonical = canonical_number(number)
    if not canonical:
        return ()
    variants = {canonical, number.strip()}
    if canonical.startswith("+"):
        digits = canonical[1:]
        variants |= {digits, "00" + digits}
        if digits.startswith("62"):
            variants.add("0" + digits[2:])
    return tuple(sorted(v for v in variants if v))


@dataclass(frozen=True, slots=True)
class FixView:
    """One stored fix as the panel shows it."""

    id: int
    ticket_id: int
    fix: LocationFix
    address: str | None
    accepted: bool
    accepted_by: str | None
    accepted_at: datetime | None
    superseded: bool
    created_by: str
    aml_message_id: int | None

    @property
    def candidate(self) -> bool:
        """An automatic fix waiting for the operator's one click."""
        return not self.accepted and not self.superseded


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _to_fix(row: LocationFixRow) -> LocationFix:
    return LocationFix(
        source=cast(FixSource, row.source),
        latitude=row.latitude,
        longitude=row.longitude,
        time=row.time,
        radius_m=row.radius_m,
        confidence_pct=row.confidence_pct,
        method=row.method,
        raw=row.raw or "",
    )


def _view(row: LocationFixRow) -> FixView:
    return FixView(
        id=row.id,
        ticket_id=row.ticket_id,
        fix=_to_fix(row),
        address=row.address,
        accepted=row.accepted,
        accepted_by=row.accepted_by,
        accepted_at=row.accepted_at,
        superseded=row.superseded_at is not None,
        created_by=row.created_by,
        aml_message_id=row.aml_message_id,
    )


def _fix_summary(fix: LocationFix) -> dict[str, Any]:
    return {
        "source": fix.source,
        "latitude": fix.latitude,
        "longitude": fix.longitude,
        "radius_m": fix.radius_m,
        "confidence_pct": fix.confidence_pct,
        "method": fix.method,
        "time": fix.time,
    }


class Locations:
    """Location use cases over one database.

    ``publish`` is told of every committed change; ``clock`` is the time fixes are
    stamped with. Both, and ``sessions``, are shared with the AML use cases that hold
    this object (:class:`~ngcc112.tickets.aml_locations.AmlLocations`).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publish: Callable[[TicketChanged], None] | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.sessions = sessions
        self.publish: Callable[[TicketChanged], None] = publish or (lambda change: None)
        self._clock = clock or _now

    def now(self) -> datetime:
        """This clock's time (what fixes and received AML messages are stamped with)."""
        return self._clock()

    # -- reads ------------------------------------------------------------------

    async def fixes_for(self, ticket_id: int) -> list[FixView]:
        """Every fix of the ticket, oldest first; ``accepted`` marks the one shown."""
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(LocationFixRow).where(LocationFixRow.ticket_id == ticket_id).order_by(LocationFixRow.id)
                )
            ).all()
        return [_view(row) for row in rows]

    async def accepted_fix(self, ticket_id: int) -> FixView | None:
        return next((view for view in await self.fixes_for(ticket_id) if view.accepted), None)

    # -- SIP --------------------------------------------------------------------

    async def record_sip_fix(
        self, ticket_id: int, variables: Mapping[str, str], at: datetime | None = None
    ) -> FixView | None:
        """The position from the dialplan's ``NGCC_GEO_*`` variables, if they hold one.

        ``at`` is when the variables were seen (now by default). Returns the
        stored fix, or None when there is no readable position or the same
        report is already there.
        """
        fix = parse_sip_geolocation(variables, at or self._clock())
        if fix is None:
            geo = {k: v for k, v in variables.items() if str(k).startswith("NGCC_GEO_")}
            if any(str(v).strip() for v in geo.values()):
                log.warning(
                    "location.sip_unreadable", ticket_id=ticket_id, variables={k: str(v)[:200] for k, v in geo.items()}
                )
            return None
        return await self._add(ticket_id, fix, actor=SIP_ACTOR)  # the carrier's: trusted

    # -- manual -----------------------------------------------------------------

    async def add_manual_fix(
        self, ticket_id: int, lat: float, lon: float, address: str | None, actor: str, *, radius_m: float | None = None
    ) -> FixView:
        """The operator's own position: it becomes the accepted one at once."""
        if not actor:
            raise LocationError("actor: who sets the position must be known")
        try:
            fix = LocationFix(
                source="manual", latitude=lat, longitude=lon, time=self._clock(), radius_m=radius_m, method="operator"
            )
        except InvalidFix as exc:
            raise LocationError(str(exc)) from None
        text = (address or "").strip()[:MAX_ADDRESS_CHARS] or None
        view = await self._add(ticket_id, fix, actor=actor, address=text)
        if view is None:  # the same position again: nothing new to store
            current = await self.accepted_fix(ticket_id)
            if current is None:
                raise LocationError(f"ticket {ticket_id}: the position could not be stored")
            return current
        return view

    # -- one click --------------------------------------------------------------

    async def accept_fix(self, fix_id: int, actor: str) -> FixView:
        """The operator accepts a candidate fix; the one it replaces stays a candidate."""
        if not actor:
            raise LocationError("actor: who accepts the position must be known")
        async with self.sessions.begin() as session:
            chosen = await session.get(LocationFixRow, fix_id)
            if chosen is None:
                raise LocationError(f"no location fix {fix_id}")
            ticket = await session.get(Ticket, chosen.ticket_id)
            rows = await self._rows(session, chosen.ticket_id)
            if chosen.accepted:
                return _view(chosen)
            if chosen.superseded_at is not None:
                raise LocationError(f"fix {fix_id} was replaced by a later manual position")
            accepted_row = next((r for r in rows if r.accepted), None)
            candidates = [r for r in rows if not r.accepted and r.superseded_at is None]
            decision = accept_candidate(
                None if accepted_row is None else _to_fix(accepted_row),
                [_to_fix(r) for r in candidates],
                _to_fix(chosen),
            )
            if decision.outcome != "accepted":
                raise LocationError(f"fix {fix_id} is not a candidate of ticket {chosen.ticket_id}")
            now = self._clock()
            self._apply(rows, chosen, actor, now)
            change = audit(
                session, ticket, actor, "location_accepted", now, {"fix_id": chosen.id, **_fix_summary(_to_fix(chosen))}
            )
        log.info("location.accepted", ticket_id=chosen.ticket_id, fix_id=fix_id, actor=actor)
        if change is not None:
            self.publish(change)
        return _view(chosen)

    # -- placing a fix (the AML use cases place theirs here too) -----------------

    async def decide(
        self,
        session: AsyncSession,
        ticket: Ticket,
        fix: LocationFix,
        actor: str,
        *,
        trust: FixTrust,
        address: str | None = None,
        aml_message_id: int | None = None,
    ) -> tuple[LocationFixRow | None, str, TicketChanged | None]:
        """Place ``fix`` among the ticket's fixes in the caller's transaction ``session``.

        Returns its new row (None for a duplicate), the outcome
        (``accepted``, ``candidate``, ``duplicate``) and the change to publish once the
        transaction is committed. ``trust``: why an automatic fix is not to be
        accepted on its own (:data:`~ngcc112.location.trust.TRUSTED` when it may be).
        """
        rows = await self._rows(session, ticket.id)
        accepted_row = next((r for r in rows if r.accepted), None)
        candidates = [r for r in rows if not r.accepted and r.superseded_at is None]
        decision = decide_fix(
            None if accepted_row is None else _to_fix(accepted_row), [_to_fix(r) for r in candidates], fix, trust=trust
        )
        if decision.outcome == "duplicate":
            return None, "duplicate", None
        now = self._clock()
        row = LocationFixRow(
            ticket_id=ticket.id,
            source=fix.source,
            latitude=fix.latitude,
            longitude=fix.longitude,
            radius_m=fix.radius_m,
            confidence_pct=fix.confidence_pct,
            method=(fix.method or None) and fix.method[:40],
            address=address,
            time=fix.time,
            raw=clean_text(fix.raw, MAX_STORED_BYTES),
            aml_message_id=aml_message_id,
            accepted=False,
            created_by=actor,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        if decision.outcome == "accepted":
            self._apply([*rows, row], row, actor, now)
        action = "location_fix" if decision.outcome == "candidate" else "location_accepted"
        details: dict[str, Any] = {
            "fix_id": row.id,
            "outcome": decision.outcome,
            "address": address,
            **_fix_summary(fix),
        }
        if trust.doubts:  # why it waits for an operator, on the ticket's record
            details["doubts"] = [{"code": d.code, "text": d.text} for d in trust.doubts]
        change = audit(session, ticket, actor, action, now, details)
        return row, decision.outcome, change

    # -- internals --------------------------------------------------------------

    async def _add(self, ticket_id: int, fix: LocationFix, *, actor: str, address: str | None = None) -> FixView | None:
        async with self.sessions.begin() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                raise LocationError(f"no ticket {ticket_id}")
            row, outcome, change = await self.decide(session, ticket, fix, actor, address=address, trust=TRUSTED)
        log.info("location.fix", ticket_id=ticket_id, source=fix.source, outcome=outcome, actor=actor)
        if change is not None:
            self.publish(change)
        return None if row is None else _view(row)

    @staticmethod
    async def _rows(session: AsyncSession, ticket_id: int) -> list[LocationFixRow]:
        return list(
            (
                await session.scalars(
                    select(LocationFixRow).where(LocationFixRow.ticket_id == ticket_id).order_by(LocationFixRow.id)
                )
            ).all()
        )

    @staticmethod
    def _apply(rows: Iterable[LocationFixRow], target: LocationFixRow, actor: str, now: datetime) -> None:
        """``target`` becomes the accepted fix. The one it replaces goes back among the
        candidates when automatic; an operator's own earlier position is kept but
        marked superseded (as :mod:`ngcc112.location.matching` decides)."""
        for row in rows:
            if row is target:
                row.accepted, row.accepted_by, row.accepted_at = True, actor, now
                row.superseded_at = None
            elif row.accepted:
                row.accepted = False
                if row.source == "manual":
                    row.superseded_at = now


def audit(
    session: AsyncSession,
    ticket: Ticket | None,
    actor: str,
    action: str,
    at: datetime,
    changes: dict[str, Any],
) -> TicketChanged | None:
    """Add the audit row of a location change to ``session``; the change to publish once
    committed (None, and nothing written, without a ticket)."""
    if ticket is None:
        return None
    session.add(
        AuditEntry(
            ticket_id=ticket.id,
            at=at,
            actor=actor,
            action=action,
            from_state=ticket.state,
            to_state=ticket.state,
            changes=jsonable(changes),
        )
    )
    return TicketChanged(
        ticket_id=ticket.id,
        linkedid=ticket.linkedid,
        action=action,
        at=at,
        state=ticket.state,
        changes=jsonable(changes),
    )


def clean_text(text: str, limit: int) -> str:
    """Text a database column can hold: no NUL (PostgreSQL refuses it), cut at ``limit``."""
    return (text or "").replace("\x00", "\ufffd")[:limit]
