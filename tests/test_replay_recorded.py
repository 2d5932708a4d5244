"""The real Asterisk 22.10.1 with the shipped asterisk-config/, replayed into the daemon.

tests/data/transcripts/r_*.jsonl are what the integration suite's own AMI client got
from the real Asterisk (see that folder's README.md). Each is replayed over TCP into
the daemon, paced on a virtual clock that moves only once the daemon has tracked and
stored everything sent so far (as tests/test_replay_tickets.py does for
../shared/ami-transcripts, whose oracle and driver this reuses), and the daemon's
tickets must be exactly the ones the recording's own events describe: arrival,
queue, answer, end, the operator who answered, abandoned and withdrawn, and the
caller's name as the caller sent it (AMI's C escaping and PJSIP's kept SIP
quoted-pairs undone, worked out here independently of the daemon's decoder).

The events were recorded with ``timestampevents = yes``: they carry their own
``Timestamp``, which the replay keeps (and adds no second one). r_asterisk_restart
holds two connections (Asterisk closed the first when it restarted): the replay
serves them as two, the daemon reconnects between them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from replay_helpers import drive_replay
from test_replay_tickets import REAL_TIMEOUT, Expected, assert_call_facts, oracle

from ngcc112.ami.message import parse_frame
from ngcc112.clock import VirtualClock
from ngcc112.sim.replay import AnswerBook, Transcript, TranscriptServer
from ngcc112.sim.driver import Driver

RECORDED = Path(__file__).resolve().parent / "data" / "transcripts"
ALL = sorted(p.stem for p in RECORDED.glob("r_*.jsonl"))
#: C escapes AMI writes (ast_escape_c) and the characters they stand for.
C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
             "\\": "\\", "'": "'", '"': '"', "?": "?"}


def c_unescape(text: str) -> str:
    out, chars = [], iter(text)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            out.append(C_ESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(char)
    return "".join(out)


def sip_unquote(text: str) -> str:
    out, chars = [], iter(text)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def sent_name(shown: str, channel: str) -> str | None:
    """The name the caller sent, from what a channel event shows."""
    if shown in ("", "<unknown>"):
        return None
    name = c_unescape(shown)
    return sip_unquote(name) if channel.startswith("PJSIP/") else name


@dataclass
class Caller:
    """What the recording says about a call beyond the base oracle."""

    number: str | None
    name: str | None
    withdrawn: bool = False


def callers(transcripts: list[Transcript]) -> dict[str, Caller]:
    """Linkedid → the caller's ID (from its Newchannel) and whether it was withdrawn."""
    out: dict[str, Caller] = {}
    legs: dict[str, str] = {}
    for transcript in transcripts:
        for frame in transcript.events():
            message = parse_frame(frame.raw.decode("utf-8", "replace"))
            linkedid = message.get("Linkedid")
            if (message.name == "Newchannel" and message.get("Context") == "from-pstn"
                    and message.get("Exten") == "112"):
                number = message.get("CallerIDNum")
                out.setdefault(linkedid, Caller(
                    number=None if number in ("", "<unknown>") else number,
                    name=sent_name(message.get("CallerIDName"), message.get("Channel"))))
                legs[message.get("Uniqueid")] = linkedid
            elif (message.name == "VarSet" and message.get("Variable") == "QUEUESTATUS"
                  and message.get("Value") == "WITHDRAW" and message.get("Uniqueid") in legs):
                out[legs[message.get("Uniqueid")]].withdrawn = True
    return out


_TIMESTAMP = re.compile(rb"\r\nTimestamp: (\d+\.\d+)\r\n")


def as_asterisk_stamped_them(transcript: Transcript) -> Transcript:
    """The transcript with each event's time the ``Timestamp`` Asterisk wrote on it (the
    time the daemon goes by), not the time the recording client read it."""
    frames = []
    for frame in transcript.frames:
        found = _TIMESTAMP.search(frame.raw)
        frames.append(dataclasses.replace(frame, wall=float(found[1])) if found else frame)
    return dataclasses.replace(transcript, frames=tuple(frames))


def expected(transcripts: list[Transcript]) -> dict[str, Expected]:
    """test_replay_tickets' oracle, on Asterisk's own timestamps."""
    want: dict[str, Expected] = {}
    for transcript in transcripts:
        want.update(oracle(as_asterisk_stamped_them(transcript)))
    return want


