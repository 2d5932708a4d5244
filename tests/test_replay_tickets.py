"""Every recorded Asterisk 22 transcript, replayed over TCP into the daemon, yields the right tickets.

The expected tickets are read off the transcript by a deliberately naive
oracle (first Newchannel in from-pstn/112 per Linkedid = arrival, its
QueueCallerJoin = queued, AgentConnect = answered, last caller-side Hangup =
end), and the facts SCENARIOS.txt states are pinned by hand below.

The replay paces the events on a virtual clock that moves only once the daemon
has tracked and stored everything sent so far and finished its own resync, so
the daemon sees the same stream, interleaved the same way, on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from replay_helpers import drive_replay

from ngcc112.ami.message import parse_frame
from ngcc112.clock import VirtualClock
from ngcc112.sim.replay import AnswerBook, Transcript, TranscriptServer

#: Real seconds a replay may take before the test fails (a hang, never a slow machine).
REAL_TIMEOUT = 30.0

CALL_TRANSCRIPTS = [
    "a_call_answered_bridged", "a_local_call_answered_bridged", "b_abandon_in_queue",
    "c_ghost_call", "c_local_ghost_call", "d_actions", "e_ten_concurrent", "f_talk_detect",
    "f_talk_detect_no_stop", "f_talk_detect_silent", "f_talk_detect_sip", "g_dtmf_silent_prompt",
    "g_dtmf_silent_prompt_sip", "i_ring_no_answer", "j_priority_withdraw", "k_caller_id_variants",
    "l_geolocation", "m_ghost_in_prompt",
]


@dataclass
class Expected:
    arrived_at: datetime
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    operator: str | None = None
    ended_at: datetime | None = None


def _at(wall: float) -> datetime:
    return datetime.fromtimestamp(wall, timezone.utc)


def oracle(transcript: Transcript) -> dict[str, Expected]:
    """Linkedid → what the recording says happened to that 112 call."""
    calls: dict[str, Expected] = {}
    caller_legs: dict[str, str] = {}
    for frame in transcript.events():
        message = parse_frame(frame.raw.decode("utf-8", "replace"))
        linkedid, uniqueid = message.get("Linkedid"), message.get("Uniqueid")
        if message.name == "Newchannel" and message.get("Context") == "from-pstn" and message.get("Exten") == "112":
            calls.setdefault(linkedid, Expected(arrived_at=_at(frame.wall)))
            caller_legs[uniqueid] = linkedid
        elif linkedid in calls:
            call = calls[linkedid]
            if message.name == "QueueCallerJoin" and call.queued_at is None:
                call.queued_at = _at(frame.wall)
            elif message.name == "AgentConnect":
                call.answered_at, call.operator = _at(frame.wall), message.get("Interface")
            elif message.name == "Hangup" and uniqueid in caller_legs:
                call.ended_at = _at(frame.wall)
    return calls


def assert_call_facts(ticket, want: Expected) -> None:
    """The ticket holds what the recording's own events say happened to its call."""
    assert ticket.arrived_at == want.arrived_at
    assert ticket.queued_at == want.queued_at
    assert ticket.answered_at == want.answered_at
    assert ticket.operator_interface == want.operator
    assert ticket.ended_at == want.ended_at
    assert ticket.abandoned == (want.answered_at is None)
    assert ticket.state == ("in_call" if want.answered_at else "new")


async def replay(transcripts_dir, start_daemon, *names: str):
    transcripts = [Transcript.load(transcripts_dir / name) for name in names]
    clock = VirtualClock()
    server = TranscriptServer(transcripts, AnswerBook(transcripts_dir), clock=clock)
    await server.start()
    running = await start_daemon(server.port)
    daemon = running.daemon
    await drive_replay(server, daemon, running.hub.subscribe(), clock, timeout=REAL_TIMEOUT)
    tickets = {t.linkedid: t for t in await running.store.recent(100)}
    await server.stop()
    return transcripts, tickets, running


@pytest.mark.parametrize("name", CALL_TRANSCRIPTS)
async def test_every_recorded_call_gets_exactly_its_ticket(name, transcripts_dir, start_daemon):
    (transcript,), tickets, _ = await replay(transcripts_dir, start_daemon, name)
    expected = oracle(transcript)
    assert set(tickets) == set(expected)
    for linkedid, want in expected.items():
        assert_call_facts(tickets[linkedid], want)


def _by_number(tickets):
    return {t.caller_number: t for t in tickets.values()}


