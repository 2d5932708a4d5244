"""SQLAlchemy 2 models: tickets, their audit trail, users.

Times are stored as timezone-aware UTC on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, TypeDecorator, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """A ``DateTime`` that always comes back aware, in UTC (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC times")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The call's Linkedid (prefixed with the server name when configured): one ticket per call.
    linkedid: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    state: Mapped[str] = mapped_column(String(20), default="new", index=True)
    #: The site whose Asterisk took the call (``[cluster] site``; ``main`` on a single node).
    site: Mapped[str] = mapped_column(String(32), default="main", server_default="main", index=True)

    caller_number: Mapped[str | None] = mapped_column(String(80))
    caller_name: Mapped[str | None] = mapped_column(String(160))
    caller_presentation: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(200))
    exten: Mapped[str | None] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(40))
    #: NGCC_* channel variables as the dialplan set them (location, prompt digit …).
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    arrived_at: Mapped[datetime] = mapped_column(index=True)
    queued_at: Mapped[datetime | None]
    queue: Mapped[str | None] = mapped_column(String(80))
    queue_position: Mapped[int | None]
    ringing_at: Mapped[datetime | None]
    ringing_interface: Mapped[str | None] = mapped_column(String(120))
    answered_at: Mapped[datetime | None]
    operator_interface: Mapped[str | None] = mapped_column(String(120))
    operator_name: Mapped[str | None] = mapped_column(String(120))
    waited_seconds: Mapped[float | None] = mapped_column(Float)
    ended_at: Mapped[datetime | None]
    hangup_cause: Mapped[int | None]
    hangup_cause_text: Mapped[str | None] = mapped_column(String(80))
    #: Ended before an operator answered: a callback candidate.
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    abandoned_at: Mapped[datetime | None]
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The end was inferred by a resync: it happened while the AMI link was down.
    ended_unobserved: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Opened after the call, from Asterisk's own records (CEL): the daemon never saw it live.
    recovered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    caller_talked_at: Mapped[datetime | None]
    silent_digit: Mapped[str | None] = mapped_column(String(4))
    silent_digit_at: Mapped[datetime | None]

    verdict: Mapped[str | None] = mapped_column(String(20), index=True)
    classified_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    ghost_score: Mapped[float | None] = mapped_column(Float)
    prank_score: Mapped[float | None] = mapped_column(Float)
    score_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    intake: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    audit: Mapped[list[AuditEntry]] = relationship(
        back_populates="ticket", order_by="AuditEntry.id", cascade="all, delete-orphan"
    )


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="audit")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(160), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    #: The operator's softphone as a queue member interface, e.g. ``PJSIP/op1``.
    interface: Mapped[str | None] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The panel language this person chose ("id", "en"); None: the center's default.
    language: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeDraft(Base):
    """What an operator typed into a ticket's intake form and has not submitted yet.

    Saved as typed (the panel autosaves), unchecked: a half-written phone number or a
    latitude of "-6," is kept exactly, so nothing typed is ever lost to a reload, a new
    call or a validation error. Submitting the intake deletes the ticket's drafts.
    """

    __tablename__ = "intake_drafts"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: Field name -> text as typed (only the intake form's fields).
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PanelSession(Base):
    """A login on the panel: the cookie carries its id, the database decides whether it still counts.

    Logout, a password change and an admin's disable set ``revoked_at`` at once, so a
    copied cookie stops working the moment its session is ended.
    """

    __tablename__ = "panel_sessions"

    #: SHA-256 (hex) of the random session id the cookie carries; the id itself is never stored.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: Why it ended: "logout", "password", "disabled", "admin"...
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    #: The client address at login (as the panel saw it, proxies resolved).
    address: Mapped[str] = mapped_column(String(64), default="")
