"""Build a :class:`~ngcc112.reports.model.Report` from the database over a date range.

The moments a ticket entered escalated, dispatched and reported come from its
audit rows (the first row into that state): the audit log is written in the
same transaction as every state change, so it is the record of when each
happened. Classified and closed use the ticket's own columns when set.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.reports.model import VERDICT_KEYS, AnswerShare, Group, Report, StageStats
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.sla import DEFAULT_TARGETS, STAGES, Milestones, SlaTargets, Stage, answered_within, stage_seconds

#: The stages an operator is judged on (the rest are the dispatcher's and the agencies').
OPERATOR_STAGES: tuple[Stage, ...] = (Stage.INTAKE, Stage.CLASSIFICATION)
UNKNOWN_OPERATOR = "(unknown)"
_AUDITED_STATES = ("classified", "escalated", "dispatched", "reported", "closed")
#: The days a report may cover: no call is older, and local midnights stay far from the
#: calendar's ends (``date.max`` + 1 day overflows, year 1 has no UTC before it).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
#: What an IANA time zone name looks like ("America/Argentina/ComodRivadavia" is the longest).
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,3}")
_ZONE_NAME_MAX = 64


class ReportError(ValueError):
    """The report cannot be made as asked (bad range, unknown time zone)."""


def zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return timezone.utc
    if len(name) > _ZONE_NAME_MAX or not _ZONE_NAME.fullmatch(name):  # never a path for zoneinfo to walk
        raise ReportError(f"unknown time zone {name[:_ZONE_NAME_MAX]!r} (use an IANA name such as Asia/Jakarta)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(f"unknown time zone {name!r} (use an IANA name such as Asia/Jakarta)") from None


def day_bounds(start: date, end: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """From local midnight of ``start`` to local midnight after ``end``, in UTC."""
    if end < start:
        raise ReportError(f"the range ends ({end}) before it starts ({start})")
    if start < FIRST_DAY or end > LAST_DAY:
        raise ReportError(f"a report covers days from {FIRST_DAY} to {LAST_DAY}")
    lower = datetime.combine(start, time(0), tz).astimezone(timezone.utc)
    upper = datetime.combine(end + timedelta(days=1), time(0), tz).astimezone(timezone.utc)
    return lower, upper


def stage_stats(stage: Stage, targets: SlaTargets, milestones: Iterable[Milestones]) -> StageStats:
    target = targets.target(stage)
    measured = met = 0
    total, longest = 0.0, None
    for m in milestones:
        seconds = stage_seconds(m, stage)
        if seconds is None:
            continue
        measured += 1
        total += seconds
        longest = seconds if longest is None else max(longest, seconds)
        if target is not None and seconds <= target:
            met += 1
    return StageStats(stage.value, target, measured, met, total, longest)


def answer_shares(targets: SlaTargets, milestones: Sequence[Milestones]) -> tuple[AnswerShare, ...]:
    shares = []
    for threshold in targets.answer_thresholds:
        verdicts = [answered_within(m, threshold) for m in milestones]
        shares.append(AnswerShare(threshold, sum(v is True for v in verdicts), sum(v is not None for v in verdicts)))
    return tuple(shares)


def _group(
    key: str, items: Sequence[Milestones], stages: Sequence[Stage], targets: SlaTargets, *, answer: bool
) -> Group:
    return Group(
        key=key,
        calls=len(items),
        answered=sum(m.answered_at is not None for m in items),
        abandoned=sum(m.abandoned and m.answered_at is None for m in items),
        stages=tuple(stage_stats(s, targets, items) for s in stages),
        answer=answer_shares(targets, items) if answer else (),
    )


async def build_report(
    sessions: async_sessionmaker[AsyncSession],
    start: date,
    end: date,
    *,
    tz: str = "UTC",
    targets: SlaTargets = DEFAULT_TARGETS,
    site: str | None = None,
) -> Report:
    """Every call that arrived from ``start`` to ``end`` (both included, local days in ``tz``);
    only ``site``'s when given."""
    local = zone(tz)
    lower, upper = day_bounds(start, end, local)
    in_range = (Ticket.arrived_at >= lower, Ticket.arrived_at < upper, *([] if site is None else [Ticket.site == site]))
    async with sessions() as session:
        tickets = (
            await session.execute(
                select(
                    Ticket.id,
                    Ticket.arrived_at,
                    Ticket.queued_at,
                    Ticket.answered_at,
                    Ticket.classified_at,
                    Ticket.closed_at,
                    Ticket.abandoned,
                    Ticket.abandoned_at,
                    Ticket.ended_at,
                    Ticket.verdict,
                    Ticket.operator_interface,
                    Ticket.site,
                )
                .where(*in_range)
                .order_by(Ticket.arrived_at, Ticket.id)
            )
        ).all()
        entered = (
            await session.execute(
                select(AuditEntry.ticket_id, AuditEntry.to_state, func.min(AuditEntry.at))
                .join(Ticket, Ticket.id == AuditEntry.ticket_id)
                .where(
                    *in_range,
                    AuditEntry.to_state.in_(_AUDITED_STATES),
                    or_(AuditEntry.from_state.is_(None), AuditEntry.from_state != AuditEntry.to_state),
                )
                .group_by(AuditEntry.ticket_id, AuditEntry.to_state)
            )
        ).all()
    moments: dict[int, dict[str, datetime]] = defaultdict(dict)
    for ticket_id, state, at in entered:
        if state is not None:
            moments[ticket_id][state] = at

    milestones: list[Milestones] = []
    hours = [0] * 24
    verdicts = dict.fromkeys(VERDICT_KEYS, 0)
    by_operator: dict[str, list[Milestones]] = defaultdict(list)
    by_day: dict[date, list[Milestones]] = defaultdict(list)
    by_site: dict[str, list[Milestones]] = defaultdict(list)
    before_queue = 0
    for row in tickets:
        seen = moments.get(row.id, {})
        m = Milestones(
            arrived_at=row.arrived_at,
            queued_at=row.queued_at,
            answered_at=row.answered_at,
            classified_at=row.classified_at or seen.get("classified"),
            escalated_at=seen.get("escalated"),
            dispatched_at=seen.get("dispatched"),
            reported_at=seen.get("reported"),
            closed_at=row.closed_at or seen.get("closed"),
            abandoned=bool(row.abandoned),
            abandoned_at=row.abandoned_at or row.ended_at,
        )
        milestones.append(m)
        arrived = row.arrived_at.astimezone(local)
        hours[arrived.hour] += 1
        by_day[arrived.date()].append(m)
        by_site[row.site].append(m)
        verdicts[row.verdict if row.verdict in verdicts else "unclassified"] += 1
        if m.answered_at is not None:
            by_operator[row.operator_interface or UNKNOWN_OPERATOR].append(m)
        elif m.abandoned and row.queued_at is None:
            before_queue += 1

    day, days = start, []
    while day <= end:
        days.append(_group(day.isoformat(), by_day.get(day, []), STAGES, targets, answer=True))
        day += timedelta(days=1)
    return Report(
        start=start,
        end=end,
        timezone=tz,
        calls=len(milestones),
        answered=sum(m.answered_at is not None for m in milestones),
        abandoned=sum(m.abandoned and m.answered_at is None for m in milestones),
        abandoned_before_queue=before_queue,
        calls_per_hour=tuple(hours),
        verdicts=tuple(verdicts.items()),
        answer=answer_shares(targets, milestones),
        stages=tuple(stage_stats(s, targets, milestones) for s in STAGES),
        per_operator=tuple(
            _group(key, items, OPERATOR_STAGES, targets, answer=False) for key, items in sorted(by_operator.items())
        ),
        per_day=tuple(days),
        site=site,
        per_site=tuple(
            _group(key, items, OPERATOR_STAGES, targets, answer=True) for key, items in sorted(by_site.items())
        ),
    )