async def test_answered_call_carries_caller_id_and_operator(transcripts_dir, start_daemon):
    _, tickets, _ = await replay(transcripts_dir, start_daemon, "a_call_answered_bridged")
    (ticket,) = tickets.values()
    assert (ticket.caller_number, ticket.caller_name) == ("5550101", "Anrufer Eins")
    assert ticket.operator_interface == "PJSIP/op1"
    assert ticket.hangup_cause == 16
    assert 0 < ticket.waited_seconds < 1


async def test_local_originated_call_learns_its_caller_id_after_arrival(transcripts_dir, start_daemon):
    _, tickets, _ = await replay(transcripts_dir, start_daemon, "c_local_ghost_call")
    (ticket,) = tickets.values()
    assert (ticket.caller_number, ticket.caller_name) == ("5550304", "Ghost Lokal")
    assert ticket.abandoned


async def test_ghost_hanging_up_in_the_prompt_still_has_a_ticket(transcripts_dir, start_daemon):
    _, tickets, _ = await replay(transcripts_dir, start_daemon, "m_ghost_in_prompt")
    (ticket,) = tickets.values()
    assert ticket.caller_number == "5551301"
    assert ticket.queued_at is None and ticket.abandoned and ticket.ended_at is not None


async def test_ten_concurrent_calls_make_ten_tickets_all_answered(transcripts_dir, start_daemon):
    _, tickets, _ = await replay(transcripts_dir, start_daemon, "e_ten_concurrent")
    numbers = sorted(t.caller_number for t in tickets.values())
    assert numbers == sorted(f"55510{n}" for n in range(1, 11))
    assert all(t.answered_at and not t.abandoned for t in tickets.values())


async def test_ring_no_answer_moves_to_the_next_operator(transcripts_dir, start_daemon):
    _, tickets, _ = await replay(transcripts_dir, start_daemon, "i_ring_no_answer")
    (ticket,) = tickets.values()
    assert ticket.operator_interface == "PJSIP/op2"
    assert (ticket.answered_at - ticket.ringing_at).total_seconds() == pytest.approx(17.5, abs=0.1)


async def test_withdrawn_caller_is_marked_and_others_answered_in_priority_order(transcripts_dir, start_daemon):
    _, tickets, _ = await replay(transcripts_dir, start_daemon, "j_priority_withdraw")
    by_number = _by_number(tickets)
    assert by_number["5551002"].withdrawn and by_number["5551002"].abandoned
    assert by_number["5551003"].answered_at < by_number["5551001"].answered_at


async def test_caller_id_variants_are_kept_as_asterisk_reports_them(transcripts_dir, start_daemon):
    _, tickets, _ = await replay(transcripts_dir, start_daemon, "k_caller_id_variants")
    by_number = _by_number(tickets)
    assert by_number["anonymous"].caller_presentation == "prohib_not_screened"
    assert by_number["5551101"].caller_name == "Dewi Lestari"
    assert by_number["5551101"].caller_presentation == "prohib_not_screened"
    assert by_number["5551102"].caller_name == "Budi Śantoso"
    assert len(by_number["5551103"].caller_name.encode()) == 79
    assert "+6281234567890" in by_number and "0215551234" in by_number
    assert by_number[None].caller_name is None
    assert by_number[None].caller_presentation == "unavailable"


async def test_talk_detect_and_silent_prompt_digit_reach_the_ticket(transcripts_dir, start_daemon):
    _, tickets, _ = await replay(transcripts_dir, start_daemon, "f_talk_detect")
    assert next(iter(tickets.values())).caller_talked_at is not None
    _, tickets, _ = await replay(transcripts_dir, start_daemon, "f_talk_detect_silent")
    assert next(iter(tickets.values())).caller_talked_at is None
    _, tickets, _ = await replay(transcripts_dir, start_daemon, "g_dtmf_silent_prompt_sip")
    assert next(iter(tickets.values())).silent_digit == "5"


async def test_sip_geolocation_variables_are_stored(transcripts_dir, start_daemon):
    _, tickets, _ = await replay(transcripts_dir, start_daemon, "l_geolocation")
    (ticket,) = tickets.values()
    assert ticket.variables["NGCC_GEO_LOCATION"] == 'shape="Circle",crs="2d",pos="-6.2000 106.8166",radius="50"'
    assert ticket.variables["NGCC_GEO_METHOD"] == "GPS"


async def test_asterisk_restart_ends_the_call_and_the_daemon_reconnects(transcripts_dir, start_daemon):
    _, tickets, running = await replay(transcripts_dir, start_daemon,
                                       "h_asterisk_restart", "h_asterisk_restart_after")
    (ticket,) = tickets.values()
    assert ticket.caller_number == "5550801"
    assert ticket.abandoned and ticket.hangup_cause == 0
    assert running.daemon.link.status.session == 2 and running.daemon.link.connected
