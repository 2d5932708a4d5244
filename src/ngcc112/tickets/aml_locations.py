"""The AML half of the location use cases: messages stored, parsed and matched to a call.

An AML message is stored *before* it is parsed: whatever arrives, the raw
bytes are in ``aml_messages`` first. A message from a refused sender stays
just that, evidence: never parsed, never matched. Any other is matched by
number and time to the ticket of a live or recent call; a message that matches
nothing is kept and matched again when a call from that number arrives
(:meth:`AmlLocations.attach_pending_aml`). Its fix becomes the ticket's position
on its own only when the ticket has none yet, the sender authenticated and the
fix is plausible (:func:`ngcc112.location.trust.aml_trust`); otherwise it
waits as a candidate and the audit entry says why. The fix is placed among the
ticket's others by the :class:`~ngcc112.tickets.locations.Locations` it holds,
in the same transaction as the message's match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ngcc112.location.aml import AmlMessage, parse_aml_http, parse_aml_sms
from ngcc112.location.matching import WINDOW_AFTER, WINDOW_BEFORE, CallRef, match_call
from ngcc112.location.numbers import canonical_number
from ngcc112.location.trust import TRUSTED, FixLimits, FixTrust, aml_trust
from ngcc112.settings import Settings
from ngcc112.tickets.aml_rows import fill_parsed, from_row, raw_row, unread
from ngcc112.tickets.location_models import AmlMessageRow
from ngcc112.tickets.locations import LocationError, Locations, audit, number_variants
from ngcc112.tickets.models import Ticket
from ngcc112.tickets.store import TicketChanged

log = structlog.get_logger(__name__)

#: The actor written in the audit trail for AML fixes.
AML_ACTOR = "aml"

_SMS_START = re.compile(rb'\s*A"?ML=')


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


def aml_channel(body: bytes, hint: str | None = None) -> str:
    """``"sms"`` or ``"http"``: the hint when it is one of them, else guessed from the body."""
    if hint in ("http", "sms"):
        return hint
    return "sms" if _SMS_START.match(body[:64]) else "http"


class AmlLocations:
    """AML use cases over the database of ``locations``, which places their fixes.

    ``window_before`` / ``window_after``: how long before a call's arrival and
    after its end an AML fix is still attached to it (30 s and 10 min by default).
    ``limits``: what makes an AML fix plausible enough to be accepted on its own.
    """

    def __init__(
        self,
        locations: Locations,
        *,
        window_before: timedelta = WINDOW_BEFORE,
        window_after: timedelta = WINDOW_AFTER,
        limits: FixLimits = FixLimits(),
    ) -> None:
        if window_before < timedelta(0) or window_after < timedelta(0):
            raise LocationError("the AML matching window must not be negative")
        self.locations = locations
        self.window_before = window_before
        self.window_after = window_after
        self.limits = limits

    async def aml_message(self, message_id: int) -> AmlMessageRow | None:
        async with self.locations.sessions() as session:
            return await session.get(AmlMessageRow, message_id)

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
        async with self.locations.sessions.begin() as session:
            row = raw_row(
                data,
                content_type,
                sender,
                received_at,
                channel,
                size=size,
                authenticated_as=authenticated_as,
                refused=refused,
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
        async with self.locations.sessions() as session:
            stored = await session.get(AmlMessageRow, message_id)
            if stored is None:
                raise LocationError(f"no AML message {message_id}")
            data, sender = bytes(stored.body), stored.sender
            received_at, form = stored.received_at, stored.channel
            refused = stored.refused
        if refused is not None:
            return AmlReceipt(message_id, unread(form, received_at, f"refused: {refused}"), None, None, "refused")
        number_hint = sender if form == "sms" else ""
        try:
            parsed = (parse_aml_sms if form == "sms" else parse_aml_http)(data, received_at, number_hint)
        except Exception as exc:  # the parser never raises; if it ever does, keep the row
            log.exception("aml.parse_failed", message_id=message_id)
            error = f"parser failed: {type(exc).__name__}"
            parsed = unread(form, received_at, error, canonical_number(number_hint))
        async with self.locations.sessions.begin() as session:
            row = await session.get(AmlMessageRow, message_id)
            if row is None:
                raise LocationError(f"AML message {message_id} vanished")
            fill_parsed(row, parsed, self.locations.now())
            ticket = await self._match(session, parsed, received_at)
            fix_id, outcome, change, trust = None, "unmatched", None, TRUSTED
            if ticket is not None:
                row.ticket_id, row.matched_at = ticket.id, self.locations.now()
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
            self.locations.publish(change)
        return AmlReceipt(message_id, parsed, None if ticket is None else ticket.id, fix_id, outcome, trust)

    async def attach_pending_aml(self, ticket_id: int) -> list[AmlReceipt]:
        """A call arrived (or its number became known): attach earlier unmatched AML messages."""
        receipts: list[AmlReceipt] = []
        changes: list[TicketChanged] = []
        async with self.locations.sessions.begin() as session:
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
                parsed = from_row(row)
                if not self._matches(parsed, row.received_at, [ref]):
                    continue
                row.ticket_id, row.matched_at = ticket.id, self.locations.now()
                fix_id, outcome, change, trust = await self._attach_aml(session, ticket, row, parsed)
                receipts.append(AmlReceipt(row.id, parsed, ticket.id, fix_id, outcome, trust))
                if change is not None:
                    changes.append(change)
        for change in changes:
            self.locations.publish(change)
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
            change = audit(
                session,
                ticket,
                AML_ACTOR,
                "aml_received",
                self.locations.now(),
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
        row, outcome, change = await self.locations.decide(
            session, ticket, parsed.fix, AML_ACTOR, aml_message_id=message.id, trust=trust
        )
        return (None if row is None else row.id), outcome, change, trust


def aml_locations_from_settings(settings: Settings, locations: Locations) -> AmlLocations:
    """The AML use cases on ``locations`` with the ``[location]`` windows and the ``[aml]`` limits."""
    aml = settings.aml
    return AmlLocations(
        locations,
        window_before=timedelta(seconds=settings.location.aml_window_before_seconds),
        window_after=timedelta(seconds=settings.location.aml_window_after_seconds),
        limits=FixLimits(
            max_accuracy_m=aml.max_accuracy_m,
            max_age=timedelta(seconds=aml.max_age_seconds),
            future_skew=timedelta(seconds=aml.future_skew_seconds),
        ),
    )


def _ref(ticket: Ticket) -> CallRef:
    return CallRef(
        ticket_id=ticket.id, number=ticket.caller_number or "", arrived_at=ticket.arrived_at, ended_at=ticket.ended_at
    )