async def replay(start_daemon, shared: Path, name: str):
    transcripts = Transcript.load_all(RECORDED / name)
    clock = VirtualClock()
    server = TranscriptServer(transcripts, AnswerBook(shared), clock=clock)
    await server.start()
    running = await start_daemon(server.port)
    daemon = running.daemon
    await drive_replay(server, daemon, running.hub.subscribe(), clock, timeout=REAL_TIMEOUT)
    tickets = {t.linkedid: t for t in await running.store.recent(100)}
    await server.stop()
    return transcripts, tickets, running, server


def test_every_recording_is_replayed_here() -> None:
    assert len(ALL) == 15
    for name in ALL:
        assert (RECORDED / f"{name}.ami").exists(), name


async def test_the_replay_sends_the_recorded_bytes_with_no_second_timestamp(transcripts_dir) -> None:
    """Recorded with timestampevents=yes: every event goes out as Asterisk sent it, those
    with their own Timestamp and those without (a login's FullyBooted) alike."""
    (transcript,) = Transcript.load_all(RECORDED / "r_dtmf5")
    assert transcript.stamped
    clock = VirtualClock()
    server = TranscriptServer([transcript], AnswerBook(transcripts_dir), clock=clock)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"Action: Login\r\nActionID: l1\r\nUsername: ngcc\r\nSecret: ngcc-secret\r\n\r\n")
    received = bytearray()

    async def read() -> None:
        while data := await reader.read(65536):
            received.extend(data)

    reading = asyncio.create_task(read())
    driver = Driver(clock)
    sent_events = b"".join(f.raw for f in transcript.events())
    driver.watch(quiet=lambda: received.endswith(transcript.events()[server.events_sent - 1].raw)
                 if server.events_sent else True, probe=lambda: (server.events_sent, len(received)))
    await driver.run_until(server.finished.is_set, timeout=REAL_TIMEOUT)
    await driver.settle(REAL_TIMEOUT)
    writer.close()
    reading.cancel()
    await server.stop()
    assert bytes(received).endswith(sent_events)
    events = [block for block in bytes(received).split(b"\r\n\r\n") if block.startswith(b"Event: ")]
    assert all(block.count(b"\r\nTimestamp: ") <= 1 for block in events)
    assert sum(b"\r\nTimestamp: " in block for block in events) == len(events) - 1  # not FullyBooted


@pytest.mark.parametrize("name", ALL)
async def test_every_recorded_call_gets_exactly_its_ticket(name, transcripts_dir, start_daemon):
    transcripts, tickets, running, server = await replay(start_daemon, transcripts_dir, name)
    want = expected(transcripts)
    ids = callers(transcripts)
    assert want, "the recording has no 112 call"
    assert set(tickets) == set(want)
    for linkedid, call in want.items():
        ticket = tickets[linkedid]
        assert_call_facts(ticket, call)
        assert (ticket.caller_number, ticket.caller_name) == (ids[linkedid].number, ids[linkedid].name)
        assert ticket.withdrawn == ids[linkedid].withdrawn
    assert running.daemon.link.status.session == len(transcripts)
    assert server.events_sent == sum(len(t.events()) for t in transcripts)


# -- the facts each recording is about, pinned by hand ---------------------------------


def _by_number(tickets):
    return {t.caller_number: t for t in tickets.values()}


async def test_quotes_and_backslash_come_out_as_the_caller_sent_them(transcripts_dir, start_daemon):
    _, tickets, _, _ = await replay(start_daemon, transcripts_dir, "r_quotes_backslash")
    (ticket,) = tickets.values()
    assert (ticket.caller_number, ticket.caller_name) == ("5551104", 'Pak "Budi" \\ RT 05')


async def test_caller_id_variants(transcripts_dir, start_daemon):
    _, tickets, _, _ = await replay(start_daemon, transcripts_dir, "r_caller_id_variants")
    by_number = _by_number(tickets)
    assert {n: t.caller_name for n, t in by_number.items()} == {
        "anonymous": "Anonymous", "5551101": "Dewi Lestari", "5551102": "Budi Śantoso",
        "5551104": 'Pak "Budi" \\ RT 05', "+6281234567890": "Rina Seluler",
        "0215551234": "Kantor Jakarta", None: None}
    assert by_number["anonymous"].caller_presentation == "prohib_not_screened"
    assert by_number["5551101"].caller_presentation == "prohib_not_screened"
    assert by_number[None].caller_presentation == "unavailable"
    assert all(t.abandoned and t.queued_at is None for t in tickets.values())  # all in the prompt


