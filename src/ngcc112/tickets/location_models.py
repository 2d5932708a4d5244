"""SQLAlchemy models for where a caller is and for the misuse list.

* ``location_fixes``: every position a ticket got (SIP Geolocation, AML,
  typed in by an operator), kept forever; at most one per ticket is the
  accepted one, the other automatic ones wait as candidates one click away.
* ``aml_messages``: every Advanced Mobile Location message received, stored
  before it is parsed (raw bytes, then the parsed fields and the problems
  found), with the ticket it was matched to, if any.
* ``blocklist``: a supervisor's note that a number misuses 112. It never
  refuses a call: it is one more piece of prank evidence for the score.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ngcc112.tickets.models import Base, utcnow


class LocationFixRow(Base):
    __tablename__ = "location_fixes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    #: "sip", "aml" or "manual" (:data:`ngcc112.location.fix.FIX_SOURCES`).
    source: Mapped[str] = mapped_column(String(10))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[float | None] = mapped_column(Float)
    confidence_pct: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str | None] = mapped_column(String(40))
    #: What the operator typed for a manual fix (street, landmark).
    address: Mapped[str | None] = mapped_column(Text)
    #: When the position was determined (the fix's own time).
    time: Mapped[datetime]
    #: The text it was parsed from (NGCC_GEO_* variables, the AML message).
    raw: Mapped[str] = mapped_column(Text, default="")
    aml_message_id: Mapped[int | None] = mapped_column(ForeignKey("aml_messages.id", ondelete="SET NULL"), index=True)
    #: The position the ticket shows. At most one accepted fix per ticket.
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    accepted_by: Mapped[str | None] = mapped_column(String(120))
    accepted_at: Mapped[datetime | None]
    #: A manual fix replaced by a later manual one: kept, but no longer offered.
    superseded_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AmlMessageRow(Base):
    __tablename__ = "aml_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    #: "http" (Android ELS form) or "sms" (the SMS gateway).
    channel: Mapped[str] = mapped_column(String(10))
    content_type: Mapped[str] = mapped_column(String(200), default="")
    #: Who delivered it: the SMS originating address, the HTTP peer.
    sender: Mapped[str] = mapped_column(String(200), default="")
    #: How the sender proved itself: ``secret:<name>`` (a configured sender's secret),
    #: ``network:<cidr>`` (an allow-listed network); None when it did not.
    authenticated_as: Mapped[str | None] = mapped_column(String(120))
    #: Why the message was refused (kept as evidence, never parsed or matched); None when taken.
    refused: Mapped[str | None] = mapped_column(String(200))
    #: The bytes received, exactly (cut at ``body_limit`` when larger).
    body: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int] = mapped_column(Integer)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    # parsed (filled right after the raw message is safely stored)
    parsed_at: Mapped[datetime | None]
    form: Mapped[str | None] = mapped_column(String(10))
    #: The device's number, canonical (``+62…``); "" when unknown.
    number: Mapped[str] = mapped_column(String(40), default="", index=True)
    emergency_number: Mapped[str] = mapped_column(String(20), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime | None]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[float | None] = mapped_column(Float)
    confidence_pct: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str | None] = mapped_column(String(40))
    fix_time: Mapped[datetime | None]
    # matching
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    matched_at: Mapped[datetime | None]


class BlocklistRow(Base):
    __tablename__ = "blocklist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Canonical number (``+62…``), as :func:`ngcc112.location.numbers.canonical_number` gives.
    number: Mapped[str] = mapped_column(String(40), index=True)
    reason: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(120))
    added_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    #: Ended early by a supervisor (then ``expires_at`` is set to that moment too).
    lifted_by: Mapped[str | None] = mapped_column(String(120))
    lifted_at: Mapped[datetime | None]
