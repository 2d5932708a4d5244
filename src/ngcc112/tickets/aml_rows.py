"""An AML message's row in ``aml_messages``: made from the bytes received, filled from
their parse, read back for late matching. Pure functions over the ORM row, no session."""

from __future__ import annotations

from datetime import datetime

from ngcc112.location.aml import AmlMessage
from ngcc112.location.fix import InvalidFix, LocationFix
from ngcc112.tickets.location_models import AmlMessageRow
from ngcc112.tickets.locations import MAX_STORED_BYTES, clean_text


def raw_row(
    data: bytes,
    content_type: str,
    sender: str,
    received_at: datetime,
    channel: str,
    *,
    size: int,
    authenticated_as: str | None,
    refused: str | None,
) -> AmlMessageRow:
    """The row of a message not parsed yet: its bytes (cut at :data:`MAX_STORED_BYTES`) and
    where they came from; ``size`` is the whole body's."""
    body = data[:MAX_STORED_BYTES]
    return AmlMessageRow(
        received_at=received_at,
        channel=channel,
        content_type=clean_text(content_type, 200),
        sender=clean_text(sender, 200),
        body=body,
        size_bytes=size,
        truncated=size > len(body),
        number="",
        emergency_number="",
        fields={},
        errors=[],
        authenticated_as=_optional_text(authenticated_as, 120),
        refused=_optional_text(refused, 200),
    )


def unread(form: str, received_at: datetime, error: str, number: str = "") -> AmlMessage:
    """A message with nothing read from it (a refused sender's; one the parser failed on):
    no fix, ``error`` why, and the ``number`` known from elsewhere."""
    return AmlMessage(
        number=number,
        fix=None,
        fields={},
        errors=(error,),
        raw="",
        form="sms" if form == "sms" else "http",
        received_at=received_at,
    )


def fill_parsed(row: AmlMessageRow, parsed: AmlMessage, now: datetime) -> None:
    """Write the parse onto the stored row, each text cut to its column."""
    row.parsed_at = now
    row.form = parsed.form
    row.number = parsed.number[:40]
    row.emergency_number = clean_text(parsed.emergency_number, 20)
    row.fields = {clean_text(k, 100): clean_text(v, 1000) for k, v in parsed.fields.items()}
    row.errors = [clean_text(e, 300) for e in parsed.errors]
    row.sent_at = parsed.sent_at
    fix = parsed.fix
    if fix is not None:
        row.latitude, row.longitude = fix.latitude, fix.longitude
        row.radius_m, row.confidence_pct = fix.radius_m, fix.confidence_pct
        row.method = (fix.method or None) and clean_text(fix.method, 40)
        row.fix_time = fix.time


def from_row(row: AmlMessageRow) -> AmlMessage:
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


def _optional_text(text: str | None, limit: int) -> str | None:
    return None if text is None else clean_text(text, limit)
