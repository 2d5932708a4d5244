"""Triage end to end: simulated calls through the AMI link, tracker, tickets and triage."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ngcc112.routing.policy import Policy
from ngcc112.sim import CallScript
from ngcc112.sim.calls import TalkBurst
from ngcc112.tickets.models import AuditEntry, Ticket


async def _ticket(pipe, number: str) -> Ticket:
    async with pipe.services.sessions() as session:
        tickets = (await session.scalars(
            select(Ticket).where(Ticket.caller_number == number).order_by(Ticket.id))).all()
    assert tickets, f"no ticket for {number}"
    return tickets[-1]


async def _add_past(pipe, number: str, verdicts: list[str], *, minutes_ago: float = 60) -> None:
    async with pipe.services.sessions.begin() as session:
        now = pipe.triage.now()
        for i, verdict in enumerate(verdicts):
            arrived = now - timedelta(minutes=minutes_ago + 10 * i)
            session.add(Ticket(linkedid=f"past-{number}-{i}", state="closed", caller_number=number,
                               arrived_at=arrived, answered_at=arrived + timedelta(seconds=5),
                               ended_at=arrived + timedelta(seconds=40), verdict=verdict,
                               variables={}, score_reasons=[], intake={}, abandoned=False,
                               withdrawn=False, ended_unobserved=False))


async def test_a_silent_ghost_gets_a_high_ghost_score_with_no_speech_reasons(pipeline):
    pipe = await pipeline()
    await pipe.sim.place_call(CallScript.ghost(number="081211110001", after=4.0))
    await pipe.settle()
    ticket = await _ticket(pipe, "081211110001")
    policy = Policy()
    assert ticket.ghost_score is not None and ticket.ghost_score >= policy.ghost_threshold
    codes = {r["code"] for r in ticket.score_reasons if r["score"] == "ghost"}
    assert "no_speech" in codes
    no_speech = next(r for r in ticket.score_reasons if r["code"] == "no_speech")
    assert no_speech["en"].startswith("no speech in") and no_speech["id"].startswith("tidak ada suara")
    assert ticket.prank_score == 0.0
    async with pipe.services.sessions() as session:
        scored = (await session.scalars(select(AuditEntry).where(
            AuditEntry.ticket_id == ticket.id, AuditEntry.action == "scored"))).all()
    assert scored and scored[-1].actor == "triage"
    assert scored[-1].changes["ghost_score"] == ticket.ghost_score


async def test_a_caller_silent_in_the_queue_is_scored_by_the_no_speech_timer_before_the_end(pipeline):
    pipe = await pipeline()
    await pipe.sim.place_call(CallScript.ghost(number="081211110002", after=30.0))
    await pipe.settle()
    moments = [(moment, a) for _cid, moment, a in pipe.assessments]
    live = [a for moment, a in moments if moment == "queued" and "no_speech" in a.ghost.codes]
    assert live, "the timer should score the silent caller while it still waits"
    ticket = await _ticket(pipe, "081211110002")
    assert "no_speech" in {r["code"] for r in ticket.score_reasons}


async def test_a_ghost_hanging_up_in_the_prompt_is_scored_though_it_never_queued(pipeline):
    pipe = await pipeline()
    await pipe.sim.place_call(CallScript.ghost_in_prompt(number="081211110003"))
    await pipe.settle()
    ticket = await _ticket(pipe, "081211110003")
    codes = {r["code"] for r in ticket.score_reasons}
    assert {"prompt_hangup", "short_call"} <= codes
    assert ticket.ghost_score >= Policy().ghost_threshold
    assert pipe.actions() == []  # never queued: nothing to steer


async def test_a_caller_pressing_5_is_raised_and_never_lowered(pipeline):
    pipe = await pipeline()
    placed = await pipe.sim.place_call(CallScript.silent_pressing(number="081211110004", after=14.0))
    await pipe.settle()
    changes = pipe.actions("QueueChangePriorityCaller")
    assert changes, "the silent caller's priority should have been raised"
    assert all(h["Caller"] == placed.channel for h in changes)
    priorities = [int(h["Priority"]) for h in changes]
    assert priorities[0] == Policy().priority_raise
    assert all(p >= Policy().priority_raise for p in priorities)
    ticket = await _ticket(pipe, "081211110004")
    assert "silent_digit" in {r["code"] for r in ticket.score_reasons}
    real = [r for r in ticket.score_reasons if r["score"] == "real"]
    assert real and real[0]["id"].startswith("tombol 5 ditekan")
    assert ticket.ghost_score < Policy().ghost_threshold


async def test_a_repeat_prank_number_is_lowered_in_the_queue(pipeline):
    pipe = await pipeline()
    number = "081299990077"
    await _add_past(pipe, number, ["prank", "prank", "prank"])
    placed = await pipe.sim.place_call(CallScript(number=number, talk=(TalkBurst(at=4.5, seconds=2.0),),
                                                  hangup_after=12.0))
    await pipe.settle()
    changes = pipe.actions("QueueChangePriorityCaller")
    assert [int(h["Priority"]) for h in changes] == [Policy().priority_lower]
    assert changes[0]["Caller"] == placed.channel
    assert changes[0]["Queue"] == "ngcc112-operators"
    ticket = await _ticket(pipe, number)
    assert ticket.prank_score >= Policy().prank_threshold
    prank = [r for r in ticket.score_reasons if r["score"] == "prank"]
    assert prank[0]["code"] == "prank_verdicts" and prank[0]["en"] == "3 earlier prank verdicts"


async def test_a_genuine_repeat_caller_is_never_lowered(pipeline):
    pipe = await pipeline()
    number = "081233334444"
    await _add_past(pipe, number, ["normal", "normal"], minutes_ago=30)
    await pipe.sim.place_call(CallScript(number=number, talk=(TalkBurst(at=4.0, seconds=3.0),),
                                         hangup_after=12.0))
    await pipe.settle()
    assert all(int(h["Priority"]) >= 0 for h in pipe.actions("QueueChangePriorityCaller"))
    ticket = await _ticket(pipe, number)
    assert "genuine_history" in {r["code"] for r in ticket.score_reasons}


async def test_triage_only_ever_sends_queue_priority_changes_across_every_scenario(pipeline):
    pipe = await pipeline()
    repeat = "081299990088"
    await _add_past(pipe, repeat, ["prank", "prank", "prank", "ghost"])
    scripts = [
        CallScript.answered(number="081255550001", hangup_after=20.0),
        CallScript.abandon_in_queue(number="081255550002"),
        CallScript.ghost(number="081255550003", after=5.0),
        CallScript.ghost(number="081255550004", after=15.0),
        CallScript.ghost_in_prompt(number="081255550005"),
        CallScript.silent_pressing(number="081255550006", after=60.0),
        CallScript.with_location(number="081255550007"),
        CallScript(number="081255550008", presentation="withheld",
                   talk=(TalkBurst(at=4.0, seconds=2.0),), hangup_after=10.0),
        CallScript(number="", presentation="anonymous", hangup_after=9.0),
        CallScript(number="081255550010", kind="Local", hangup_after=9.0),
        CallScript(number=repeat, hangup_after=60.0),
        *CallScript.prank_repeats(3, number="081255550011"),
    ]
    for script in scripts:
        await pipe.sim.place_call(script)
    # The operator logs in once triage has steered the queue.
    await pipe.until(lambda: pipe.actions("QueueChangePriorityCaller"))
    pipe.add_operator("op1", talk_seconds=6.0)
    await pipe.settle()
    names = {h.get("Action") for h in pipe.actions()}
    assert names <= {"QueueChangePriorityCaller"}, names
    assert {name for name, _headers in pipe.triage.sent} <= {"QueueChangePriorityCaller"}
    assert pipe.actions("QueueChangePriorityCaller"), "some calls should have been re-prioritised"
    async with pipe.services.sessions() as session:
        tickets = (await session.scalars(select(Ticket))).all()
    live = [t for t in tickets if not t.linkedid.startswith("past-")]
    assert len(live) == len(scripts)
    assert all(t.ghost_score is not None and t.prank_score is not None for t in live)
