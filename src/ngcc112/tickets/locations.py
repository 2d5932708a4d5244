"""Use cases for where a caller is: SIP and AML fixes, the operator's own, acceptance.

Every change is one transaction that writes the fix rows and an audit row
together, then a :class:`~ngcc112.tickets.store.TicketChanged` is published
so the panel can refresh the ticket. An automatic fix (SIP, AML) never
silently replaces a position an operator accepted: the decision is
:func:`ngcc112.location.matching.decide_fix` / ``accept_candidate``.

An AML message is stored *before* it is parsed: whatever arrives, the raw
bytes are in ``aml_messages`` first. A message from a refused sender stays
just that, evidence: never parsed, never matched. Any other is matched by
number and time to the ticket of a live or recent call; a message that matches
nothing is kept and matched again when a call from that number arrives
(:meth:`Locations.attach_pending_aml`). Its fix becomes the ticket's position
on its own only when the ticket has none yet, the sender authenticated and the
fix is plausible (:func:`ngcc112.location.trust.aml_trust`); otherwise it
waits as a candidate and the audit entry says why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, cast

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.location.aml import AmlMessage, parse_aml_http, parse_aml_sms
from ngcc112.location.fix import FixSource, InvalidFix, LocationFix
from ngcc112.location.matching import (
    WINDOW_AFTER,
    WINDOW_BEFORE,
    CallRef,
    accept_candidate,
    decide_fix,
    match_call,
)
from ngcc112.location.numbers import canonical_number
from ngcc112.location.sip import parse_sip_geolocation
from ngcc112.location.trust import TRUSTED, FixLimits, FixTrust, aml_trust
from ngcc112.settings import Settings
from ngcc112.tickets.location_models import AmlMessageRow, LocationFixRow
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.store import TicketChanged, jsonable

log = structlog.get_logger(__name__)

#: Actors written in the audit trail for automatic fixes.
SIP_ACTOR = "asterisk"
AML_ACTOR = "aml"
#: The most bytes of one AML request body stored (the parser reads at most
#: :data:`~ngcc112.location.aml.MAX_AML_BYTES`; more is kept for the audit trail).
MAX_STORED_BYTES = 64 * 1024
#: An address typed by an operator is cut at this length.
MAX_ADDRESS_CHARS = 500


_SMS_START = re.compile(rb'\s*A"?ML=')


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


@dataclass(frozen=True, slots=True)
class AmlReceipt:
    """What became of one received AML message."""

    message_id: int
    message: AmlMessage
    ticket_id: int | None
    fix_id: int | None
    outcome: str  # "accepted", "candidate", "duplicate", "no_fix", "unmatched", "refused"
    #: Why the fix was not accepted on its own (empty when it was, or there is none).
    trust: FixTrust = TRUSTED


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

    ``window_before`` / ``window_after``: how long before a call's arrival and
    after its end an AML fix is still attached to it (30 s and 10 min by default).
    ``limits``: what makes an AML fix plausible enough to be accepted on its own.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publish: Callable[[TicketChanged], None] | None = None,
        *,
        window_before: timedelta = WINDOW_BEFORE,
        window_after: timedelta = WINDOW_AFTER,
        clock: Callable[[], datetime] | None = None,
        limits: FixLimits = FixLimits(),
    ) -> None:
        if window_before < timedelta(0) or window_after < timedelta(0):
            raise LocationError("the AML matching window must not be negative")
        self._sessions = sessions
        self._publish = publish or (lambda change: None)
        self.window_before = window_before
        self.window_after = window_after
        self.limits = limits
        self._clock = clock or _now

    def now(self) -> datetime:
        """This clock's time (what received AML messages are stamped with)."""
        return self._clock()

    # -- reads ------------------------------------------------------------------

    async def fixes_for(self, ticket_id: int) -> list[FixView]:
        """Every fix of the ticket, oldest first; ``accepted`` marks the one shown."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(LocationFixRow).where(LocationFixRow.ticket_id == ticket_id).order_by(LocationFixRow.id)
                )
            ).all()
        return [_view(row) for row in rows]

    async def accepted_fix(self, ticket_id: int) -> FixView | None:
        return next((view for view in await self.fixes_for(ticket_id) if view.accepted), None)

    async def aml_message(self, message_id: int) -> AmlMessageRow | None:
        async with self._sessions() as session:
            return await session.get(AmlMessageRow, message_id)

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
        async with self._sessions.begin() as session:
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
            change = self._audit(
                session, ticket, actor, "location_accepted", now, {"fix_id": chosen.id, **_fix_summary(_to_fix(chosen))}
            )
        log.info("location.accepted", ticket_id=chosen.ticket_id, fix_id=fix_id, actor=actor)
        if change is not None:
            self._publish(change)
        return _view(chosen)

    # -- AML --------------------------------------------------------------------

    async def store_aml_raw(
        self,
        body: bytes,
        content_type: str,
        sender: str,
        received_at: datetime,
        channel: str,
        *,
        size_bytes: int | None = None,
        authenticated_as: str | None = None,
        refused: str | None = None,
    ) -> int:
        """Step one: keep the bytes. Returns the message id. Raises only if the database does.

        ``size_bytes`` is the size of the whole body when ``body`` is only its
        beginning (an oversized request the endpoint did not read in full).
        ``authenticated_as`` is how the sender proved itself (``secret:<name>``,
        ``network:<cidr>``); ``refused`` why it was refused (the message is then
        only evidence: :meth:`process_stored` leaves it alone).
        """
        data = bytes(body)
        size = max(len(data), size_bytes or 0)
        async with self._sessions.begin() as session:
            row = AmlMessageRow(
                received_at=received_at,
                channel=channel,
                content_type=_clean_text(content_type, 200),
                sender=_clean_text(sender, 200),
                body=data[:MAX_STORED_BYTES],
                size_bytes=size,
                truncated=size > len(data[:MAX_STORED_BYTES]),
                number="",
                emergency_number="",
                fields={},
                errors=[],
                authenticated_as=_optional_text(authenticated_as, 120),
                refused=_optional_text(refused, 200),
            )
            session.add(row)
            await session.flush()
            return row.id

    async def receive_aml(
        self,
        body: bytes,
        content_type: str,
        sender: str,
        received_at: datetime,
        *,
        channel: str | None = None,
        authenticated_as: str | None = None,
    ) -> AmlReceipt:
        """Store an AML message first, then parse it and attach its fix to the matching call.

        ``channel`` is ``"http"`` or ``"sms"``; by default it is guessed from
        the body (an SMS starts with ``A"ML=``). ``sender`` is the SMS
        originating address (its number) or the HTTP peer; for the HTTP form
        the number comes from ``device_number``. ``authenticated_as`` is how
        the sender proved itself; None: it did not, and its fix is never
        accepted without an operator. Raises only when the database does; if
        that happens after the raw message was stored, the message is kept
        (unparsed) and :meth:`process_stored` can finish it later.
        """
        data = (
            bytes(body)
            if isinstance(body, bytes | bytearray | memoryview)
            else str(body).encode("utf-8", errors="replace")
        )
        message_id = await self.store_aml_raw(
            data, content_type, sender, received_at, aml_channel(data, channel), authenticated_as=authenticated_as
        )
        return await self.process_stored(message_id)

    async def process_stored(self, message_id: int) -> AmlReceipt:
        """Parse a stored AML message and attach its fix to the call it belongs to.

        A refused message is left as it is: outcome ``refused``, nothing parsed.
        """
        async with self._sessions() as session:
            stored = await session.get(AmlMessageRow, message_id)
            if stored is None:
                raise LocationError(f"no AML message {message_id}")
            data, sender = bytes(stored.body), stored.sender
            received_at, form = stored.received_at, stored.channel
            refused = stored.refused
        if refused is not None:
            return AmlReceipt(message_id, _unparsed(form, received_at, refused), None, None, "refused")
        number_hint = sender if form == "sms" else ""
        try:
            parsed = (parse_aml_sms if form == "sms" else parse_aml_http)(data, received_at, number_hint)
        except Exception as exc:  # the parser never raises; if it ever does, keep the row
            log.exception("aml.parse_failed", message_id=message_id)
            parsed = AmlMessage(
                number=canonical_number(number_hint),
                fix=None,
                fields={},
                errors=(f"parser failed: {type(exc).__name__}",),
                raw="",
                form="sms" if form == "sms" else "http",
                received_at=received_at,
            )
        async with self._sessions.begin() as session:
            row = await session.get(AmlMessageRow, message_id)
            if row is None:
                raise LocationError(f"AML message {message_id} vanished")
            _fill_parsed(row, parsed, self._clock())
            ticket = await self._match(session, parsed, received_at)
            fix_id, outcome, change, trust = None, "unmatched", None, TRUSTED
            if ticket is not None:
                row.ticket_id, row.matched_at = ticket.id, self._clock()
                fix_id, outcome, change, trust = await self._attach_aml(session, ticket, row, parsed)
        log.info(
            "aml.received",
            message_id=message_id,
            form=form,
            number=parsed.number,
            ticket_id=None if ticket is None else ticket.id,
            outcome=outcome,
            errors=len(parsed.errors),
            doubts=list(trust.codes),
        )
        if change is not None:
            self._publish(change)
        return AmlReceipt(message_id, parsed, None if ticket is None else ticket.id, fix_id, outcome, trust)

    async def attach_pending_aml(self, ticket_id: int) -> list[AmlReceipt]:
        """A call arrived (or its number became known): attach earlier unmatched AML messages."""
        receipts: list[AmlReceipt] = []
        changes: list[TicketChanged] = []
        async with self._sessions.begin() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None or not canonical_number(ticket.caller_number or ""):
                return []
            since = ticket.arrived_at - self.window_after - timedelta(hours=1)
            pending = (
                await session.scalars(
                    select(AmlMessageRow)
                    .where(
                        AmlMessageRow.ticket_id.is_(None),
                        AmlMessageRow.refused.is_(None),
                        AmlMessageRow.parsed_at.is_not(None),
                        AmlMessageRow.number == canonical_number(ticket.caller_number or ""),
                        AmlMessageRow.received_at >= since,
                    )
                    .order_by(AmlMessageRow.id)
                )
            ).all()
            ref = _ref(ticket)
            for row in pending:
                parsed = _from_row(row)
                if not self._matches(parsed, row.received_at, [ref]):
                    continue
                row.ticket_id, row.matched_at = ticket.id, self._clock()
                fix_id, outcome, change, trust = await self._attach_aml(session, ticket, row, parsed)
                receipts.append(AmlReceipt(row.id, parsed, ticket.id, fix_id, outcome, trust))
                if change is not None:
                    changes.append(change)
        for change in changes:
            self._publish(change)
        if receipts:
            log.info("aml.matched_late", ticket_id=ticket_id, messages=len(receipts))
        return receipts

    # -- internals --------------------------------------------------------------

    def _matches(self, parsed: AmlMessage, received_at: datetime, calls: Sequence[CallRef]) -> CallRef | None:
        """Match on the fix's own time first, then on when we received it
        (a handset clock may be wrong; ours is the reference)."""
        times = [t for t in (parsed.fix.time if parsed.fix else None, parsed.sent_at, received_at) if t is not None]
        for moment in dict.fromkeys(times):
            found = match_call(moment, parsed.number, calls, self.window_before, self.window_after)
            if found is not None:
                return found
        return None

    async def _match(self, session: AsyncSession, parsed: AmlMessage, received_at: datetime) -> Ticket | None:
        variants = number_variants(parsed.number)
        if not variants:
            return None
        moments = [t for t in (parsed.fix.time if parsed.fix else None, parsed.sent_at, received_at) if t is not None]
        latest = max(moments) + self.window_before
        earliest = min(moments) - self.window_after
        tickets = (
            await session.scalars(
                select(Ticket).where(
                    Ticket.caller_number.in_(variants),
                    Ticket.arrived_at <= latest,
                    or_(Ticket.ended_at.is_(None), Ticket.ended_at >= earliest),
                )
            )
        ).all()
        found = self._matches(parsed, received_at, [_ref(t) for t in tickets])
        if found is None:
            return None
        return next(t for t in tickets if t.id == found.ticket_id)

    async def _attach_aml(
        self,
        session: AsyncSession,
        ticket: Ticket,
        message: AmlMessageRow,
        parsed: AmlMessage,
    ) -> tuple[int | None, str, TicketChanged | None, FixTrust]:
        if parsed.fix is None:
            change = self._audit(
                session,
                ticket,
                AML_ACTOR,
                "aml_received",
                self._clock(),
                {"aml_message_id": message.id, "fix": None, "errors": list(parsed.errors)[:10]},
            )
            return None, "no_fix", change, TRUSTED
        trust = aml_trust(
            parsed.fix,
            authenticated=message.authenticated_as is not None,
            received_at=message.received_at,
            not_before=ticket.arrived_at - self.window_before,
            limits=self.limits,
        )
        row, outcome, change = await self._decide(
            session, ticket, parsed.fix, AML_ACTOR, aml_message_id=message.id, trust=trust
        )
        return (None if row is None else row.id), outcome, change, trust

    async def _add(self, ticket_id: int, fix: LocationFix, *, actor: str, address: str | None = None) -> FixView | None:
        async with self._sessions.begin() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                raise LocationError(f"no ticket {ticket_id}")
            row, outcome, change = await self._decide(session, ticket, fix, actor, address=address, trust=TRUSTED)
        log.info("location.fix", ticket_id=ticket_id, source=fix.source, outcome=outcome, actor=actor)
        if change is not None:
            self._publish(change)
        return None if row is None else _view(row)

    async def _decide(
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
            raw=_clean_text(fix.raw, MAX_STORED_BYTES),
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
        change = self._audit(session, ticket, actor, action, now, details)
        return row, decision.outcome, change

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

    def _audit(
        self,
        session: AsyncSession,
        ticket: Ticket | None,
        actor: str,
        action: str,
        at: datetime,
        changes: dict[str, Any],
    ) -> TicketChanged | None:
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


def locations_from_settings(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    publish: Callable[[TicketChanged], None] | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> Locations:
    """The location use cases with the ``[location]`` windows and the ``[aml]`` limits."""
    aml = settings.aml
    return Locations(
        sessions,
        publish,
        clock=clock,
        window_before=timedelta(seconds=settings.location.aml_window_before_seconds),
        window_after=timedelta(seconds=settings.location.aml_window_after_seconds),
        limits=FixLimits(
            max_accuracy_m=aml.max_accuracy_m,
            max_age=timedelta(seconds=aml.max_age_seconds),
            future_skew=timedelta(seconds=aml.future_skew_seconds),
        ),
    )


def aml_channel(body: bytes, hint: str | None = None) -> str:
    """``"sms"`` or ``"http"``: the hint when it is one of them, else guessed from the body."""
    if hint in ("http", "sms"):
        return hint
    return "sms" if _SMS_START.match(body[:64]) else "http"


def _ref(ticket: Ticket) -> CallRef:
    return CallRef(
        ticket_id=ticket.id, number=ticket.caller_number or "", arrived_at=ticket.arrived_at, ended_at=ticket.ended_at
    )


def _clean_text(text: str, limit: int) -> str:
    """Text a database column can hold: no NUL (PostgreSQL refuses it), cut at ``limit``."""
    return (text or "").replace("\x00", "\ufffd")[:limit]


def _optional_text(text: str | None, limit: int) -> str | None:
    return None if text is None else _clean_text(text, limit)


def _unparsed(form: str, received_at: datetime, refused: str) -> AmlMessage:
    """What a receipt says of a message that is not parsed (a refused sender's)."""
    return AmlMessage(
        number="",
        fix=None,
        fields={},
        errors=(f"refused: {refused}",),
        raw="",
        form="sms" if form == "sms" else "http",
        received_at=received_at,
    )


def _fill_parsed(row: AmlMessageRow, parsed: AmlMessage, now: datetime) -> None:
    row.parsed_at = now
    row.form = parsed.form
    row.number = parsed.number[:40]
    row.emergency_number = _clean_text(parsed.emergency_number, 20)
    row.fields = {_clean_text(k, 100): _clean_text(v, 1000) for k, v in parsed.fields.items()}
    row.errors = [_clean_text(e, 300) for e in parsed.errors]
    row.sent_at = parsed.sent_at
    fix = parsed.fix
    if fix is not None:
        row.latitude, row.longitude = fix.latitude, fix.longitude
        row.radius_m, row.confidence_pct = fix.radius_m, fix.confidence_pct
        row.method = (fix.method or None) and _clean_text(fix.method, 40)
        row.fix_time = fix.time


def _from_row(row: AmlMessageRow) -> AmlMessage:
    """The parsed message back from its stored fields (for late matching)."""
    fix = None
    if row.latitude is not None and row.longitude is not None and row.fix_time is not None:
        try:
            fix = LocationFix(
                source="aml",
                latitude=row.latitude,
                longitude=row.longitude,
                time=row.fix_time,
                radius_m=row.radius_m,
                confidence_pct=row.confidence_pct,
                method=row.method,
                raw=bytes(row.body).decode("utf-8", errors="replace"),
            )
        except InvalidFix:
            fix = None
    return AmlMessage(
        number=row.number,
        fix=fix,
        fields=dict(row.fields or {}),
        errors=tuple(row.errors or ()),
        raw=bytes(row.body).decode("utf-8", "replace"),
        form="sms" if row.form == "sms" else "http",
        received_at=row.received_at,
        sent_at=row.sent_at,
        emergency_number=row.emergency_number,
    )
