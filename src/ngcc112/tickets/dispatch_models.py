"""SQLAlchemy models for the dispatcher's side: agencies, their users, dispatches, the admin log.

An :class:`Agency` is an OPD (regional government unit: Damkar, PSC 119, BPBD …)
or an Instansi (police, PLN, PDAM, Basarnas …) the dispatcher forwards
emergencies to. An agency user (``User.role == "agency"``) belongs to one
agency through :class:`AgencyMember`; the users table itself is not touched.
A :class:`Dispatch` is one ticket forwarded to one agency, with the agency's
progress and its field report. Changes to tickets and dispatches are audited in
``audit_log`` (per ticket); changes the admin makes to agencies and accounts,
which belong to no ticket, are audited in ``admin_log``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ngcc112.tickets.models import Base, Ticket, User, utcnow


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Short, stable identifier (``damkar``, ``psc119`` …); never changes once created.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    #: ``OPD`` (regional government unit) or ``Instansi`` (other agency).
    kind: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AgencyMember(Base):
    """An agency user's agency: one agency per user."""

    __tablename__ = "agency_members"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship()
    agency: Mapped[Agency] = relationship()


class Dispatch(Base):
    """One ticket forwarded to one agency: its progress and its field report."""

    __tablename__ = "dispatches"
    __table_args__ = (UniqueConstraint("ticket_id", "agency_id", name="uq_dispatches_ticket_agency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: sent → acknowledged → en_route → on_scene → handled | cannot_handle (see dispatch.py).
    status: Mapped[str] = mapped_column(String(20), default="sent", index=True)
    instructions: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime]
    sent_by: Mapped[str] = mapped_column(String(120))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    en_route_at: Mapped[datetime | None]
    on_scene_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: Why the agency cannot handle it (required for ``cannot_handle``).
    reason: Mapped[str | None] = mapped_column(Text)
    status_at: Mapped[datetime]
    report: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime | None]
    reported_by: Mapped[str | None] = mapped_column(String(120))

    ticket: Mapped[Ticket] = relationship()
    agency: Mapped[Agency] = relationship()


class AdminLogEntry(Base):
    """An admin's change to an agency or an account (ticket changes go to ``audit_log``)."""

    __tablename__ = "admin_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    #: ``agency`` or ``user``, and that row's id.
    subject: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
