"""Report figures against hand-computed fixtures: tickets with known timestamps, written straight to the DB.

The nine calls of 26-27 November 2026 (UTC), in seconds after each one's arrival
(q queued, a answered, c classified, e escalated, d dispatched, r reported, x closed):

  T1 26th 08:00:00  q3 a8  c50  e90  d150 r1950 x1970  normal  PJSIP/op1
  T2 26th 08:30:00  q3 a14 c94                   x124  ghost   PJSIP/op1
  T3 26th 09:10:00  q3 a19 c49  e119 d179 r779  x839   normal  PJSIP/op2  (times only in audit rows)
  T4 26th 23:59:00  q3, abandoned at 25
  T5 27th 00:10:00  abandoned at 2, in the prompt (never queued)
  T6 27th 10:00:00  q3 a12 c42                   x62   prank   PJSIP/op2
  T7 27th 10:20:00  q3 a9  c69  e129 d139       x500   normal  PJSIP/op1  (closed with an override)
  T8 27th 11:00:00  q3, abandoned at 12
  T9 27th 23:00:00  q3 a5  c35                   x45   information, operator unknown

plus one call just before and one just after the range.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from ngcc112.reports import ReportError, build_report, run_report
from ngcc112.reports.csv import DERIVED, parse_report, report_to_csv
from ngcc112.reports.model import AnswerShare, Group, StageStats
from ngcc112.settings import Settings
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.sla import SlaTargets

D1, D2 = date(2026, 11, 26), date(2026, 11, 27)


def utc(day: date, hms: str) -> datetime:
    h, m, s = map(int, hms.split(":"))
    return datetime(day.year, day.month, day.day, h, m, s, tzinfo=timezone.utc)


CALLS = [
    # name, arrival, offsets, verdict, operator, columns: write classified/closed on the ticket row too
    ("T1", utc(D1, "08:00:00"), dict(q=3, a=8, c=50, e=90, d=150, r=1950, x=1970), "normal", "PJSIP/op1", True),
    ("T2", utc(D1, "08:30:00"), dict(q=3, a=14, c=94, x=124), "ghost", "PJSIP/op1", True),
    ("T3", utc(D1, "09:10:00"), dict(q=3, a=19, c=49, e=119, d=179, r=779, x=839), "normal", "PJSIP/op2", False),
    ("T4", utc(D1, "23:59:00"), dict(q=3, ab=25), None, None, True),
    ("T5", utc(D2, "00:10:00"), dict(ab=2), None, None, True),
    ("T6", utc(D2, "10:00:00"), dict(q=3, a=12, c=42, x=62), "prank", "PJSIP/op2", True),
    ("T7", utc(D2, "10:20:00"), dict(q=3, a=9, c=69, e=129, d=139, x=500), "normal", "PJSIP/op1", True),
    ("T8", utc(D2, "11:00:00"), dict(q=3, ab=12), None, None, True),
    ("T9", utc(D2, "23:00:00"), dict(q=3, a=5, c=35, x=45), "information", None, True),
    ("before", utc(D1, "00:00:00") - timedelta(seconds=1), dict(q=3, a=4, c=30, x=40), "ghost", "PJSIP/op1", True),
    ("after", utc(D2, "00:00:00") + timedelta(days=1), dict(q=3, a=4, c=30, x=40), "ghost", "PJSIP/op1", True),
]
STATE_OF = {"c": "classified", "e": "escalated", "d": "dispatched", "r": "reported", "x": "closed"}


async def write_calls(sessions) -> None:
    async with sessions.begin() as session:
        for name, arrived, o, verdict, operator, columns in CALLS:
            t = lambda key: None if key not in o else arrived + timedelta(seconds=o[key])  # noqa: E731
            state = "closed" if "x" in o else "new"
            ticket = Ticket(linkedid=name, state=state, arrived_at=arrived, queued_at=t("q"), answered_at=t("a"),
                            operator_interface=operator, verdict=verdict, abandoned="ab" in o,
                            abandoned_at=t("ab"), ended_at=t("ab") or t("x"),
                            classified_at=t("c") if columns else None, closed_at=t("x") if columns else None,
                            variables={}, score_reasons=[], intake={}, withdrawn=False, ended_unobserved=False)
            session.add(ticket)
            await session.flush()
            session.add(AuditEntry(ticket_id=ticket.id, at=arrived, actor="asterisk", action="call_arrived",
                                   from_state=None, to_state="new", changes={}))
            previous = "in_call" if "a" in o else "new"
            for key in ("c", "e", "d", "r", "x"):
                if key in o:
                    session.add(AuditEntry(ticket_id=ticket.id, at=t(key), actor="someone", action=STATE_OF[key],
                                           from_state=previous, to_state=STATE_OF[key], changes={}))
                    previous = STATE_OF[key]
            if "d" in o:  # a later change that stays dispatched must not move the dispatch moment
                session.add(AuditEntry(ticket_id=ticket.id, at=t("d") + timedelta(seconds=5), actor="polisi1",
                                       action="acknowledge", from_state="dispatched", to_state="dispatched",
                                       changes={}))


@pytest.fixture
async def sessions(database_url):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    await write_calls(sessions)
    yield sessions
    await engine.dispose()


def stage(name, target, measured, met, total, longest):
    return StageStats(name, target, measured, met, float(total), None if longest is None else float(longest))


ALL_STAGES_D1 = (
    stage("queue_wait", None, 3, 0, 5 + 11 + 16, 16),
    stage("intake", 60.0, 3, 2, 42 + 80 + 30, 80),
    stage("classification", 60.0, 3, 2, 40 + 30 + 70, 70),
    stage("dispatch", None, 2, 0, 60 + 60, 60),
    stage("field_handling", None, 2, 0, 1800 + 600, 1800),
    stage("closing", 30.0, 2, 1, 20 + 60, 60),
)
ALL_STAGES_D2 = (
    stage("queue_wait", None, 3, 0, 9 + 6 + 2, 9),
    stage("intake", 60.0, 3, 3, 30 + 60 + 30, 60),
    stage("classification", 60.0, 3, 3, 20 + 60 + 10, 60),
    stage("dispatch", None, 1, 0, 10, 10),
    stage("field_handling", None, 0, 0, 0, None),
    stage("closing", 30.0, 0, 0, 0, None),
)


async def test_the_report_matches_the_hand_computed_figures(sessions):
    report = await build_report(sessions, D1, D2)
    assert (report.calls, report.answered, report.abandoned, report.abandoned_before_queue) == (9, 6, 3, 1)
    assert report.abandoned_share == 3 / 9
    hours = dict.fromkeys(range(24), 0) | {0: 1, 8: 2, 9: 1, 10: 2, 11: 1, 23: 2}
    assert report.calls_per_hour == tuple(hours.values())
    assert report.verdicts == (("normal", 3), ("ghost", 1), ("prank", 1), ("information", 1), ("unclassified", 3))
    assert report.verdict_share("normal") == 3 / 9
    assert report.answer == (AnswerShare(10.0, 3, 8), AnswerShare(15.0, 5, 7), AnswerShare(20.0, 6, 7))
    assert report.answer[1].share == 5 / 7
    assert report.stages == (
        stage("queue_wait", None, 6, 0, 49, 16),
        stage("intake", 60.0, 6, 5, 272, 80),
        stage("classification", 60.0, 6, 5, 230, 70),
        stage("dispatch", None, 3, 0, 130, 60),
        stage("field_handling", None, 2, 0, 2400, 1800),
        stage("closing", 30.0, 2, 1, 80, 60),
    )
    intake = report.stages[1]
    assert (intake.compliance, intake.mean_seconds) == (5 / 6, 272 / 6)
    assert report.stages[3].compliance is None, "no target: timed, not judged"

    assert report.per_operator == (
        Group("(unknown)", 1, 1, 0, (stage("intake", 60.0, 1, 1, 30, 30),
                                     stage("classification", 60.0, 1, 1, 10, 10)), ()),
        Group("PJSIP/op1", 3, 3, 0, (stage("intake", 60.0, 3, 2, 182, 80),
                                     stage("classification", 60.0, 3, 3, 130, 60)), ()),
        Group("PJSIP/op2", 2, 2, 0, (stage("intake", 60.0, 2, 2, 60, 30),
                                     stage("classification", 60.0, 2, 1, 90, 70)), ()),
    )
    assert report.per_day == (
        Group("2026-11-26", 4, 3, 1, ALL_STAGES_D1,
              (AnswerShare(10.0, 1, 4), AnswerShare(15.0, 2, 4), AnswerShare(20.0, 3, 4))),
        Group("2026-11-27", 5, 3, 2, ALL_STAGES_D2,
              (AnswerShare(10.0, 2, 4), AnswerShare(15.0, 3, 3), AnswerShare(20.0, 3, 3))),
    )


async def test_days_and_hours_are_local_to_the_zone_asked_for(sessions):
    # Asia/Jakarta is UTC+7: the 27th there runs from 26th 17:00 to 27th 17:00 UTC: T4, T5, T6, T7, T8.
    report = await build_report(sessions, D2, D2, tz="Asia/Jakarta")
    assert (report.calls, report.answered, report.abandoned) == (5, 2, 3)
    hours = dict.fromkeys(range(24), 0) | {6: 1, 7: 1, 17: 2, 18: 1}
    assert report.calls_per_hour == tuple(hours.values())
    assert [g.key for g in report.per_day] == ["2026-11-27"]
    assert report.timezone == "Asia/Jakarta"


async def test_other_targets_change_the_verdicts_not_the_times(sessions):
    strict = SlaTargets(intake=30, classification=30, closing=20, answer_thresholds=(5, 10))
    report = await build_report(sessions, D1, D2, targets=strict)
    stages = {s.stage: s for s in report.stages}
    assert (stages["intake"].met, stages["intake"].total_seconds) == (3, 272)  # 30, 30, 30
    assert stages["classification"].met == 3  # 30, 20, 10
    assert stages["closing"].met == 1
    assert report.answer == (AnswerShare(5.0, 1, 8), AnswerShare(10.0, 3, 8))


async def test_an_empty_range_still_has_every_day_and_hour(sessions):
    report = await build_report(sessions, date(2026, 1, 1), date(2026, 1, 3))
    assert report.calls == 0 and report.calls_per_hour == (0,) * 24
    assert [g.key for g in report.per_day] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert all(a.share is None for a in report.answer)
    assert report.per_operator == () and report.abandoned_share is None


async def test_a_bad_range_or_zone_is_refused(sessions):
    with pytest.raises(ReportError, match="before it starts"):
        await build_report(sessions, D2, D1)
    with pytest.raises(ReportError, match="unknown time zone"):
        await build_report(sessions, D1, D2, tz="Mars/Olympus")


async def test_the_csv_parses_back_to_the_same_numbers(sessions):
    report = await build_report(sessions, D1, D2, tz="Asia/Jakarta")
    text = report_to_csv(report)
    assert parse_report(text) == report
    assert report_to_csv(parse_report(text)) == text

    # The derived cells a spreadsheet sees are exactly the report's shares and means.
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(text)))
    derived = [r for r in rows if r["metric"] in DERIVED]
    assert derived
    for row in derived:
        value = None if row["value"] == "" else float(row["value"])
        if row["section"] == "summary":
            assert value == report.abandoned_share
        elif row["section"] == "verdict":
            assert value == report.verdict_share(row["item"])
        elif row["section"] == "answer":
            assert value == next(a for a in report.answer if a.threshold == float(row["item"])).share
        elif row["section"] == "stage":
            s = next(s for s in report.stages if s.stage == row["item"])
            assert value == (s.mean_seconds if row["metric"] == "mean_seconds" else s.compliance)


async def test_the_csv_round_trip_keeps_awkward_floats_and_keys(sessions):
    report = await build_report(sessions, D1, D2)
    odd = replace(report, stages=(StageStats("queue_wait", 60.5, 3, 1, 0.1 + 0.2, 1e-7),) + report.stages[1:],
                  per_operator=(Group('PJSIP/op,"1"', 1, 1, 0, (), ()), Group("=HYPERLINK(1)", 1, 1, 0, (), ()),
                                Group("'quoted", 1, 1, 0, (), ())))
    text = report_to_csv(odd)
    assert parse_report(text) == odd
    assert "operator,'=HYPERLINK(1),,calls,1" in text, "no formula reaches a spreadsheet"


async def test_the_csv_carries_the_site_filter_and_the_per_site_table(sessions):
    report = await build_report(sessions, D1, D2)
    with_sites = replace(report, site="kota", per_site=(Group("kota", 7, 5, 2, (), ()), Group("kab", 3, 3, 0, (), ())))
    text = report_to_csv(with_sites)
    assert "meta,,,site,kota" in text and "site,kab,,calls,3" in text
    back = parse_report(text)
    assert back.site == "kota" and back.per_site == with_sites.per_site
    assert parse_report(report_to_csv(report)).site is None


def test_text_that_is_not_a_report_is_refused():
    from ngcc112.reports.csv import HEADER, ReportCsvError

    for text in ("", "a,b\n", ",".join(HEADER) + "\nmeta,,,start\n", ",".join(HEADER) + "\n"):
        with pytest.raises(ReportCsvError):
            parse_report(text)


async def test_run_report_gives_text_or_csv_for_the_configured_database(database_url, sessions):
    settings = Settings(database_url=database_url)
    text = await run_report(settings, D1, D2, csv=False)
    assert "ngcc112 report 2026-11-26 .. 2026-11-27 (days and hours in UTC)" in text
    assert "calls      9" in text and "abandoned  3 (33.3%), 1 before reaching the queue" in text
    assert "71.4% within 15s (5/7)" in text
    assert "intake" in text and "83.3%" in text  # 5/6 within 60 s
    assert "PJSIP/op1" in text and "2026-11-27" in text
    csv_text = await run_report(settings, D1, D2, csv=True)
    assert parse_report(csv_text) == await build_report(sessions, D1, D2)