async def test_a_long_name_is_cut_to_79_bytes(transcripts_dir, start_daemon):
    _, tickets, _, _ = await replay(start_daemon, transcripts_dir, "r_long_name")
    (ticket,) = tickets.values()
    assert ticket.caller_name == "".join(f"Name-{i:04d}|" for i in range(10, 81, 10))[:-1]
    assert len(ticket.caller_name.encode()) == 79


@pytest.mark.parametrize("name", ["r_answered", "r_daemon_stopped"])
async def test_answered_by_op1(name, transcripts_dir, start_daemon):
    _, tickets, _, _ = await replay(start_daemon, transcripts_dir, name)
    (ticket,) = tickets.values()
    assert ticket.operator_interface == "PJSIP/op1" and not ticket.abandoned
    assert ticket.hangup_cause == 16


async def test_the_60s_overflow_answered_by_a_supervisor_is_not_abandoned(transcripts_dir, start_daemon):
    """The operators' 60 s end in QueueCallerAbandon, yet the caller still waits (in the
    supervisors' queue) and op3, a static member there, answers."""
    transcripts, tickets, _, _ = await replay(start_daemon, transcripts_dir, "r_overflow_60s")
    (ticket,) = tickets.values()
    assert (ticket.caller_number, ticket.caller_name) == ("5554401", "Lama Menunggu")
    assert ticket.operator_interface == "PJSIP/op3"
    assert not ticket.abandoned and not ticket.withdrawn
    abandons = [f for t in transcripts for f in t.events() if f.name == "QueueCallerAbandon"]
    assert len(abandons) == 1
    assert (ticket.answered_at - ticket.queued_at).total_seconds() > 60


async def test_withdrawn_caller_waits_on_with_the_supervisors(transcripts_dir, start_daemon):
    _, tickets, _, _ = await replay(start_daemon, transcripts_dir, "r_withdraw_to_supervisors")
    (ticket,) = tickets.values()
    assert ticket.withdrawn
    assert ticket.abandoned and ticket.answered_at is None  # it hung up in the supervisors' queue
    assert ticket.ended_at is not None


async def test_the_caller_who_pressed_5_is_answered_first(transcripts_dir, start_daemon):
    _, tickets, _, _ = await replay(start_daemon, transcripts_dir, "r_priority_raise_digit5")
    by_number = _by_number(tickets)
    assert by_number["5555102"].silent_digit == "5"
    assert by_number["5555102"].operator_interface == "PJSIP/op1"
    assert by_number["5555101"].abandoned and by_number["5555101"].answered_at is None


async def test_ring_no_answer_moves_on_to_op2(transcripts_dir, start_daemon):
    _, tickets, _, _ = await replay(start_daemon, transcripts_dir, "r_ring_no_answer")
    (ticket,) = tickets.values()
    assert ticket.operator_interface == "PJSIP/op2"


async def test_ten_concurrent_callers_ten_tickets(transcripts_dir, start_daemon):
    _, tickets, _, _ = await replay(start_daemon, transcripts_dir, "r_ten_concurrent")
    assert sorted(t.caller_number for t in tickets.values()) == sorted(
        [f"55510{n}" for n in range(1, 10)] + ["5551010"])
    assert all(t.abandoned and t.queued_at for t in tickets.values())


async def test_asterisk_restart_two_connections_two_calls(transcripts_dir, start_daemon):
    transcripts, tickets, running, _ = await replay(start_daemon, transcripts_dir, "r_asterisk_restart")
    assert [t.name for t in transcripts] == ["r_asterisk_restart#1", "r_asterisk_restart#2"]
    by_number = _by_number(tickets)
    assert by_number["5554301"].caller_name == "Sebelum Restart"
    assert by_number["5554301"].abandoned and by_number["5554301"].hangup_cause == 0
    assert by_number["5554302"].caller_name == "Sesudah Restart"
    assert by_number["5554302"].ended_at is not None
    assert running.daemon.link.status.session == 2 and running.daemon.link.connected


async def test_the_silent_digit_reaches_the_ticket(transcripts_dir, start_daemon):
    _, tickets, _, _ = await replay(start_daemon, transcripts_dir, "r_dtmf5")
    (ticket,) = tickets.values()
    assert ticket.silent_digit == "5"


async def test_the_pidf_lo_location_is_stored(transcripts_dir, start_daemon):
    _, tickets, _, _ = await replay(start_daemon, transcripts_dir, "r_pidf_lo")
    (ticket,) = tickets.values()
    assert ticket.variables["NGCC_GEO_LOCATION"] == 'shape="Circle",crs="2d",pos="-6.2000 106.8166",radius="50"'
    assert ticket.variables["NGCC_GEO_METHOD"] == "GPS"
